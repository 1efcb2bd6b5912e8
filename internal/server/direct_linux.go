//go:build linux

package server

import "golang.org/x/sys/unix"

// canWriteDirect: a socket can be written without blocking here.
const canWriteDirect = true

// writeFD writes s.wbufs to the socket fd with one writev that never
// blocks, and sets s.wn. It runs under RawConn.Write, which keeps fd open
// and serialises it with the watcher's own writes.
func (s *tcpSink) writeFD(fd uintptr) bool {
	for {
		n, err := unix.Writev(int(fd), s.wbufs)
		if err == unix.EINTR {
			continue
		}
		// EAGAIN (full) or a failure: the watcher's goroutine takes over
		// and its own write finds out which.
		s.wn = max(n, 0)
		return true
	}
}
