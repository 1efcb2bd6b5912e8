package natstest

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo serves one connection that echoes what it reads.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, msg string, wait time.Duration) error {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	b := make([]byte, len(msg))
	_, err := io.ReadFull(c, b)
	if err == nil && string(b) != msg {
		t.Fatalf("read %q, want %q", b, msg)
	}
	return err
}

// TestProxy: bytes pass; a blackhole holds them without closing; Restore
// delivers them; Cut closes the connection.
func TestProxy(t *testing.T) {
	p := StartProxy(t, echo(t))
	c, err := net.DialTimeout("tcp", p.Addr(), dialTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(t, c, "one", 10*time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Blackhole()
	// A short wait is enough to show silence: a pass would be a failure
	// however slow the machine.
	if err := roundTrip(t, c, "two", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("through a blackhole: %v, want silence (a timeout)", err)
	}
	p.Restore()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 3)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "two" {
		t.Fatalf("after Restore: %q, %v; want the held bytes", b, err)
	}
	p.Cut()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(b); errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
		t.Fatalf("after Cut: %v, want the connection closed", err)
	}
}
