package bench

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// TestTCPState reads the kernel's TCP state with unix.GetsockoptTCPInfo
// through each wrapper the bench puts around a connection: plain TCP, a
// client connection (after a handshake), and TLS.
func TestTCPState(t *testing.T) {
	cert, err := writeSelfSigned(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cert.certFile, cert.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		wrap func(c net.Conn, peer net.Conn) net.Conn
	}{
		{"tcp", func(c, _ net.Conn) net.Conn { return c }},
		{"tls", func(c, peer net.Conn) net.Conn {
			srv := tls.Server(peer, &tls.Config{Certificates: []tls.Certificate{pair}})
			cl := tls.Client(c, &tls.Config{RootCAs: cert.pool, ServerName: "127.0.0.1"})
			errc := make(chan error, 1)
			go func() { errc <- srv.Handshake() }()
			if err := cl.Handshake(); err != nil {
				t.Fatalf("TLS handshake: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("TLS handshake, server side: %v", err)
			}
			return cl
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := tcpPair(t)
			wrapped := tt.wrap(c, peer)
			if got := tcpOf(wrapped); got != c {
				t.Fatalf("tcpOf = %v, want the TCP connection %v", got, c)
			}
			st, err := tcpState(wrapped)
			if err != nil || st != unix.BPF_TCP_ESTABLISHED {
				t.Fatalf("tcpState = %d, %v; want ESTABLISHED (%d)", st, err, unix.BPF_TCP_ESTABLISHED)
			}
			_ = peer.Close() // a FIN: this side goes to CLOSE_WAIT
			deadline := time.Now().Add(5 * time.Second)
			for st == unix.BPF_TCP_ESTABLISHED && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
				st, err = tcpState(wrapped)
			}
			if err != nil || st != unix.BPF_TCP_CLOSE_WAIT {
				t.Errorf("after the peer's close: tcpState = %d, %v; want CLOSE_WAIT (%d)", st, err, unix.BPF_TCP_CLOSE_WAIT)
			}
			abort(wrapped)
			if _, err := tcpState(wrapped); err == nil {
				t.Error("tcpState of a closed connection: no error")
			}
		})
	}
	if _, err := tcpState(pipeConn(t)); err == nil {
		t.Error("tcpState of a pipe: no error")
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (c, peer *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ac, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dc.Close(); _ = ac.Close() })
	return dc.(*net.TCPConn), ac.(*net.TCPConn)
}

// pipeConn returns a connection that is not TCP.
func pipeConn(t *testing.T) net.Conn {
	a, b := net.Pipe()
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return a
}
