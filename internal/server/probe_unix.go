//go:build unix && !aix

package server

import (
	"io"

	"golang.org/x/sys/unix"
)

// canProbe: a socket can be read without blocking here.
const canProbe = true

// maxProbeReads bounds the reads of one probe, so that a peer that keeps
// sending costs little; a close behind its bytes is seen at a later probe.
const maxProbeReads = 16

// probeFD reads the socket fd without blocking and sets s.perr. It runs
// under RawConn.Control, which keeps fd open meanwhile.
func (s *tcpSink) probeFD(fd uintptr) {
	for range maxProbeReads {
		n, _, err := unix.Recvfrom(int(fd), s.scratch[:], unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN || err == unix.EWOULDBLOCK:
			return // still there, with nothing to say
		case err != nil:
			s.perr = err // ECONNRESET, ETIMEDOUT: gone
			return
		case n == 0:
			s.perr = io.EOF
			return
		}
	}
}
