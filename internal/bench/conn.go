package bench

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

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

// abort closes c with a reset: unread bytes are discarded at once and no
// TIME_WAIT socket is left behind, which matters after 10,000 watchers.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // best effort; Close follows either way
	}
	_ = c.Close() // nothing to report: the bench is done with it
}

var dialer = net.Dialer{Timeout: ioTimeout}

// handshake sends req on c and reads the server's status; a refusal is a
// *protocol.RefusedError.
func handshake(c net.Conn, req protocol.Request) error {
	text, err := req.Text()
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := protocol.WriteFrame(c, text); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	reply, err := protocol.ReadFrame(c, protocol.DefaultMaxText)
	if err != nil {
		return fmt.Errorf("handshake: read status: %w", err)
	}
	st, err := protocol.ParseStatus(reply)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := st.Err(); err != nil {
		return fmt.Errorf("%s handshake: %w", req.Command, err)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	return nil
}

// dialTo dials addr, puts the connection in s and, unless raw, sends the
// handshake for req.
func dialTo(ctx context.Context, s *slot, addr string, req *protocol.Request) (net.Conn, error) {
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if !s.set(c) {
		return nil, net.ErrClosed
	}
	if req != nil {
		if err := handshake(c, *req); err != nil {
			return nil, err
		}
	}
	return c, nil
}
