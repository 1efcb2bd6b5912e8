//go:build unix

package httpapi

import (
	"os"
	"syscall"
)

// pauseProcess stops p until resumeProcess, as a stalled encoder would.
func pauseProcess(p *os.Process) error { return p.Signal(syscall.SIGSTOP) }

func resumeProcess(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
