package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fstream/fstream/internal/server/servertest"
)

// TestHTTPOnStreamPort: an HTTP request on the stream port gets a short 400
// page that names the HTTP side, as the client called the host.
func TestHTTPOnStreamPort(t *testing.T) {
	ts := servertest.Start(t, nil)
	get := func() (int, string) {
		t.Helper()
		c := &http.Client{Timeout: servertest.IOTimeout}
		resp, err := c.Get("http://" + ts.Addr + "/watch/fier/cam")
		if err != nil {
			t.Fatalf("GET on the stream port: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get()
	if code != http.StatusBadRequest || !strings.Contains(body, "stream port") || !strings.Contains(body, "no HTTP side") {
		t.Fatalf("without an HTTP side: %d %q", code, body)
	}
	ts.SetHTTPAddr("0.0.0.0:61921")
	code, body = get()
	if want := "http://127.0.0.1:61921/watch/USER/CHANNEL"; code != http.StatusBadRequest || !strings.Contains(body, want) {
		t.Fatalf("with an HTTP side: %d %q, want it to name %s", code, body, want)
	}
	if n := ts.Counters().Handshakes["bad-request"]; n != 2 {
		t.Errorf("bad-request counted %d times, want 2", n)
	}
}
