package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/certs/certstest"
	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// testCert is the certificate of the TLS fake servers of one test, and a
// PEM file a client can trust it with (--tls-ca).
type testCert struct {
	cert   tls.Certificate
	caFile string
}

func newTestCert(t *testing.T) *testCert {
	t.Helper()
	c := certstest.New(t, "127.0.0.1")
	cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: cert, caFile: file}
}

// writeCA writes a test certificate to a PEM file and returns its name.
func writeCA(t *testing.T) string {
	t.Helper()
	return newTestCert(t).caFile
}

// startFakeTLS is startFake behind TLS with tc's certificate.
func startFakeTLS(t *testing.T, tc *testCert, handle func(c net.Conn, req protocol.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFake(t, tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{tc.cert}}), handle, true)
}

func TestRunWatchTLS(t *testing.T) {
	tc := newTestCert(t)
	stream := bytes.Repeat([]byte("\x47tls stream "), 100_000)
	addr := startFakeTLS(t, tc, func(c net.Conn, req protocol.Request) {
		if req.Command != protocol.CommandWatch || req.User != "fier" || req.Channel != "cam" {
			t.Errorf("fake server got %+v", req)
		}
		protocol.WriteFrame(c, protocol.OKStatus.Text())
		c.Write(stream)
	})
	for _, args := range [][]string{
		{"watch", "tls://" + addr, "--user", "fier", "--channel", "cam", "--tls-ca", tc.caFile},
		{"watch", addr, "--tls", "--user", "fier", "--channel", "cam", "--tls-ca", tc.caFile},
		{"watch", addr, "user=fier,channel=cam", "--tls-insecure"},
	} {
		t.Run(strings.Join(args[2:], " "), func(t *testing.T) {
			code, stdout, stderr := runIn(t.Context(), args, nil, nil)
			if code != exitOK || !watchEnded.MatchString(stderr) {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if stdout != string(stream) {
				t.Fatalf("stdout has %d bytes, want the %d of the stream, byte for byte", len(stdout), len(stream))
			}
		})
	}
}

// TestRunWatchTLSUnknownCA checks that the system roots do not trust a
// test certificate, and that the message says what to do.
func TestRunWatchTLSUnknownCA(t *testing.T) {
	tc := newTestCert(t)
	addr := startFakeTLS(t, tc, func(c net.Conn, _ protocol.Request) {
		t.Error("the client went on with an unverified certificate")
	})
	other := newTestCert(t)
	for _, args := range [][]string{
		{"watch", "tls://" + addr, "--user", "fier"},
		{"watch", "tls://" + addr, "--user", "fier", "--tls-ca", other.caFile},
	} {
		code, _, stderr := runIn(t.Context(), args, nil, nil)
		if code != exitError {
			t.Errorf("%v: exit %d, want %d", args, code, exitError)
		}
		for _, want := range []string{"fstream: watch tls://" + addr + ": ", "certificate signed by unknown authority", "--tls-ca FILE", "--tls-insecure"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr %q does not contain %q", args, stderr, want)
			}
		}
	}
}

// TestRunWatchTLSPlainServer plays a server without TLS, which answers a
// TLS hello with a plain error frame.
func TestRunWatchTLSPlainServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Read(make([]byte, 512)) // the ClientHello, or its start
		protocol.WriteFrame(c, protocol.Status{Reason: protocol.ReasonBadRequest, Message: "not an fstream handshake"}.Text())
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	addr := ln.Addr().String()
	code, _, stderr := runIn(t.Context(), []string{"watch", "tls://" + addr, "--user", "fier"}, nil, nil)
	want := "fstream: watch tls://" + addr + ": connect: client: server does not speak TLS"
	if code != exitError || !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, "; drop tls:// or --tls\n") {
		t.Fatalf("exit %d, stderr %q; want %q ... drop tls:// or --tls", code, stderr, want)
	}
}

// TestRunWatchPlainToTLSOnlyServer checks the message a plain client gets
// from a server that requires TLS: the server's own refusal.
func TestRunWatchPlainToTLSOnlyServer(t *testing.T) {
	const msg = "this server requires TLS: connect with tls://HOST or --tls"
	addr := startFake(t, func(c net.Conn, _ protocol.Request) {
		protocol.WriteFrame(c, protocol.Status{Reason: protocol.ReasonForbidden, Message: msg}.Text())
	})
	code, _, stderr := runIn(t.Context(), []string{"watch", addr, "--user", "fier"}, nil, nil)
	if want := "fstream: watch " + addr + ": server refused (forbidden): " + msg + "\n"; code != exitRefused || stderr != want {
		t.Fatalf("exit %d, stderr %q; want %d, %q", code, stderr, exitRefused, want)
	}
}

func TestWatchJoinFlag(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		wantJoin string
	}{
		{[]string{"watch", "127.0.0.1", "--user", "fier", "--join", "keyframe"}, exitOK, "keyframe"},
		{[]string{"watch", "127.0.0.1", "user=fier,join=live"}, exitOK, "live"},
		{[]string{"watch", "127.0.0.1", "user=fier,join=live", "--join", "gop"}, exitOK, "gop"},
		{[]string{"watch", "127.0.0.1", "--user", "fier"}, exitOK, ""},
		{[]string{"watch", "127.0.0.1", "--user", "fier", "--join", "soon"}, exitUsage, ""},
	}
	for _, tc := range tests {
		r := parse(t, tc.args, nil)
		if r.code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, r.code, tc.code, r.stderr)
			continue
		}
		if r.watch != nil && r.watch.Client.Request.Params[protocol.KeyJoin] != tc.wantJoin {
			t.Errorf("%v: join=%q, want %q", tc.args, r.watch.Client.Request.Params[protocol.KeyJoin], tc.wantJoin)
		}
	}
}

