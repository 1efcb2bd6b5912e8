package server_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/certs/certstest"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

const (
	// hangUps is how many watchers hang up at once in the hang-up tests.
	hangUps = 300
	// hangUpNoticed bounds the time the server may take to let go of
	// watchers that hung up while nothing was written to them: the issue's
	// "within a second", with room for a busy machine (the idle check
	// runs every 500 ms).
	hangUpNoticed = 2 * time.Second
)

// openFDs counts the process's open descriptors (server and test clients
// alike), or -1 where /proc is missing.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// tsNulls returns n MPEG-TS null packets: a stream the hub recognises as
// MPEG-TS, with no program and no join point.
func tsNulls(n int) []byte {
	pk := append([]byte{0x47, 0x1f, 0xff, 0x10}, bytes.Repeat([]byte{0xff}, 184)...)
	return bytes.Repeat(pk, n)
}

// TestIdleWatchersHangUp: watchers to which nothing is being written (of a
// silent channel, or waiting for a keyframe that does not come) hang up,
// with a close or a reset, over plain TCP and TLS. The server notices each
// at once: its watchers and descriptors are back to where they were within
// hangUpNoticed.
func TestIdleWatchersHangUp(t *testing.T) {
	cert := certstest.New(t)
	pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ts := servertest.Start(t, func(c *server.Config) {
		c.MaxConnsPerIP = 2*hangUps + 10
		c.JoinTimeout = time.Hour // the waiting watchers keep waiting
		c.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	})
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=silent")
	nokey := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=nokey")
	if _, err := nokey.Write(tsNulls(64)); err != nil {
		t.Fatal(err)
	}
	live := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=nokeylive")
	feedNulls(t, live)
	for _, ch := range []string{"nokey", "nokeylive"} {
		servertest.WaitFor(t, "the format of channel "+ch, func() bool {
			return ts.Channel("fier", ch).Stats().Media.Format == "mpegts"
		})
	}
	clientTLS := &tls.Config{RootCAs: certstest.Pool(cert), ServerName: "127.0.0.1"}
	for _, tc := range []struct {
		name, channel, join string
	}{
		{"silent channel", "silent", "gop"},
		{"waiting for a keyframe", "nokey", "keyframe"},
		// Woken by every chunk, a waiting watcher must still check.
		{"waiting for a keyframe on a live channel", "nokeylive", "keyframe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testHangUps(t, ts, clientTLS, tc.channel, tc.join)
		})
	}
}

// feedNulls sends a TS null packet to b every 10 ms until the test ends:
// a live channel without a keyframe.
func feedNulls(t *testing.T, b net.Conn) {
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				b.SetWriteDeadline(time.Now().Add(servertest.IOTimeout))
				if _, err := b.Write(tsNulls(1)); err != nil {
					return
				}
			}
		}
	}()
}

// testHangUps connects hangUps watchers of channel (every tenth over TLS),
// makes sure they are all in the hub (and waiting, with join=keyframe),
// hangs them up (every other with a reset) and waits for the server to let
// go of them.
func testHangUps(t *testing.T, ts *servertest.Server, clientTLS *tls.Config, channel, join string) {
	handshake := fmt.Sprintf("watch,user=fier,channel=%s,join=%s", channel, join)
	base, baseWatchers := openFDs(t), ts.Counters().Watchers
	raws := make([]*net.TCPConn, hangUps)
	conns := make([]net.Conn, hangUps)
	for i := range conns {
		raws[i] = servertest.Dial(t, ts.Addr)
		conns[i] = raws[i]
		if i%10 == 9 {
			tc := tls.Client(raws[i], clientTLS)
			tc.SetDeadline(time.Now().Add(servertest.IOTimeout))
			if err := tc.Handshake(); err != nil {
				t.Fatalf("TLS handshake: %v", err)
			}
			tc.SetDeadline(time.Time{})
			conns[i] = tc
		}
		if st := servertest.Handshake(t, conns[i], handshake); st != "ok" {
			t.Fatalf("watcher %d: status %q", i, st)
		}
	}
	servertest.WaitFor(t, "every watcher in the hub", func() bool { return ts.Counters().Watchers == baseWatchers+hangUps })
	for _, w := range ts.Channel("fier", channel).Info().Watchers {
		if w.Waiting != (join == "keyframe") {
			t.Fatalf("watcher of channel %s with join=%s: waiting=%v", channel, join, w.Waiting)
		}
	}
	for i, c := range raws {
		if i%2 == 1 {
			c.SetLinger(0) // a reset
		}
		c.Close()
	}
	closed := time.Now()
	var fds int
	var watchers int64
	for {
		fds, watchers = openFDs(t), ts.Counters().Watchers
		if watchers == baseWatchers && fds <= base {
			break
		}
		if time.Since(closed) > hangUpNoticed {
			t.Fatalf("%v after %d watchers hung up the server still has %d of them and %d descriptors (%d before)",
				hangUpNoticed, hangUps, watchers-baseWatchers, fds, base)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d watchers hung up (half reset, a tenth TLS); the server let go of them in %v (descriptors %d, before %d)",
		hangUps, time.Since(closed).Round(time.Millisecond), fds, base)
}
