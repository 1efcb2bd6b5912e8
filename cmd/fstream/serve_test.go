package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/certs/certstest"
	"github.com/fstream/fstream/internal/config"
	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
)

func TestServeFlags(t *testing.T) {
	r := parse(t, []string{"serve"}, nil)
	if r.serve == nil {
		t.Fatalf("serve did not run: exit %d, %q", r.code, r.stderr)
	}
	o := r.serve
	if o.Listen != ":61920" || o.Users != "./users" || o.LogFormat != "text" || o.LogLevel != slog.LevelInfo ||
		o.ShutdownTimeout != 10*time.Second || o.TLSCert != "" || o.TLSKey != "" || o.HTTPAddr != "" ||
		o.HTTPAdminToken != "" || o.AuthURL != "" || o.AuthTimeout != auth.DefaultHTTPTimeout ||
		o.TokenTTL != auth.DefaultTokenTTL || o.ConfigFile != "" || len(o.Settings) != 0 {
		t.Errorf("defaults: %+v", o)
	}
	if !reflect.DeepEqual(o.Config, server.DefaultConfig()) {
		t.Errorf("Config = %+v\nwant     %+v", o.Config, server.DefaultConfig())
	}

	r = parse(t, []string{"serve", "--listen", "127.0.0.1:0", "--users", "/srv/users",
		"--handshake-timeout", "3s", "--max-handshake", "1024", "--max-conns", "7",
		"--max-conns-per-ip", "3", "--max-channels", "4", "--max-watchers-per-channel", "5",
		"--auth-failures-per-minute", "6",
		"--broadcaster-grace", "0s", "--stall-timeout", "250ms", "--max-lag", "0",
		"--channel-buffer", "1048576", "--log-format", "json", "--log-level", "debug",
		"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-required", "--shutdown-timeout", "2s",
		"--http", "127.0.0.1:8080", "--http-admin-token", "tok", "--auth-url", "https://auth.example/check",
		"--auth-timeout", "1s", "--token-ttl", "30s"}, nil)
	if r.serve == nil {
		t.Fatalf("serve did not run: exit %d, %q", r.code, r.stderr)
	}
	want := server.DefaultConfig()
	want.HandshakeTimeout = 3 * time.Second
	want.MaxHandshake = 1024
	want.MaxConns = 7
	want.MaxConnsPerIP = 3
	want.MaxChannels = 4
	want.MaxWatchersPerChannel = 5
	want.AuthFailuresPerMinute = 6
	want.BroadcasterGrace = 0
	want.StallTimeout = 250 * time.Millisecond
	want.MaxLag = 0
	want.ChannelBuffer = 1 << 20
	want.TLSRequired = true
	o = r.serve
	if !reflect.DeepEqual(o.Config, want) {
		t.Errorf("Config = %+v\nwant     %+v", o.Config, want)
	}
	if o.Listen != "127.0.0.1:0" || o.Users != "/srv/users" || o.LogFormat != "json" || o.LogLevel != slog.LevelDebug ||
		o.TLSCert != "c.pem" || o.TLSKey != "k.pem" || o.ShutdownTimeout != 2*time.Second ||
		o.HTTPAddr != "127.0.0.1:8080" || o.HTTPAdminToken != "tok" || o.AuthURL != "https://auth.example/check" ||
		o.AuthTimeout != time.Second || o.TokenTTL != 30*time.Second {
		t.Errorf("options: %+v", o)
	}
	for _, s := range o.Settings {
		if s.Origin.Source != config.FromFlag {
			t.Errorf("setting %+v: not from the command line", s)
		}
		if s.Name == "http-admin-token" && s.Value != "(hidden)" {
			t.Errorf("the admin token is not hidden: %+v", s)
		}
	}
	if len(o.Settings) != 24 {
		t.Errorf("%d settings, want the 24 flags given", len(o.Settings))
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
	return startServeHangups(t, nil, args...)
}

// startServeHangups is startServe with a channel standing in for SIGHUP.
func startServeHangups(t *testing.T, hangups chan os.Signal, args ...string) (addr string, log *syncBuffer, stop func() int) {
	t.Helper()
	log = &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	s := &streams{Out: &bytes.Buffer{}, Err: log, Getenv: func(string) string { return "" }}
	r := defaultRunners()
	r.serve = func(ctx context.Context, o *serveOptions) error {
		if hangups != nil {
			o.hangups = hangups
		}
		return runServe(ctx, o)
	}
	var code int
	exited := make(chan struct{})
	args = append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	go func() {
		defer close(exited)
		code = execute(ctx, args, s, "test", r)
	}()
	stop = func() int {
		cancel()
		<-exited
		return code
	}
	t.Cleanup(func() { stop() })
	listening := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := listening.FindStringSubmatch(log.String()); m != nil {
			return m[1], log, stop
		}
		select {
		case <-exited:
			t.Fatalf("serve exited with %d before listening: %s", code, log)
		default:
		}
	}
	t.Fatalf("serve did not log its address: %s", log)
	return "", nil, nil
}