// TestWaitAndReconnectFlags: --wait, --wait-timeout, --reconnect and
// --reconnect-timeout reach the client's options; several addresses are
// normalized one by one.
func TestWaitAndReconnectFlags(t *testing.T) {
	r := parse(t, []string{"watch", "h1,tls://h2:7", "--user", "u", "--wait", "--wait-timeout", "1m", "--reconnect"}, nil)
	if r.watch == nil {
		t.Fatalf("watch did not run: exit %d, %q", r.code, r.stderr)
	}
	c := r.watch.Client
	if c.Addr != "tls://h1:61920,tls://h2:7" || c.TLS == nil || !c.Wait || c.WaitTimeout != time.Minute || c.Reconnect != defaultReconnectTimeout || c.Notify == nil {
		t.Errorf("options: addr %q, TLS %v, wait %v %v, reconnect %v", c.Addr, c.TLS != nil, c.Wait, c.WaitTimeout, c.Reconnect)
	}
	r = parse(t, []string{"broadcast", "h1,h2", "--user", "u", "--reconnect", "--reconnect-timeout", "5s"}, nil)
	if r.broadcast == nil || r.broadcast.Client.Reconnect != 5*time.Second || r.broadcast.Client.Addr != "h1:61920,h2:61920" {
		t.Fatalf("broadcast: exit %d, %q, %+v", r.code, r.stderr, r.broadcast)
	}
	if r := parse(t, []string{"watch", "h1", "--user", "u"}, nil); r.watch.Client.Reconnect != 0 || r.watch.Client.Wait {
		t.Errorf("defaults: reconnect %v, wait %v", r.watch.Client.Reconnect, r.watch.Client.Wait)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "h1", "--user", "u", "--wait-timeout", "1m"}, "--wait-timeout needs --wait"},
		{[]string{"watch", "h1", "--user", "u", "--reconnect-timeout", "1m"}, "--reconnect-timeout needs --reconnect"},
		{[]string{"broadcast", "h1", "--user", "u", "--reconnect", "--reconnect-timeout", "0s"}, "must be positive"},
		{[]string{"watch", "h1,,h2", "--user", "u"}, "bad address"},
		{[]string{"broadcast", "h1", "--user", "u", "--wait"}, "unknown flag: --wait"},
	} {
		if r := parse(t, tt.args, nil); r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, %q; want usage error %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// TestRunFailover: "fstream watch h1,h2 --reconnect" and "fstream
// broadcast h1,h2 --reconnect" carry on on the second server when the first
// stops mid-stream, and say so on stderr.
func TestRunFailover(t *testing.T) {
	ts1 := servertest.Start(t, nil)
	// Server 2 keeps the channel through a long grace after the broadcast
	// ends, so that the watcher is still watching when the test stops it.
	ts2 := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = time.Minute })
	addrs := ts1.Addr + "," + ts2.Addr
	in, feed, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	defer feed.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var watchOut, watchErr, castErr syncBuffer
	watchDone, castDone := make(chan int, 1), make(chan int, 1)
	go func() {
		s := &streams{In: nil, Out: &watchOut, Err: &watchErr, Getenv: func(string) string { return "" }}
		watchDone <- execute(ctx, []string{"watch", addrs, "--user", "fier", "--channel", "cam", "--wait", "--reconnect"}, s, "test", defaultRunners())
	}()
	go func() {
		s := &streams{In: in, Out: io.Discard, Err: &castErr, Getenv: func(string) string { return "123" }}
		castDone <- execute(t.Context(), []string{"broadcast", addrs, "--user", "fier", "--channel", "cam", "--reconnect"}, s, "test", defaultRunners())
	}()
	servertest.WaitFor(t, "the watcher on server 1", func() bool { return ts1.Watchers("fier", "cam") == 1 })
	feed.Write([]byte("one|"))
	servertest.WaitFor(t, "the first bytes", func() bool { return watchOut.String() == "one|" })
	ts1.Close()
	servertest.WaitFor(t, "both on server 2", func() bool {
		c := ts2.Channel("fier", "cam")
		return c != nil && c.Stats().Live && ts2.Watchers("fier", "cam") == 1
	})
	feed.Write([]byte("two"))
	feed.Close()
	if code := <-castDone; code != exitOK {
		t.Fatalf("broadcast: exit %d, stderr %q", code, castErr.String())
	}
	servertest.WaitFor(t, "the bytes from server 2", func() bool { return watchOut.String() == "one|two" })
	cancel()
	if code := <-watchDone; code != exitInterrupted {
		t.Fatalf("watch: exit %d, stderr %q", code, watchErr.String())
	}
	for _, e := range []string{watchErr.String(), castErr.String()} {
		if !strings.Contains(e, "fstream: lost "+ts1.Addr) || !strings.Contains(e, "fstream: reconnected to "+ts2.Addr) {
			t.Errorf("stderr %q does not tell the failover", e)
		}
	}
}
