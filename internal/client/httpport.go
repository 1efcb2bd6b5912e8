package client

import (
	"crypto/tls"
	"fmt"
	"net/url"

	"github.com/fstream/fstream/internal/protocol"
)

// httpAnswer starts the answer of an HTTP server: fstream's HTTP side, or
// any other, reached by mistake instead of the stream port. It is as long
// as the shortest status frame ("ok"), so looking for it never waits for
// bytes a real answer would not send.
const httpAnswer = "HTTP/1."

// answeredHTTP reports whether the server answered the handshake in HTTP.
func (s *session) answeredHTTP() bool {
	head, _ := s.r.Peek(len(httpAnswer))
	return string(head) == httpAnswer
}

// httpPortErr says what to use instead of an HTTP port.
func (s *session) httpPortErr() error {
	hostport, _, err := NormalizeAddr(s.addr)
	if err != nil {
		hostport = s.addr
	}
	if s.req.Command != protocol.CommandWatch {
		return fmt.Errorf("%w: use the stream port (%d by default) to %s", ErrHTTPPort, DefaultPort, s.req.Command)
	}
	scheme := "http"
	if _, ok := s.conn.(*tls.Conn); ok {
		scheme = "https"
	}
	channel := s.req.Channel
	if channel == "" {
		channel = protocol.DefaultChannel
	}
	return fmt.Errorf("%w: use %s://%s/watch/%s/%s or the stream port", ErrHTTPPort,
		scheme, hostport, url.PathEscape(s.req.User), url.PathEscape(channel))
}
