package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/protocol"
	"go.uber.org/goleak"
)

// fakeServerEnv makes the test binary act as a tiny fstream server, so
// that the child-server path (start, handshakes, /proc, SIGTERM) is tested
// without the real server.
const fakeServerEnv = "FSTREAM_BENCH_FAKE_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(fakeServerEnv) == "1" {
		os.Exit(fakeServer(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// fanout copies one source's bytes to every watcher added to it, a chunk
// at a time: the simplest relay there is, for tests.
type fanout struct {
	mu       sync.Mutex
	watchers []net.Conn
	joined   map[net.Conn]time.Time
	// kick, if set, resets each watcher that long after it joined, the
	// way a relay evicts one.
	kick time.Duration
	// mutate, if set, rewrites a chunk that starts off bytes into what
	// the watchers were sent; returning nil drops it.
	mutate func(off int64, b []byte) []byte
}

func (f *fanout) add(c net.Conn) {
	f.mu.Lock()
	f.watchers = append(f.watchers, c)
	if f.joined == nil {
		f.joined = map[net.Conn]time.Time{}
	}
	f.joined[c] = time.Now()
	f.mu.Unlock()
}

// kickOld resets the watchers that joined more than f.kick ago.
func (f *fanout) kickOld() {
	if f.kick == 0 {
		return
	}
	f.mu.Lock()
	var old []net.Conn
	for _, w := range f.watchers {
		if time.Since(f.joined[w]) > f.kick {
			old = append(old, w)
		}
	}
	f.mu.Unlock()
	for _, w := range old {
		_ = w.(*net.TCPConn).SetLinger(0)
		f.remove(w)
	}
}

// pump copies src to the watchers until src ends, then closes them all.
func (f *fanout) pump(src net.Conn) {
	buf := make([]byte, 64<<10)
	var off int64
	for {
		k, err := src.Read(buf)
		f.kickOld()
		if k > 0 {
			f.mu.Lock()
			ws := append([]net.Conn(nil), f.watchers...)
			f.mu.Unlock()
			b := buf[:k]
			if len(ws) > 0 {
				if f.mutate != nil {
					b = f.mutate(off, b)
				}
				off += int64(k)
			}
			for _, w := range ws {
				if _, err := w.Write(b); err != nil {
					f.remove(w)
				}
			}
		}
		if err != nil {
			break
		}
	}
	f.mu.Lock()
	ws := f.watchers
	f.watchers = nil
	f.mu.Unlock()
	for _, w := range ws {
		_ = w.Close()
	}
}

func (f *fanout) remove(c net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, w := range f.watchers {
		if w == c {
			f.watchers = append(f.watchers[:i], f.watchers[i+1:]...)
			_ = c.Close()
			return
		}
	}
}

// startBroker runs a raw broker on 127.0.0.1: the first connection is the
// source, every later one a watcher. It stops when the test ends.
func startBroker(t *testing.T, f *fanout) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if first {
				first = false
				wg.Add(1)
				go func() {
					defer wg.Done()
					f.pump(c)
				}()
			} else {
				f.add(c)
			}
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// fakeServer is "fstream serve" reduced to what the bench needs:
// --listen, --users (plaintext passwords), handshakes with acks, one
// fanout per channel. --refuse-watchers answers every watcher "busy". It
// runs until killed.
func fakeServer(args []string) int {
	fs := flag.NewFlagSet("fake serve", flag.ContinueOnError)
	listen := fs.String("listen", "", "")
	users := fs.String("users", "", "")
	refuse := fs.Bool("refuse-watchers", false, "")
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(os.Stderr, "fake server: want serve")
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "fake server: listening on", ln.Addr())
	var mu sync.Mutex
	channels := map[string]*fanout{}
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func() {
			text, err := protocol.ReadFrame(c, protocol.DefaultMaxText)
			if err != nil {
				_ = c.Close() // a probe, or a client that gave up
				return
			}
			req, err := protocol.ParseRequest(text)
			reply := func(s protocol.Status) { _ = protocol.WriteFrame(c, s.Text()) }
			if err != nil {
				reply(protocol.Status{Reason: protocol.ReasonBadRequest, Message: err.Error()})
				_ = c.Close()
				return
			}
			mu.Lock()
			f := channels[req.Channel]
			mu.Unlock()
			switch {
			case req.Command == protocol.CommandBroadcast:
				if !fakeAuth(*users, req.User, req.UserPassword) {
					reply(protocol.Status{Reason: protocol.ReasonUnauthorized})
					_ = c.Close()
					return
				}
				f = &fanout{}
				mu.Lock()
				channels[req.Channel] = f
				mu.Unlock()
				reply(protocol.OKStatus)
				f.pump(c)
			case *refuse:
				reply(protocol.Status{Reason: protocol.ReasonBusy, Message: "refusing watchers"})
				_ = c.Close()
			case f == nil:
				reply(protocol.Status{Reason: protocol.ReasonNotFound})
				_ = c.Close()
			default:
				reply(protocol.OKStatus)
				f.add(c)
			}
		}()
	}
}

func fakeAuth(dir, user, password string) bool {
	f, err := os.Open(filepath.Join(dir, user+".ini"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "password="); ok {
			return v == password
		}
	}
	return false
}

// fakeServerCmd returns the command that starts the test binary as a fake
// server.
func fakeServerCmd(t *testing.T) []string {
	t.Helper()
	t.Setenv(fakeServerEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("executable: %v", err)
	}
	return []string{exe, "serve"}
}

// run runs the bench with a deadline, so that a hang fails the test.
func run(t *testing.T, opts Options) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := Run(ctx, opts)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run hung: %v", err)
	}
	if res != nil {
		var b strings.Builder
		if err := res.WriteTable(&b); err != nil {
			t.Errorf("WriteTable: %v", err)
		}
		t.Logf("result:\n%s", b.String())
		if err := res.WriteJSON(io.Discard); err != nil {
			t.Errorf("WriteJSON: %v", err)
		}
	}
	return res, err
}

// checkClean fails the test unless res shows a correct relay: records
// arrived, none missing or corrupt, nobody evicted, a latency for each
// record (all watchers are regular).
func checkClean(t *testing.T, res *Result) {
	t.Helper()
	if res.Records == 0 || res.Egress.Bytes == 0 || res.Ingest.Bytes == 0 {
		t.Errorf("records %d, egress %d B, ingest %d B: want some", res.Records, res.Egress.Bytes, res.Ingest.Bytes)
	}
	if res.Gaps != 0 || res.Lost != 0 || res.Corrupt != 0 || res.Resyncs != 0 {
		t.Errorf("gaps %d lost %d corrupt %d resyncs %d, want 0", res.Gaps, res.Lost, res.Corrupt, res.Resyncs)
	}
	if n := res.Evicted.Total(); n != 0 {
		t.Errorf("%d watchers evicted, want 0", n)
	}
	if res.Latency.Count != res.Records || res.Latency.MaxUS <= 0 {
		t.Errorf("latency: %d samples for %d records, max %v µs", res.Latency.Count, res.Records, res.Latency.MaxUS)
	}
}