// waitLog waits until the log has a line matching re, and fails the test
// if none comes within 10 seconds.
func waitLog(t *testing.T, log *syncBuffer, re string) {
	t.Helper()
	want := regexp.MustCompile(re)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if want.MatchString(log.String()) {
			return
		}
	}
	t.Fatalf("log has no line matching %q:\n%s", re, log)
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
	if want := "no users yet: add one with `fstream user add NAME --users " + users + "` (or `{ echo '[DEFAULT]'; echo 'password=...'; } > " + filepath.Join(users, "NAME.ini") + "`)"; !strings.Contains(log.String(), want) {
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
		{"no certificate file", []string{"--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"}, exitError,
			"fstream: certs: load certificate /nonexistent/cert.pem with key /nonexistent/key.pem: open /nonexistent/cert.pem: no such file or directory\n"},
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

func TestServeReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second := certstest.New(t), certstest.New(t)
	first.WriteFiles(t, certFile, keyFile)
	hangups := make(chan os.Signal, 1)
	_, log, stop := startServeHangups(t, hangups, "--users", t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)
	waitLog(t, log, `level=INFO msg="certificate loaded" subject="`+regexp.QuoteMeta(first.Leaf.Subject.CommonName)+`" names=localhost,127\.0\.0\.1 not_after=`)
	waitLog(t, log, `msg=listening addr=\S+ users=\S+ tls=true tls_required=false`)

	second.WriteFiles(t, certFile, keyFile)
	hangups <- syscall.SIGHUP
	waitLog(t, log, `level=INFO msg="certificate reloaded" subject="`+regexp.QuoteMeta(second.Leaf.Subject.CommonName)+`"`)

	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	hangups <- syscall.SIGHUP
	waitLog(t, log, `level=ERROR msg="certificate reload failed; still serving the previous certificate" err=".*key\.pem`)
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d after a failed reload and a signal, want 0; log:\n%s", code, log)
	}
}

func TestServeHangupWithoutTLS(t *testing.T) {
	hangups := make(chan os.Signal, 1)
	_, log, stop := startServeHangups(t, hangups, "--users", t.TempDir())
	hangups <- syscall.SIGHUP
	waitLog(t, log, `msg="SIGHUP: no TLS certificate to reload`)
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d, want 0; log:\n%s", code, log)
	}
}

// handshake opens a connection to addr and sends text with ack=1, and
// fails the test unless the server answers "ok".
func handshake(t *testing.T, addr, text string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails fast
	if err := protocol.WriteFrame(c, text+",ack=1"); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	answer, err := protocol.ReadFrame(c, protocol.DefaultMaxText)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	if st, err := protocol.ParseStatus(answer); err != nil || !st.OK {
		t.Fatalf("%s: server answered %q", text, answer)
	}
	c.SetDeadline(time.Time{})
	return c
}

func TestServeShutdownWithLiveStream(t *testing.T) {
	users := t.TempDir()
	if err := os.WriteFile(filepath.Join(users, "fier.ini"), []byte("[DEFAULT]\npassword=secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, log, stop := startServe(t, "--users", users, "--shutdown-timeout", "300ms")

	b := handshake(t, addr, "broadcast,user=fier,user-password=secret,channel=cam")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // broadcasts until the server goes away
		defer wg.Done()
		chunk := bytes.Repeat([]byte("\x47live"), 1000)
		for {
			if _, err := b.Write(chunk); err != nil {
				return
			}
		}
	}()
	defer wg.Wait()
	defer b.Close()
	w := handshake(t, addr, "watch,user=fier,channel=cam")
	w.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(w, make([]byte, 64<<10)); err != nil {
		t.Fatalf("watcher got no stream: %v", err)
	}

	if code := stop(); code != exitOK {
		t.Fatalf("exit %d after a signal with a live stream, want 0; log:\n%s", code, log)
	}
	for _, want := range []string{`msg="shutting down" timeout=300ms`, "msg=stopped"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log has no %q:\n%s", want, log)
		}
	}
	// The server closed the watcher: it reads to the end.
	w.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, w); err != nil {
		t.Errorf("watcher after shutdown: %v", err)
	}
}

