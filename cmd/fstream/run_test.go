package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server/servertest"
)

func TestRunWatch(t *testing.T) {
	stream := bytes.Repeat([]byte("\x47stream "), 100_000)
	addr := startFake(t, func(c net.Conn, req protocol.Request) {
		if req.Command != protocol.CommandWatch || req.User != "fier" || req.Channel != "cam" || !req.Ack {
			t.Errorf("fake server got %+v", req)
		}
		protocol.WriteFrame(c, protocol.OKStatus.Text())
		c.Write(stream)
	})
	code, stdout, stderr := runIn(t.Context(), []string{"watch", addr, "user=fier", "--channel", "cam"}, nil, nil)
	if code != exitOK || !watchEnded.MatchString(stderr) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if stdout != string(stream) {
		t.Fatalf("stdout has %d bytes, want the %d of the stream", len(stdout), len(stream))
	}
}

func TestRunLegacyBroadcast(t *testing.T) {
	stream := bytes.Repeat([]byte("\x47broadcast "), 100_000)
	got := make(chan [sha256.Size]byte, 1)
	addr := startFake(t, func(c net.Conn, req protocol.Request) {
		if req.Command != protocol.CommandBroadcast || req.User != "fier" || req.UserPassword != "secret" || req.Delay != 100*time.Millisecond {
			t.Errorf("fake server got %+v", req)
		}
		protocol.WriteFrame(c, protocol.OKStatus.Text())
		h := sha256.New()
		io.Copy(h, c)
		got <- [sha256.Size]byte(h.Sum(nil))
	})
	env := map[string]string{envUserPassword: "secret"}
	code, _, stderr := runIn(t.Context(), []string{addr, "broadcast,user=fier,delay=0.1,channel=cam"}, bytes.NewReader(stream), env)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if <-got != sha256.Sum256(stream) {
		t.Fatal("the server did not get the stream byte for byte")
	}
}

func TestRunRefused(t *testing.T) {
	addr := startFake(t, func(c net.Conn, _ protocol.Request) {
		protocol.WriteFrame(c, protocol.Status{Reason: protocol.ReasonUnauthorized, Message: "wrong user or password"}.Text())
	})
	stdin := strings.NewReader("must stay unread")
	env := map[string]string{envUserPassword: "wrong"}
	code, _, stderr := runIn(t.Context(), []string{"broadcast", addr, "--user", "fier"}, stdin, env)
	if code != exitRefused {
		t.Errorf("exit %d, want %d", code, exitRefused)
	}
	want := "fstream: broadcast to " + addr + ": server refused (unauthorized): wrong user or password\n"
	if stderr != want {
		t.Errorf("stderr %q\nwant   %q", stderr, want)
	}
	if stdin.Len() != len("must stay unread") {
		t.Error("stdin was read although the server refused")
	}
}

func TestRunWatchStdoutClosed(t *testing.T) {
	addr := startFake(t, func(c net.Conn, _ protocol.Request) {
		protocol.WriteFrame(c, protocol.OKStatus.Text())
		chunk := make([]byte, 4096)
		for {
			if _, err := c.Write(chunk); err != nil {
				return // the client hung up
			}
		}
	})
	s := &streams{
		Out: writerFunc(func([]byte) (int, error) {
			return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
		}),
		Err:    &bytes.Buffer{},
		Getenv: func(string) string { return "" },
	}
	code := execute(t.Context(), []string{"watch", addr, "--user", "fier"}, s, "test", defaultRunners())
	if code != exitOK || s.Err.(*bytes.Buffer).Len() != 0 {
		t.Fatalf("exit %d, stderr %q; want a quiet 0", code, s.Err)
	}
}

