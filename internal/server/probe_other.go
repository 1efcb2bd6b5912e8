//go:build !unix || aix

package server

// canProbe: no non-blocking socket read here; a hung-up idle watcher is
// noticed when bytes are next written to it.
const canProbe = false

func (s *tcpSink) probeFD(uintptr) {}
