//go:build unix

package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// notifyReload delivers SIGHUP, which makes serve reload its TLS
// certificate, on ch. It reports whether the system has such a signal.
func notifyReload(ch chan<- os.Signal) bool {
	signal.Notify(ch, syscall.SIGHUP)
	return true
}

// brokenPipe reports whether err is a write to a pipe whose reader went
// away: the player on watch's stdout quit.
func brokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE)
}
