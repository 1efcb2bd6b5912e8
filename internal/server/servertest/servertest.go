// Package servertest runs fstream servers for tests, the way net/http's
// httptest does for HTTP: on 127.0.0.1:0, stopped when the test ends, with
// an authenticator that knows a few test users. Its raw-protocol helpers
// build frames by hand from the spec and put a deadline on every read, so
// that a server that hangs fails the test fast.
package servertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/server"
)

// Timeouts of the helpers. Generous: the machine running the tests may be
// slow and busy; they only turn a hang into a failure.
const (
	// IOTimeout bounds a dial and a status read.
	IOTimeout = 10 * time.Second
	// WaitTimeout bounds WaitFor and ExpectClosed.
	WaitTimeout = 20 * time.Second
)

// Users are the broadcasters Auth accepts, user name to password.
var Users = map[string]string{"fier": "123", "jörg": "pw", "other": "456"}

// Auth accepts the Users with their passwords and refuses anyone else, with
// the errors of package auth.
var Auth auth.Authenticator = auth.Func(func(_ context.Context, user, password string) error {
	want, ok := Users[user]
	if !ok {
		return auth.ErrUnknownUser
	}
	if password != want {
		return auth.ErrWrongPassword
	}
	return nil
})

// Server is a server running for one test.
type Server struct {
	*server.Server
	// Addr is where it listens: 127.0.0.1 and the port it got.
	Addr string
}

// Start runs a server until the test ends, with the default configuration,
// Auth, a logger on the test's output, and whatever mutate changes. When
// the test ends the server is closed and Serve must have returned
// server.ErrServerClosed.
func Start(t testing.TB, mutate func(*server.Config)) *Server {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Auth = Auth
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("servertest: New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("servertest: Serve returned %v, want ErrServerClosed", err)
		}
	})
	return &Server{Server: srv, Addr: ln.Addr().String()}
}

// Channel returns the hub's channel of user, or nil.
func (s *Server) Channel(user, channel string) *hub.Channel {
	return s.Hub().Channel(hub.Key{User: user, Channel: channel})
}

// Watchers returns how many watchers the channel has; 0 if it does not exist.
func (s *Server) Watchers(user, channel string) int {
	if c := s.Channel(user, channel); c != nil {
		return c.Stats().Watchers
	}
	return 0
}

// WaitFor polls cond until it holds, and fails the test if it does not
// within WaitTimeout. It is for conditions the test cannot wait on
// directly, such as a server's counters.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Frame builds a handshake frame by hand from the spec, without package
// protocol: a 4-byte big-endian length, 0x00, the text.
func Frame(text string) []byte {
	b := make([]byte, 5, 5+len(text))
	binary.BigEndian.PutUint32(b, uint32(len(text)))
	return append(b, text...)
}

// Dial connects to addr; the connection is closed when the test ends.
func Dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	return dial(t, addr, &net.Dialer{Timeout: IOTimeout})
}

// DialSlow connects to addr with a receive buffer of rcvbuf bytes, set
// before the connection is made so that the window the kernel offers is
// small from the first byte on, whatever it learned about 127.0.0.1 from
// earlier connections. A test that needs a watcher the server sees as slow
// uses it together with a small Config.WatcherSendBuffer.
func DialSlow(t testing.TB, addr string, rcvbuf int) *net.TCPConn {
	t.Helper()
	d := &net.Dialer{Timeout: IOTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = setRcvbuf(fd, rcvbuf) })
		return errors.Join(err, serr)
	}}
	return dial(t, addr, d)
}

func dial(t testing.TB, addr string, d *net.Dialer) *net.TCPConn {
	t.Helper()
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("servertest: dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// ReadStatus reads one status frame by hand, under a read deadline.
func ReadStatus(c net.Conn) (string, error) {
	c.SetReadDeadline(time.Now().Add(IOTimeout))
	defer c.SetReadDeadline(time.Time{})
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return "", err
	}
	if hdr[4] != 0 {
		return "", errors.New("servertest: bad status frame marker")
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n > 1<<16 {
		return "", errors.New("servertest: status frame too long")
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	return string(b), err
}

// Handshake sends text (with ack=1 added) on c and returns the server's
// status.
func Handshake(t testing.TB, c net.Conn, text string) string {
	t.Helper()
	if _, err := c.Write(Frame(text + ",ack=1")); err != nil {
		t.Fatalf("servertest: write handshake: %v", err)
	}
	st, err := ReadStatus(c)
	if err != nil {
		t.Fatalf("servertest: read status for %q: %v", text, err)
	}
	return st
}

// DialHandshake dials addr and sends text (with ack=1 added); it returns
// the connection and the server's status.
func DialHandshake(t testing.TB, addr, text string) (*net.TCPConn, string) {
	t.Helper()
	c := Dial(t, addr)
	return c, Handshake(t, c, text)
}

// MustHandshake is DialHandshake that requires "ok".
func MustHandshake(t testing.TB, addr, text string) *net.TCPConn {
	t.Helper()
	c, st := DialHandshake(t, addr, text)
	if st != "ok" {
		t.Fatalf("handshake %q: status %q, want ok", text, st)
	}
	return c
}

// ExpectClosed reads from c until the server closes it and returns what
// arrived; it fails the test if the server has not closed it within
// WaitTimeout.
func ExpectClosed(t testing.TB, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(WaitTimeout))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection not closed by the server (read %d bytes)", len(b))
	}
	return b
}

// ReadN reads exactly n bytes from c under a read deadline.
func ReadN(t testing.TB, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(WaitTimeout))
	defer c.SetReadDeadline(time.Time{})
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("servertest: read %d bytes: %v", n, err)
	}
	return b
}

// Payload returns n deterministic pseudo-random bytes for seed.
func Payload(seed uint64, n int) []byte {
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

// WriteInPieces writes b in pseudo-random pieces of up to 256 KiB, as a
// real encoder would.
func WriteInPieces(w io.Writer, b []byte, seed uint64) error {
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

// drainTimeout bounds a Drain's read of the whole stream.
const drainTimeout = 2 * time.Minute

// Drain reads a connection to its end in the background and reports the
// bytes' SHA-256 and count. The test owns its goroutine through Wait.
type Drain struct {
	wg sync.WaitGroup
	// Sum, N and Err are the hash, the count and how the reading ended
	// (nil at EOF); read them after Wait.
	Sum [32]byte
	N   int64
	Err error
}

// StartDrain starts reading c, for at most two minutes.
func StartDrain(c net.Conn) *Drain {
	d := &Drain{}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		h := sha256.New()
		c.SetReadDeadline(time.Now().Add(drainTimeout))
		d.N, d.Err = io.Copy(h, c)
		copy(d.Sum[:], h.Sum(nil))
	}()
	return d
}

// Wait waits until the connection has ended and returns d.
func (d *Drain) Wait() *Drain { d.wg.Wait(); return d }

// DecodeErrors decodes an MPEG-TS stream with ffmpeg (which the caller
// made sure is installed) and returns its error lines: none for a stream a
// player shows cleanly.
func DecodeErrors(t testing.TB, data []byte) []string {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", "-", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, _ := cmd.CombinedOutput()
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// LogBuffer is a log destination a test reads while a server writes to it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines returns the lines logged so far that contain every one of substrs.
func (l *LogBuffer) Lines(substrs ...string) []string {
	var out []string
next:
	for _, line := range strings.Split(l.String(), "\n") {
		for _, s := range substrs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}
