//go:build windows

package main

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// notifyReload does nothing: Windows has no SIGHUP. A renewed TLS
// certificate takes a restart of the service there.
func notifyReload(chan<- os.Signal) bool { return false }

// brokenPipe reports whether err is a write to a pipe whose reader went
// away: the player on watch's stdout quit. Windows says so with its own
// error numbers.
func brokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, windows.ERROR_BROKEN_PIPE) || errors.Is(err, windows.ERROR_NO_DATA)
}