func TestRunWatchInterrupted(t *testing.T) {
	addr := startFake(t, func(c net.Conn, _ protocol.Request) {
		protocol.WriteFrame(c, protocol.OKStatus.Text())
		c.Write([]byte("first bytes"))
		c.SetReadDeadline(time.Time{})
		io.Copy(io.Discard, c) // until the client closes
	})
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	var once sync.Once
	s := &streams{
		Out: writerFunc(func(p []byte) (int, error) {
			once.Do(func() { close(started) })
			return len(p), nil
		}),
		Err:    &bytes.Buffer{},
		Getenv: func(string) string { return "" },
	}
	done := make(chan int, 1)
	go func() { done <- execute(ctx, []string{"watch", addr, "--user", "fier"}, s, "test", defaultRunners()) }()
	select {
	case <-started:
	case code := <-done:
		t.Fatalf("watch ended with %d before the signal", code)
	}
	cancel()
	if code := <-done; code != exitInterrupted || s.Err.(*bytes.Buffer).Len() != 0 {
		t.Fatalf("exit %d, stderr %q; want a quiet %d", code, s.Err, exitInterrupted)
	}
}

func TestRunNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	code, _, stderr := runIn(t.Context(), []string{"watch", addr, "--user", "fier"}, nil, nil)
	if code != exitError || !strings.HasPrefix(stderr, "fstream: watch "+addr+": connect: ") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// watchEnded is the one line a watch whose stream ended writes on stderr.
var watchEnded = regexp.MustCompile(`^fstream: the stream of fier/cam ended after [0-9.]+ (B|[KMG]iB) in [0-9.hms]+ \(the broadcaster left, or the server closed the connection\)\n$`)

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestRunBroadcastNoPassword: a broadcast without a password or a token is
// stopped before it connects, with what to give.
func TestRunBroadcastNoPassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // nothing accepts: a connection would hang the handshake
	stdin := strings.NewReader("must stay unread")
	for _, args := range [][]string{
		{"broadcast", ln.Addr().String(), "--user", "fier"},
		{ln.Addr().String(), "broadcast,user=fier"},
	} {
		code, _, stderr := runIn(t.Context(), args, stdin, nil)
		if code != exitUsage || !strings.Contains(stderr, "no password given (use --user-password or FSTREAM_USER_PASSWORD)") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if stdin.Len() != len("must stay unread") {
		t.Error("stdin was read")
	}
}

// TestRunBroadcastTakenOver: a broadcast cut by the server prints the
// server's reason and exits 4.
func TestRunBroadcastTakenOver(t *testing.T) {
	ts := servertest.Start(t, nil)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close() // the input stays open, and idle, until the end
	w.Write([]byte("first bytes"))
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, _, stderr := runIn(t.Context(), []string{"broadcast", ts.Addr, "--user", "fier", "--channel", "cam"}, r, map[string]string{envUserPassword: "123"})
		done <- result{code, stderr}
	}()
	servertest.WaitFor(t, "the first bytes", func() bool {
		c := ts.Channel("fier", "cam")
		return c != nil && c.Stats().BytesIn == int64(len("first bytes"))
	})
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam")
	got := <-done
	if got.code != exitCut || got.stderr != "fstream: taken over by a new broadcaster of fier/cam\n" {
		t.Fatalf("exit %d, stderr %q", got.code, got.stderr)
	}
}

// TestRunWatchReset: a connection reset mid-stream exits 1 and says how much
// had arrived.
func TestRunWatchReset(t *testing.T) {
	addr := startFake(t, func(c net.Conn, _ protocol.Request) {
		protocol.WriteFrame(c, protocol.OKStatus.Text())
		c.Write(make([]byte, 3000))
		c.(*net.TCPConn).SetLinger(0) // Close now resets
	})
	code, stdout, stderr := runIn(t.Context(), []string{"watch", addr, "--user", "fier"}, nil, nil)
	if code != exitError || len(stdout) != 3000 || !strings.Contains(stderr, "reset") || !strings.Contains(stderr, "(after 2.9 KiB in ") {
		t.Fatalf("exit %d, %d bytes, stderr %q", code, len(stdout), stderr)
	}
}
