package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/server"
)

func TestServeFlags(t *testing.T) {
	r := parse(t, []string{"serve"}, nil)
	if r.serve == nil {
		t.Fatalf("serve did not run: exit %d, %q", r.code, r.stderr)
	}
	if r.serve.Listen != ":61920" || r.serve.Users != "./users" || r.serve.LogFormat != "text" || r.serve.LogLevel.String() != "INFO" {
		t.Errorf("defaults: %+v", r.serve)
	}
	if !reflect.DeepEqual(r.serve.Config, server.DefaultConfig()) {
		t.Errorf("Config = %+v\nwant     %+v", r.serve.Config, server.DefaultConfig())
	}

	r = parse(t, []string{"serve", "--listen", "127.0.0.1:0", "--users", "/srv/users",
		"--handshake-timeout", "3s", "--max-handshake", "1024", "--max-conns", "7",
		"--broadcaster-grace", "0s", "--stall-timeout", "250ms", "--max-lag", "0",
		"--channel-buffer", "1048576", "--log-format", "json", "--log-level", "debug"}, nil)
	if r.serve == nil {
		t.Fatalf("serve did not run: exit %d, %q", r.code, r.stderr)
	}
	want := server.DefaultConfig()
	want.HandshakeTimeout = 3 * time.Second
	want.MaxHandshake = 1024
	want.MaxConns = 7
	want.BroadcasterGrace = 0
	want.StallTimeout = 250 * time.Millisecond
	want.MaxLag = 0
	want.ChannelBuffer = 1 << 20
	if !reflect.DeepEqual(r.serve.Config, want) {
		t.Errorf("Config = %+v\nwant     %+v", r.serve.Config, want)
	}
	if r.serve.Listen != "127.0.0.1:0" || r.serve.Users != "/srv/users" || r.serve.LogFormat != "json" || r.serve.LogLevel.String() != "DEBUG" {
		t.Errorf("options: %+v", r.serve)
	}
}

// syncBuffer is a log destination that the test reads while the server
// writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs "fstream serve" in-process on 127.0.0.1:0 and returns the
// address it logged, its log, and a stop function that returns the exit
// code.
func startServe(t *testing.T, args ...string) (addr string, log *syncBuffer, stop func() int) {
	t.Helper()
	log = &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	s := &streams{Out: &bytes.Buffer{}, Err: log, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	args = append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	go func() { done <- execute(ctx, args, s, "test", defaultRunners()) }()
	stop = func() int {
		cancel()
		return <-done
	}
	listening := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := listening.FindStringSubmatch(log.String()); m != nil {
			return m[1], log, stop
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before listening: %s", code, log)
		default:
		}
	}
	stop()
	t.Fatalf("serve did not log its address: %s", log)
	return "", nil, nil
}

func TestServeStartsAndStops(t *testing.T) {
	users := t.TempDir()
	addr, log, stop := startServe(t, "--users", users)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial the logged address: %v", err)
	}
	c.Close()
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d after a signal, want 0; log:\n%s", code, log)
	}
	if want := "no users yet: add one with `{ echo '[DEFAULT]'; echo 'password=...'; } > " + filepath.Join(users, "NAME.ini") + "`"; !strings.Contains(log.String(), want) {
		t.Errorf("log has no hint %q:\n%s", want, log)
	}
}

func TestServeWarnsAboutMissingUsers(t *testing.T) {
	_, log, stop := startServe(t, "--users", filepath.Join(t.TempDir(), "nope"))
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(log.String(), "level=WARN msg=\"users folder does not exist") {
		t.Errorf("log has no warning:\n%s", log)
	}
}

func TestServeErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"address in use", []string{"--listen", busy.Addr().String()}, exitError, "fstream: listen: "},
		{"bad config", []string{"--listen", "127.0.0.1:0", "--stall-timeout", "0s"}, exitUsage, "stall timeout"},
		{"buffer too small", []string{"--listen", "127.0.0.1:0", "--channel-buffer", "10"}, exitUsage, "channel buffer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runIn(t.Context(), append([]string{"serve", "--users", t.TempDir()}, tt.args...), nil, nil)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}
