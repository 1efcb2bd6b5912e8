package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// startLimitedHTTP serves e's API the way "fstream serve --http" does: the
// API's own http.Server settings on a listener that shares the relay's
// connection limits. It returns the address; the server stops when the
// test ends.
func (e *env) startLimitedHTTP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := e.api.HTTPServer(slog.New(slog.DiscardHandler))
	// http.Server.Close does not wait for handlers; the test must, before
	// it ends, or a watcher's last log line goes to a finished test.
	var handlers sync.WaitGroup
	inner := hs.Handler
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		inner.ServeHTTP(w, r)
	})
	served := make(chan error, 1)
	go func() { served <- hs.Serve(e.api.Listener(ln)) }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		handlers.Wait()
	})
	return ln.Addr().String()
}

// feed writes MPEG-TS-shaped packets to a broadcaster until the test ends,
// so that watchers joining at any moment get a response.
func feed(t *testing.T, b net.Conn) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		pkt := tsPayload(7)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			b.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := b.Write(pkt); err != nil {
				return
			}
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// rawGet sends a GET on a new connection and returns the status line, or
// "" when the server closed the connection without an answer. The
// connection is returned open, so that a served stream keeps its slot.
func rawGet(addr, path string) (net.Conn, string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, "", err
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr)
	line, err := bufio.NewReader(c).ReadString('\n')
	c.SetDeadline(time.Time{})
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return c, "", fmt.Errorf("no answer and no close: %w", err)
	}
	return c, strings.TrimSpace(line), nil
}

// TestHTTPConnLimits: 300 concurrent HTTP watchers from one address get no
// more connections than the per-address limit allows, counted together
// with that address's TCP connections (its broadcaster).
func TestHTTPConnLimits(t *testing.T) {
	const attempts, maxConns, perIP = 300, 50, 20
	e := startEnv(t, envOptions{server: func(c *server.Config) {
		c.MaxConns, c.MaxConnsPerIP = maxConns, perIP
	}})
	addr := e.startLimitedHTTP(t)
	feed(t, e.broadcast(t, "fier", "cam", ""))

	var mu sync.Mutex
	served, refused := 0, 0
	var conns []net.Conn
	var wg sync.WaitGroup
	for range attempts {
		wg.Go(func() {
			c, line, err := rawGet(addr, "/watch/fier/cam?join=live")
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				conns = append(conns, c) // held until every attempt is answered
			}
			switch {
			case err != nil:
				t.Error(err)
			case strings.HasPrefix(line, "HTTP/1.1 200"):
				served++
			case line == "":
				refused++
			default:
				t.Errorf("unexpected answer %q", line)
			}
		})
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	t.Logf("%d concurrent GET /watch from one address (max-conns %d, per address %d): %d served, %d refused",
		attempts, maxConns, perIP, served, refused)
	if served == 0 || served > perIP-1 {
		t.Fatalf("%d served, want 1 to %d (the broadcaster holds one of the address's %d)", served, perIP-1, perIP)
	}
}

// TestHTTPHeaderFlood: 200 connections each sending a 1000 KiB header line
// without its end must not make the server hold 200 MB. The test measures
// its own live heap (server and attackers share the process) after a GC,
// with a bound far above what the limits allow and far below what the
// attack costs without them; no timing is asserted.
func TestHTTPHeaderFlood(t *testing.T) {
	const conns, lineKiB, boundMiB = 200, 1000, 64
	e := startEnv(t, envOptions{server: func(c *server.Config) { c.MaxConns, c.MaxConnsPerIP = 50, 20 }})
	addr := e.startLimitedHTTP(t)
	line := append([]byte("GET /healthz HTTP/1.1\r\nX-Flood: "), bytes.Repeat([]byte("a"), lineKiB<<10)...)

	before := liveHeap()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	for range conns {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			open = append(open, c) // kept open: the attacker does not hang up
			mu.Unlock()
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			c.Write(line) // fails once the server gives up on the line
		})
	}
	wg.Wait()
	// The server may still be reading what the kernel buffered: look a
	// few times and keep the largest.
	peak := before
	for range 20 {
		peak = max(peak, liveHeap())
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range open {
		c.Close()
	}
	grew := (int64(peak) - int64(before)) >> 20
	t.Logf("%d connections with a %d KiB header line: live heap %d MiB -> %d MiB (+%d MiB)",
		conns, lineKiB, before>>20, peak>>20, grew)
	if grew > boundMiB {
		t.Fatalf("live heap grew by %d MiB under the header flood, want at most %d", grew, boundMiB)
	}
}

