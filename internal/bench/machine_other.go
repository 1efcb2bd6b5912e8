//go:build !linux

package bench

// readMachineProc has no /proc to read here.
func readMachineProc(*Machine) {}
