package bench

import "syscall"

// subprocessAttr puts a subprocess in its own process group, so that a
// Ctrl-C meant for the bench does not stop it mid-run (the bench stops
// it), and has the kernel send it SIGTERM if the bench dies.
func subprocessAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
