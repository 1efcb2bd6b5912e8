//go:build unix

package main

import (
	"os"
	"syscall"
)

// pollableStdin returns stdin in a form whose reads a deadline can
// interrupt, so that a broadcast the server ended, or a signal, does not
// wait for the next byte of an idle pipe. Go polls only descriptors in
// non-blocking mode; stdin usually is not. Pipes and sockets are switched
// (restore undoes it at exit, for whoever shares the pipe next); terminals
// and files are left as they are.
func pollableStdin() (f *os.File, restore func()) {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return os.Stdin, func() {}
	}
	fd := int(os.Stdin.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		return os.Stdin, func() {}
	}
	return os.NewFile(uintptr(fd), "/dev/stdin"), func() { _ = syscall.SetNonblock(fd, false) }
}
