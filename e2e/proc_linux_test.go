package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the child server die with the test process, so a test
// binary killed by its timeout leaves no server behind.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
