package httpapi

import (
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// answerTimeout bounds writing the answer to an fstream client on the
// HTTP port.
const answerTimeout = 5 * time.Second

// NewListener wraps the HTTP side's TCP listener (under any TLS) so that an
// fstream client that reached it by mistake, whose handshake starts with
// 0x00 where an HTTP request starts with a method, is answered at once
// with a 400 that names the stream port, instead of waiting for the HTTP
// server's header timeout. The client recognises the answer ("HTTP/1.").
// streamAddr is the stream port's address.
func NewListener(ln net.Listener, streamAddr string) net.Listener {
	return &listener{Listener: ln, streamAddr: streamAddr}
}

type listener struct {
	net.Listener
	streamAddr string
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, streamAddr: l.streamAddr}, nil
}

// sniffConn looks at the first byte the client sends. The HTTP server's
// connection goroutine makes the first Read; later reads may come from its
// background reader, after that one.
type sniffConn struct {
	net.Conn
	streamAddr string
	seen       atomic.Bool
}

func (c *sniffConn) Read(p []byte) (int, error) {
	if c.seen.Load() || len(p) == 0 {
		return c.Conn.Read(p)
	}
	n, err := c.Conn.Read(p)
	if n == 0 {
		return n, err
	}
	c.seen.Store(true)
	if p[0] != 0x00 {
		return n, err
	}
	c.answer()
	return 0, io.EOF
}

// answer tells an fstream client where the stream port is.
func (c *sniffConn) answer() {
	port := "61920"
	if _, p, err := net.SplitHostPort(c.streamAddr); err == nil {
		port = p
	}
	body := "This is fstream's HTTP port: it speaks HTTP, not the fstream protocol.\n" +
		"Use the stream port, " + port + ", for fstream watch and fstream broadcast,\n" +
		"or watch over HTTP at /watch/USER/CHANNEL.\n"
	resp := fmt.Sprintf("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	c.Conn.SetWriteDeadline(time.Now().Add(answerTimeout)) //nolint:staticcheck // the raw conn, not this wrapper's methods
	_, _ = io.WriteString(c.Conn, resp)                    // the client may be gone; it is closed next either way
}
