package client

import (
	"bufio"
	"context"
	"net"
)

// Conn is a connection that passed the handshake, for a caller that drives
// the stream itself (the load generator of "fstream bench") instead of
// piping it through Broadcast or Watch. It is the TLS connection when TLS
// was asked for; Read starts with any stream bytes that arrived together
// with the status frame.
type Conn struct {
	net.Conn
	r *bufio.Reader
}

// Read reads the stream: first what the handshake's buffer holds, then the
// connection itself, so that a large read costs no extra copy.
func (c *Conn) Read(p []byte) (int, error) {
	if c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// Dial connects and performs the handshake of opts.Request, whose Command
// must be set, as Broadcast and Watch do (ack=1, the same timeouts, the
// same errors). ctx bounds the dial and the handshake only: the returned
// connection is the caller's to close.
func Dial(ctx context.Context, opts Options) (c *Conn, err error) {
	defer wrapErr(&err, "connect to", opts.Addr)
	s, _, err := connect(ctx, opts, opts.Request.Command, nil, nil)
	if err != nil {
		return nil, err
	}
	s.stopCancel()
	if err := ctx.Err(); err != nil {
		// ctx ended just as the handshake did, and may have closed conn.
		_ = s.conn.Close()
		return nil, err
	}
	return &Conn{Conn: s.conn, r: s.r}, nil
}
