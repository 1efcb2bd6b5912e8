package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// result is what one in-process command line did.
type result struct {
	code           int
	stdout, stderr string
	serve          *serveOptions
	watch          *watchOptions
	broadcast      *broadcastOptions
}

// parse runs args with runners that only record their options, so it tests
// flag parsing without running anything.
func parse(t *testing.T, args []string, env map[string]string) result {
	t.Helper()
	var r result
	run := runners{
		serve:     func(_ context.Context, o *serveOptions) error { r.serve = o; return nil },
		watch:     func(_ context.Context, o *watchOptions) error { r.watch = o; return nil },
		broadcast: func(_ context.Context, o *broadcastOptions) error { r.broadcast = o; return nil },
	}
	var stdout, stderr bytes.Buffer
	s := &streams{
		In:     strings.NewReader("stdin"),
		Out:    &stdout,
		Err:    &stderr,
		Getenv: func(k string) string { return env[k] },
	}
	r.code = execute(t.Context(), args, s, "v1.2.3-test", run)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	return r
}

// runIn runs args in-process with the real runners.
func runIn(ctx context.Context, args []string, stdin io.Reader, env map[string]string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	s := &streams{In: stdin, Out: &out, Err: &errb, Getenv: func(k string) string { return env[k] }}
	code = execute(ctx, args, s, "test", defaultRunners())
	return code, out.String(), errb.String()
}

// startFake runs a fake fstream server on 127.0.0.1:0 for one test; each
// connection is passed to handle with its parsed handshake.
func startFake(t *testing.T, handle func(c net.Conn, req protocol.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFake(t, ln, handle, false)
}

// serveFake accepts on ln until the test ends. quietReadErrors is for TLS
// fakes, whose clients may refuse the certificate before any handshake.
func serveFake(t *testing.T, ln net.Listener, handle func(c net.Conn, req protocol.Request), quietReadErrors bool) string {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				text, err := protocol.ReadFrame(c, protocol.DefaultMaxText)
				if err != nil {
					if !quietReadErrors {
						t.Errorf("fake server: %v", err)
					}
					return
				}
				req, err := protocol.ParseRequest(text)
				if err != nil {
					t.Errorf("fake server: %q: %v", text, err)
					return
				}
				handle(c, req)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}
