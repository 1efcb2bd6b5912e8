//go:build linux && !386

package bench

import (
	"net"
	"testing"
	"time"
)

// TestPeerGone checks that a stalled watcher learns of a reset and of a
// close without reading the bytes waiting for it.
func TestPeerGone(t *testing.T) {
	for _, reset := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		_ = ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(make([]byte, 1000)); err != nil { // unread by c
			t.Fatal(err)
		}
		if peerGone(c) {
			t.Errorf("reset %v: peerGone before the peer closed", reset)
		}
		if reset {
			_ = s.(*net.TCPConn).SetLinger(0)
		}
		_ = s.Close()
		deadline := time.Now().Add(5 * time.Second)
		for !peerGone(c) {
			if time.Now().After(deadline) {
				t.Fatalf("reset %v: peerGone still false 5 s after the close", reset)
			}
			time.Sleep(time.Millisecond)
		}
		_ = c.Close()
		if !peerGone(c) {
			t.Errorf("reset %v: peerGone false on a closed connection", reset)
		}
	}
}