func TestLogCertificate(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		notAfter time.Time
		want     string
	}{
		{"valid", now.Add(90 * 24 * time.Hour), `level=INFO msg=loaded subject=cam.example names=cam.example,192.0.2.1 not_after=`},
		{"expires soon", now.Add(49 * time.Hour), `level=WARN msg="loaded; it expires soon" subject=cam.example names=cam.example,192.0.2.1 not_after=\S+ expires_in=4[89]h`},
		{"expired", now.Add(-time.Hour), `level=WARN msg="loaded; it has EXPIRED: clients will refuse it" subject=cam.example`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			leaf := &x509.Certificate{
				Subject:     pkix.Name{CommonName: "cam.example"},
				DNSNames:    []string{"cam.example"},
				IPAddresses: []net.IP{net.ParseIP("192.0.2.1")},
				NotAfter:    tt.notAfter,
			}
			logCertificate(slog.New(slog.NewTextHandler(&log, nil)), "loaded", leaf)
			if !regexp.MustCompile(tt.want).MatchString(log.String()) {
				t.Errorf("log %q does not match %q", log.String(), tt.want)
			}
		})
	}
}

// TestServeReloadUnderLiveStream: SIGHUP swaps the certificate while a TLS
// broadcaster and watcher stream; they go on, and new clients see the new
// certificate.
func TestServeReloadUnderLiveStream(t *testing.T) {
	dir := t.TempDir()
	users := t.TempDir()
	if err := os.WriteFile(filepath.Join(users, "fier.ini"), []byte("[DEFAULT]\npassword=secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second := certstest.New(t, "127.0.0.1"), certstest.New(t, "127.0.0.1")
	first.WriteFiles(t, certFile, keyFile)
	hangups := make(chan os.Signal, 1)
	addr, log, stop := startServeHangups(t, hangups, "--users", users, "--tls-cert", certFile, "--tls-key", keyFile)
	roots := certstest.Pool(first, second)

	dialTLS := func(text string) *tls.Conn {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("TLS dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := protocol.WriteFrame(c, text+",ack=1"); err != nil {
			t.Fatal(err)
		}
		if answer, err := protocol.ReadFrame(c, protocol.DefaultMaxText); err != nil || answer != "ok" {
			t.Fatalf("%s: %q %v", text, answer, err)
		}
		c.SetDeadline(time.Time{})
		return c
	}
	b := dialTLS("broadcast,user=fier,user-password=secret,channel=cam")
	w := dialTLS("watch,user=fier,channel=cam")
	if got := w.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Fatalf("watcher saw certificate %v, want the first", got)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // broadcasts until the test closes the connection
		defer wg.Done()
		chunk := bytes.Repeat([]byte("\x47live"), 1000)
		for {
			if _, err := b.Write(chunk); err != nil {
				return
			}
		}
	}()
	defer wg.Wait()
	defer b.Close()
	read := func(what string) {
		t.Helper()
		w.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(w, make([]byte, 64<<10)); err != nil {
			t.Fatalf("watcher %s: %v", what, err)
		}
	}
	read("before the reload")

	second.WriteFiles(t, certFile, keyFile)
	hangups <- syscall.SIGHUP
	waitLog(t, log, `msg="certificate reloaded"`)
	read("after the reload")
	fresh := dialTLS("watch,user=fier,channel=cam")
	if got := fresh.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(second.Leaf.SerialNumber) != 0 {
		t.Fatalf("new client saw certificate %v, want the second", got)
	}
	fresh.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(fresh, make([]byte, 4096)); err != nil {
		t.Fatalf("new watcher: %v", err)
	}
	// Watchers that stop reading would hold a graceful shutdown for its
	// whole timeout.
	b.Close()
	w.Close()
	fresh.Close()
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
}
