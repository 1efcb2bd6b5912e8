package server

import (
	"net"
	"syscall"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// A watcher sends nothing after its handshake, and while it has nothing to
// receive (a silent channel, a wait for a keyframe) the server neither
// reads nor writes its socket: a client that hung up then would stay in
// CLOSE-WAIT, with its descriptor and goroutine, until the channel ends.
// So at each of the hub's idle ticks (hub.ErrIdle) the watcher's own
// goroutine probes its socket without blocking: no goroutine and no timer
// per watcher.

// watcherIdleCheck is how often a watcher with nothing to write checks
// that its peer is still there: the hub's idle tick.
const watcherIdleCheck = 400 * time.Millisecond

// Prober is a Sink that can tell, without blocking, whether its peer has
// hung up.
type Prober interface {
	// Probe returns nil while the peer is there, and an error once it
	// has gone: io.EOF after a close, the socket's error (ECONNRESET)
	// after a reset.
	Probe() error
}

// probe reports whether sink's peer has gone, when sink can tell.
func probe(sink Sink) error {
	if p, ok := sink.(Prober); ok {
		return p.Probe()
	}
	return nil
}

// buffersWriter is a Sink that writes a batch itself: one that wraps a TCP
// connection would otherwise hide it from net.Buffers, which uses writev
// only on the connection itself.
type buffersWriter interface {
	WriteBuffers(bufs *net.Buffers) (int64, error)
}

// writeBatch writes bufs to sink, with one writev on a TCP connection.
func writeBatch(sink Sink, bufs *net.Buffers) (int64, error) {
	if w, ok := sink.(buffersWriter); ok {
		return w.WriteBuffers(bufs)
	}
	return bufs.WriteTo(sink)
}

// tcpSink is a TCP watcher's Sink: the connection the protocol runs over
// (plain, or TLS), which it writes to, and the TCP socket beneath, which
// Probe reads. Its probe state is allocated once per watcher, so that a
// probe allocates nothing.
type tcpSink struct {
	net.Conn
	rc      syscall.RawConn // the TCP socket; nil: no probe
	probeFn func(fd uintptr)
	perr    error     // probeFn's result
	scratch [256]byte // what a misbehaving peer sent, discarded

	// Direct writes (hub.DirectWriter), from the channel's writers: nil
	// writeFn when nc is not the TCP socket itself (TLS).
	writeFn func(fd uintptr) bool
	wbufs   [][]byte // what writeFn writes
	wn      int      // what it wrote
}

// newTCPSink returns the Sink of a watcher connected over nc, which runs
// over the TCP connection raw.
func newTCPSink(nc, raw net.Conn) *tcpSink {
	s := &tcpSink{Conn: nc}
	if sc, ok := raw.(syscall.Conn); ok && canProbe {
		if rc, err := sc.SyscallConn(); err == nil {
			s.rc = rc
			s.probeFn = s.probeFD
		}
	}
	if s.rc != nil && nc == raw && canWriteDirect {
		s.writeFn = s.writeFD
	}
	return s
}

// directWriter returns the sink as a hub.DirectWriter, or nil when it cannot
// be written without blocking.
func (s *tcpSink) directWriter() hub.DirectWriter {
	if s.writeFn == nil {
		return nil
	}
	return s
}

// TryWrite writes bufs with one writev that does not block and returns how
// many bytes the socket took (hub.DirectWriter). A past write deadline (an
// eviction) or a closed connection takes none.
func (s *tcpSink) TryWrite(bufs [][]byte) int {
	s.wbufs, s.wn = bufs, 0
	err := s.rc.Write(s.writeFn)
	s.wbufs = nil
	if err != nil {
		return 0
	}
	return s.wn
}

// WriteBuffers writes bufs with one writev when the connection is plain TCP.
func (s *tcpSink) WriteBuffers(bufs *net.Buffers) (int64, error) {
	return bufs.WriteTo(s.Conn)
}

// Probe reads, without blocking, what the peer sent since its handshake
// and discards it (a watcher has nothing to say). It reports io.EOF once
// the peer closed, the socket's error once it was reset, and nil while
// nothing is there to read.
func (s *tcpSink) Probe() error {
	if s.rc == nil {
		return nil
	}
	s.perr = nil
	if err := s.rc.Control(s.probeFn); err != nil {
		return err
	}
	return s.perr
}
