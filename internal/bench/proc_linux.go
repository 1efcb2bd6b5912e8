package bench

import "syscall"

// childAttr puts the child server in its own process group, so that a
// Ctrl-C meant for the bench does not stop the server mid-run (the bench
// stops it), and has the kernel send it SIGTERM if the bench dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
