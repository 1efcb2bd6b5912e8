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

// httpPortError is an HTTP answer to the handshake. It is ErrHTTPPort and,
// as any answer that is not a status frame, ErrNoAnswer.
type httpPortError struct{ msg string }

func (e *httpPortError) Error() string { return e.msg }

func (e *httpPortError) Is(target error) bool { return target == ErrHTTPPort || target == ErrNoAnswer }

// httpPortErr says what to use instead of an HTTP port.
func (s *session) httpPortErr() error {
	hostport, _, err := NormalizeAddr(s.addr)
	if err != nil {
		hostport = s.addr
	}
	if s.req.Command != protocol.CommandWatch {
		return &httpPortError{fmt.Sprintf("%v: use the stream port (%d by default) to %s", ErrHTTPPort, DefaultPort, s.req.Command)}
	}
	scheme := "http"
	if _, ok := s.conn.(*tls.Conn); ok {
		scheme = "https"
	}
	channel := s.req.Channel
	if channel == "" {
		channel = protocol.DefaultChannel
	}
	return &httpPortError{fmt.Sprintf("%v: use %s://%s/watch/%s/%s or the stream port", ErrHTTPPort,
		scheme, hostport, url.PathEscape(s.req.User), url.PathEscape(channel))}
}