// liveHeap returns the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestHTTPChannelPasswordThrottled: wrong ?password= guesses are answered
// 401 only as often as the address's failure budget allows, then 429, the
// right password included; the password never reaches a log line.
func TestHTTPChannelPasswordThrottled(t *testing.T) {
	// Three a minute: one refills every 20 s, far longer than the test.
	const attempts, limit = 300, 3
	logs := &servertest.LogBuffer{}
	capture := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := startEnv(t, envOptions{
		server: func(c *server.Config) { c.AuthFailuresPerMinute = limit; c.Logger = capture },
		api:    func(c *Config) { c.Logger = capture },
	})
	e.broadcast(t, "fier", "vip", "right")
	codes := map[int]int{}
	for i := range attempts {
		resp, _ := e.do(t, "GET", fmt.Sprintf("/watch/fier/vip?password=S3cret%d", i), nil)
		codes[resp.StatusCode]++
	}
	t.Logf("%d wrong ?password=: %v", attempts, codes)
	if codes[http.StatusUnauthorized] > limit || codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != attempts {
		t.Fatalf("answers %v, want at most %d 401 and the rest 429", codes, limit)
	}
	resp, _ := e.do(t, "GET", "/watch/fier/vip?password=right", nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right password after the guesses: %d (Retry-After %q), want 429 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if strings.Contains(logs.String(), "S3cret") {
		t.Fatalf("a guessed password is in the log")
	}
}

// TestTrustedProxies: behind a trusted proxy the client is the right-most
// address the proxies did not add; a client cannot pass for loopback by
// sending its own X-Forwarded-For. Without trusted proxies, a loopback
// request carrying forwarding headers comes through a proxy and is not
// served the loopback-only paths.
func TestTrustedProxies(t *testing.T) {
	local := mustPrefixes(t, "127.0.0.0/8", "::1/128")
	proxied := startEnv(t, envOptions{api: func(c *Config) { c.TrustedProxies = local }})
	other := startEnv(t, envOptions{api: func(c *Config) { c.TrustedProxies = mustPrefixes(t, "10.0.0.0/8") }})
	plain := startEnv(t, envOptions{})
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	tests := []struct {
		name string
		e    *env
		hdr  http.Header
		want int
	}{
		{"direct loopback client", proxied, nil, 200},
		{"remote client through the proxy", proxied, xff("203.0.113.7"), 403},
		{"spoofed loopback before the real client", proxied, xff("127.0.0.1, 203.0.113.7"), 403},
		{"two header lines", proxied, http.Header{"X-Forwarded-For": {"127.0.0.1", "203.0.113.7"}}, 403},
		{"local client through the proxy", proxied, xff("127.0.0.1"), 200},
		{"garbage hop", proxied, xff("not-an-ip"), 403},
		{"Forwarded, IPv6", proxied, http.Header{"Forwarded": {`for="[2001:db8::1]:4711";proto=https`}}, 403},
		{"Forwarded, local", proxied, http.Header{"Forwarded": {`for=127.0.0.1`}}, 200},
		{"untrusted peer sends X-Forwarded-For", other, xff("127.0.0.1"), 403},
		{"untrusted peer, no header", other, nil, 200},
		{"no trusted proxies, proxied request", plain, xff("203.0.113.7"), 403},
		{"no trusted proxies, Forwarded", plain, http.Header{"Forwarded": {"for=203.0.113.7"}}, 403},
		{"no trusted proxies, X-Real-IP", plain, http.Header{"X-Real-Ip": {"203.0.113.7"}}, 403},
		{"no trusted proxies, direct", plain, nil, 200},
	}
	for _, tt := range tests {
		for _, path := range []string{"/", "/api/v1/channels", "/metrics"} {
			if resp, body := tt.e.do(t, "GET", path, tt.hdr); resp.StatusCode != tt.want {
				t.Errorf("%s: GET %s: %d, want %d: %s", tt.name, path, resp.StatusCode, tt.want, body)
			}
		}
	}

	// The client's address, not the proxy's, is what the status shows and
	// what throttles and limits count.
	// (Fed, so that the response starts: the client would retry a GET
	// whose connection closes before any answer.)
	feed(t, proxied.broadcast(t, "fier", "cam", ""))
	proxied.startHTTPWatch(t, "/watch/fier/cam?join=live", xff("198.51.100.9"))
	servertest.WaitFor(t, "the proxied watcher's first bytes", func() bool { return proxied.srv.Channel("fier", "cam").Stats().BytesOut > 0 })
	info := proxied.srv.Channel("fier", "cam").Info()
	if got := info.Watchers[0].Remote; got != "198.51.100.9" {
		t.Errorf("watcher behind the proxy shows as %q, want 198.51.100.9", got)
	}
}

func mustPrefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}
