package bench

import (
	"context"
	"crypto/tls"
	"net"
	"sync"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

// slot holds a connection that one goroutine uses and another may have to
// close to unblock it. Once closed, a slot closes whatever is put in it, so
// a connection dialed during an abort does not outlive it.
type slot struct {
	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// set stores c, or closes it and returns false if the slot is closed.
func (s *slot) set(c net.Conn) bool {
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.conn = c
	}
	s.mu.Unlock()
	if closed {
		abort(c)
	}
	return !closed
}

// close closes the connection, now and forever.
func (s *slot) close() {
	s.mu.Lock()
	c := s.conn
	s.conn, s.closed = nil, true
	s.mu.Unlock()
	if c != nil {
		abort(c)
	}
}

// abort closes c's TCP connection with a reset: unread bytes are discarded
// at once and no TIME_WAIT socket is left behind, which matters after
// 10,000 watchers. Under TLS it closes the TCP connection directly, as the
// client does on cancel: a TLS close would first send close_notify, which
// waits for a peer that may not read.
func abort(c net.Conn) {
	if tc := tcpOf(c); tc != nil {
		_ = tc.SetLinger(0) // best effort; Close follows either way
		_ = tc.Close()      // nothing to report: the bench is done with it
		return
	}
	_ = c.Close()
}

// tcpOf returns the TCP connection under c, through a client connection
// and TLS, or nil if there is none.
func tcpOf(c net.Conn) *net.TCPConn {
	for {
		switch x := c.(type) {
		case *net.TCPConn:
			return x
		case *client.Conn:
			c = x.Conn
		case *tls.Conn:
			c = x.NetConn()
		default:
			return nil
		}
	}
}

var dialer = net.Dialer{Timeout: ioTimeout}

// dialPlain dials addr without a handshake (raw mode, the baseline) and
// puts the connection in s.
func dialPlain(ctx context.Context, s *slot, addr string) (net.Conn, error) {
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if !s.set(c) {
		return nil, net.ErrClosed
	}
	return c, nil
}

// dialHandshake connects to the relay through the client package, with
// TLS if the run has it, sends the handshake for req and puts the
// connection in s. A refusal is a *protocol.RefusedError.
func (r *runner) dialHandshake(ctx context.Context, s *slot, req protocol.Request) (net.Conn, error) {
	return r.dialHandshakeTo(ctx, s, r.addr, req)
}

// dialHandshakeTo is dialHandshake to addr.
func (r *runner) dialHandshakeTo(ctx context.Context, s *slot, addr string, req protocol.Request) (net.Conn, error) {
	c, err := client.Dial(ctx, client.Options{Addr: addr, TLS: r.tls, Request: req,
		DialTimeout: ioTimeout, HandshakeTimeout: ioTimeout})
	if err != nil {
		return nil, err
	}
	if !s.set(c) {
		return nil, net.ErrClosed
	}
	return c, nil
}
