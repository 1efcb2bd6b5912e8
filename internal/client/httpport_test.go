package client

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/fstream/fstream/internal/protocol"
)

// TestHTTPPort: a server that answers the handshake in HTTP is an HTTP
// port, and the error says what to use instead.
func TestHTTPPort(t *testing.T) {
	addr := startFake(t, func(c net.Conn) {
		readHandshake(t, c)
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	})
	err := Watch(t.Context(), opts(addr, watchReq), &syncBuffer{})
	want := "use http://" + addr + "/watch/fier/cam or the stream port"
	if !errors.Is(err, ErrHTTPPort) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Watch: %v; want ErrHTTPPort saying %q", err, want)
	}
	err = Broadcast(t.Context(), opts(addr, protocol.Request{User: "fier", UserPassword: "1"}), failReader{t})
	if !errors.Is(err, ErrHTTPPort) || !strings.Contains(err.Error(), "use the stream port") {
		t.Fatalf("Broadcast: %v", err)
	}
	if retryable(err) {
		t.Error("an HTTP port is retried")
	}
}
