//go:build !linux

package server

// canWriteDirect: no non-blocking writev here; every watcher writes from
// its own goroutine.
const canWriteDirect = false

func (s *tcpSink) writeFD(uintptr) bool { return true }
