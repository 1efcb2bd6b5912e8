package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/hub"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testUsers are the broadcasters the test servers accept.
var testUsers = map[string]string{"fier": "123", "jörg": "pw", "other": "456"}

var testAuth = auth.Func(func(_ context.Context, user, password string) error {
	want, ok := testUsers[user]
	if !ok {
		return auth.ErrUnknownUser
	}
	if password != want {
		return auth.ErrWrongPassword
	}
	return nil
})

type testServer struct {
	srv  *Server
	addr string
}

// startServer runs a server on an ephemeral loopback port until the test
// ends. mutate adjusts the default config.
func startServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Auth = testAuth
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return &testServer{srv: srv, addr: ln.Addr().String()}
}

// rawFrame builds a handshake frame by hand from the spec, without the
// protocol package: 4-byte big-endian length, 0x00, the text.
func rawFrame(text string) []byte {
	b := make([]byte, 5, 5+len(text))
	binary.BigEndian.PutUint32(b, uint32(len(text)))
	return append(b, text...)
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// readStatusFrame reads one status frame by hand, failing fast on a hang.
func readStatusFrame(c net.Conn) (string, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return "", err
	}
	if hdr[4] != 0 {
		return "", errors.New("bad status frame marker")
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n > 1<<16 {
		return "", errors.New("status frame too long")
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	return string(b), err
}

// handshake sends text (with ack=1 added) and returns the server's status.
func handshake(t *testing.T, addr, text string) (*net.TCPConn, string) {
	t.Helper()
	c := dial(t, addr)
	if _, err := c.Write(rawFrame(text + ",ack=1")); err != nil {
		t.Fatalf("write handshake: %v", err)
	}
	st, err := readStatusFrame(c)
	if err != nil {
		t.Fatalf("read status for %q: %v", text, err)
	}
	return c, st
}

// mustHandshake is handshake that requires "ok".
func mustHandshake(t *testing.T, addr, text string) *net.TCPConn {
	t.Helper()
	c, st := handshake(t, addr, text)
	if st != "ok" {
		t.Fatalf("handshake %q: status %q, want ok", text, st)
	}
	return c
}

// payload returns n deterministic pseudo-random bytes.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeInPieces writes b in pseudo-random pieces, as a real encoder would.
func writeInPieces(w io.Writer, b []byte, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 1))
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(256<<10))
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// drain reads c to EOF in the background and reports the bytes' hash and
// count. Owned by the test through wait.
type drain struct {
	wg   sync.WaitGroup
	sum  [32]byte
	n    int64
	err  error
	conn net.Conn
}

func startDrain(c net.Conn) *drain {
	d := &drain{conn: c}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		h := sha256.New()
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		d.n, d.err = io.Copy(h, c)
		copy(d.sum[:], h.Sum(nil))
	}()
	return d
}

func (d *drain) wait() *drain { d.wg.Wait(); return d }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectClosed reads from c until EOF or an error and returns what arrived.
func expectClosed(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection not closed by the server (read %d bytes)", len(b))
	}
	return b
}

func channelOf(ts *testServer, user, channel string) *hub.Channel {
	return ts.srv.Hub().Channel(hub.Key{User: user, Channel: channel})
}

func watcherCount(ts *testServer, user, channel string) int {
	c := channelOf(ts, user, channel)
	if c == nil {
		return 0
	}
	return c.Stats().Watchers
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
