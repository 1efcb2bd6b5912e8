package bench

import (
	"strings"

	"github.com/prometheus/procfs"
)

// readMachineProc fills in the CPU model and the kernel from /proc.
func readMachineProc(m *Machine) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return
	}
	if model := cpuModel(fs); model != "" {
		m.CPU = model
	}
	typ, err1 := fs.SysctlStrings("kernel.ostype")
	rel, err2 := fs.SysctlStrings("kernel.osrelease")
	if err1 == nil && err2 == nil {
		m.Kernel = strings.Join(append(typ, rel...), " ")
	}
}

// cpuModel returns the first CPU's model name in fs's cpuinfo, or "".
func cpuModel(fs procfs.FS) string {
	cpus, err := fs.CPUInfo()
	if err != nil || len(cpus) == 0 {
		return ""
	}
	return cpus[0].ModelName
}
