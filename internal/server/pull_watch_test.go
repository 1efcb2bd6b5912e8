package server

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair returns both ends of a TCP connection on 127.0.0.1.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestWatchedReader: bytes pass; a silence asks check, which may let the
// reader wait on (then later bytes still arrive) or give up (then the read
// fails with its reason and the connection stays cut); a cut from outside
// ends a read at once and is never undone by the reader.
func TestWatchedReader(t *testing.T) {
	c, peer := tcpPair(t)
	u := newUpstream(c, "o", "o", "s", 20*time.Millisecond)
	var checks atomic.Int32
	verdict := make(chan error, 1)
	r := newWatchedReader(u, func(got *upstream, silent time.Duration) error {
		if got != u || silent <= 0 {
			t.Errorf("check(%p, %v), want the upstream and a silence", got, silent)
		}
		checks.Add(1)
		select {
		case err := <-verdict:
			return err
		default:
			return nil // wait on
		}
	})
	buf := make([]byte, 16)
	peer.Write([]byte("one"))
	if n, err := io.ReadAtLeast(r, buf, 3); err != nil || string(buf[:n]) != "one" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	// Silent until the reader has asked twice; then bytes come.
	go func() {
		for end := time.Now().Add(20 * time.Second); checks.Load() < 2 && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		peer.Write([]byte("two"))
	}()
	if n, err := io.ReadAtLeast(r, buf, 3); err != nil || string(buf[:n]) != "two" {
		t.Fatalf("after a silence the directory allowed: read %q, %v", buf[:n], err)
	}
	lost := upstreamLost("test")
	verdict <- lost
	if _, err := r.Read(buf); !errors.Is(err, errUpstreamLost) {
		t.Fatalf("silence the directory refused: %v, want errUpstreamLost", err)
	}
	if _, err := r.Read(buf); !errors.Is(err, errUpstreamLost) {
		t.Fatalf("read after the cut: %v, want the cut's reason again", err)
	}

	// A poke (the directory saw the entry expire) checks at once, however
	// long the period, and the reader waits on when the check says so.
	c3, peer3 := tcpPair(t)
	u3 := newUpstream(c3, "o", "o", "s", time.Hour)
	poked := make(chan struct{}, 1)
	r3 := newWatchedReader(u3, func(*upstream, time.Duration) error { poked <- struct{}{}; return nil })
	got3 := make(chan string, 1)
	go func() {
		b := make([]byte, 5)
		n, _ := io.ReadAtLeast(r3, b, 5)
		got3 <- string(b[:n])
	}()
	for deadline := time.Now().Add(20 * time.Second); ; {
		u3.poke()
		select {
		case <-poked:
		case <-time.After(10 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue // poked before the read began: the reader armed afterwards
			}
			t.Fatal("a poke made no check")
		}
		break
	}
	peer3.Write([]byte("three"))
	if s := <-got3; s != "three" {
		t.Fatalf("after a poke: read %q, want the stream to go on", s)
	}

	// A cut from outside while a read waits.
	c2, _ := tcpPair(t)
	u2 := newUpstream(c2, "o", "o", "s", time.Hour)
	r2 := newWatchedReader(u2, func(*upstream, time.Duration) error { return nil })
	done := make(chan error, 1)
	go func() { _, err := r2.Read(buf); done <- err }()
	u2.cut(errPullEnded)
	if err := <-done; !errors.Is(err, errPullEnded) {
		t.Fatalf("read cut from outside: %v, want errPullEnded", err)
	}
	u2.arm(time.Now().Add(time.Hour))
	if _, err := r2.Read(buf); !errors.Is(err, errPullEnded) {
		t.Fatalf("read after arming a cut connection: %v, want errPullEnded", err)
	}
}
