//go:build !unix && !windows

package main

import (
	"errors"
	"os"
	"syscall"
)

// notifyReload does nothing: this system has no SIGHUP.
func notifyReload(chan<- os.Signal) bool { return false }

// brokenPipe reports whether err is a write to a pipe whose reader went
// away.
func brokenPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }
