package bench

import "runtime"

// Machine describes where the suite ran.
type Machine struct {
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	// Kernel is what "uname -sr" prints, read from /proc/sys/kernel.
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

// readMachine describes this machine; what it cannot read says unknown.
func readMachine() Machine {
	m := Machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), Kernel: runtime.GOOS,
		Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	readMachineProc(&m)
	return m
}
