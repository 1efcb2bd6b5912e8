package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// TestRelayByteExact broadcasts tens of MiB in uneven writes to several
// watchers and compares hashes.
func TestRelayByteExact(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	data := servertest.Payload(1, 40<<20)
	want := sha256.Sum256(data)

	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam,channel-password=456")
	var drains []*servertest.Drain
	for range 4 {
		w := servertest.MustHandshake(t, ts.Addr, "watch,user=fier,channel=cam,channel-password=456")
		drains = append(drains, servertest.StartDrain(w))
	}
	if err := servertest.WriteInPieces(b, data, 7); err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	b.CloseWrite()
	for i, d := range drains {
		d.Wait()
		if d.Err != nil {
			t.Errorf("watcher %d: %v", i, d.Err)
		}
		if d.N != int64(len(data)) || d.Sum != want {
			t.Errorf("watcher %d got %d bytes (hash match %v), want %d", i, d.N, d.Sum == want, len(data))
		}
	}
}

// TestLegacyNoAck is the original client: no ack, so no status frame; the
// watcher's first bytes are stream bytes.
func TestLegacyNoAck(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	b := servertest.Dial(t, ts.Addr)
	b.Write(servertest.Frame("broadcast,user=fier,user-password=123,delay=0,channel=exampleChannel,channel-password=456"))
	servertest.WaitFor(t, "channel live", func() bool { return ts.Channel("fier", "exampleChannel") != nil })

	w := servertest.Dial(t, ts.Addr)
	w.Write(servertest.Frame("watch,user=fier,channel=exampleChannel,channel-password=456"))
	servertest.WaitFor(t, "watcher joined", func() bool { return ts.Watchers("fier", "exampleChannel") == 1 })
	msg := []byte("\x47hello from the original client")
	b.Write(msg)
	b.CloseWrite()
	got := servertest.ExpectClosed(t, w)
	if !bytes.Equal(got, msg) {
		t.Fatalf("watcher got %q, want %q", got, msg)
	}
}

// TestRejections covers every reason code, with ack (error frame then
// close) and without (close, no bytes).
func TestRejections(t *testing.T) {
	ts := servertest.Start(t, nil)
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=live,channel-password=secret")
	servertest.WaitFor(t, "live", func() bool { return ts.Channel("fier", "live") != nil })

	tests := []struct {
		name, text string
		reason     string
	}{
		{"unknown command", "publish,user=fier", "bad-request"},
		{"missing user", "watch,channel=live", "bad-request"},
		{"path user", "watch,user=../x,channel=live", "bad-request"},
		{"path channel", "watch,user=fier,channel=/etc/passwd", "bad-request"},
		{"slash channel", "watch,user=fier,channel=a/b", "bad-request"},
		{"nul in name", "watch,user=fi\x00er", "bad-request"},
		{"empty user", "watch,user=", "bad-request"},
		{"bad delay", "broadcast,user=fier,user-password=123,delay=11", "bad-request"},
		{"field without value", "watch,user=fier,oops", "bad-request"},
		{"wrong user password", "broadcast,user=fier,user-password=nope", "unauthorized"},
		{"unknown user", "broadcast,user=nobody,user-password=123", "unauthorized"},
		{"user without password", "broadcast,user=fier", "unauthorized"},
		{"not live", "watch,user=fier,channel=nothing", "not-found"},
		{"other user's channel", "watch,user=other,channel=live,channel-password=secret", "not-found"},
		{"wrong channel password", "watch,user=fier,channel=live,channel-password=guess", "forbidden"},
		{"missing channel password", "watch,user=fier,channel=live", "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/ack", func(t *testing.T) {
			c, st := servertest.DialHandshake(t, ts.Addr, tc.text)
			wantPrefix := "error,reason=" + tc.reason + ",message="
			if !strings.HasPrefix(st, wantPrefix) || len(st) == len(wantPrefix) {
				t.Fatalf("status %q, want %s with a message", st, wantPrefix)
			}
			if rest := servertest.ExpectClosed(t, c); len(rest) != 0 {
				t.Fatalf("got %d bytes after the error frame", len(rest))
			}
		})
		t.Run(tc.name+"/legacy", func(t *testing.T) {
			c := servertest.Dial(t, ts.Addr)
			c.Write(servertest.Frame(tc.text))
			if got := servertest.ExpectClosed(t, c); len(got) != 0 {
				t.Fatalf("legacy client got %q, want a bare close", got)
			}
		})
	}
	t.Run("non-UTF-8", func(t *testing.T) {
		c := servertest.Dial(t, ts.Addr)
		c.Write(servertest.Frame("watch,user=\xff\xfe,ack=1"))
		st, err := servertest.ReadStatus(c)
		if err != nil || !strings.HasPrefix(st, "error,reason=bad-request,") {
			t.Fatalf("status %q, %v; want bad-request", st, err)
		}
	})
	t.Run("too-large", func(t *testing.T) {
		c := servertest.Dial(t, ts.Addr)
		text := "watch,ack=1,user=fier,pad=" + strings.Repeat("x", 70000)
		go c.Write(servertest.Frame(text)) // the server stops reading at its limit
		st, err := servertest.ReadStatus(c)
		if err != nil || !strings.HasPrefix(st, "error,reason=too-large,") {
			t.Fatalf("status %q, %v; want too-large", st, err)
		}
	})
	t.Run("bad marker", func(t *testing.T) {
		c := servertest.Dial(t, ts.Addr)
		f := servertest.Frame("watch,user=fier,ack=1")
		f[4] = 1
		c.Write(f)
		servertest.ExpectClosed(t, c)
	})
}

func TestBusy(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.MaxConns = 1 })
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	_, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier")
	if !strings.HasPrefix(st, "error,reason=busy,") {
		t.Fatalf("status %q, want busy", st)
	}
}

// TestIsolation runs two users' channels of the same name and two channels
// of one user at once; every watcher gets only its own stream.
func TestIsolation(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	type stream struct {
		user, pw, channel string
		data              []byte
	}
	streams := []stream{
		{"fier", "123", "cam", servertest.Payload(10, 3<<20)},
		{"other", "456", "cam", servertest.Payload(11, 3<<20)},
		{"fier", "123", "desk", servertest.Payload(12, 3<<20)},
		{"jörg", "pw", "cam", servertest.Payload(13, 1<<20)},
	}
	var bs []*net.TCPConn
	var ds []*servertest.Drain
	for _, s := range streams {
		bs = append(bs, servertest.MustHandshake(t, ts.Addr, fmt.Sprintf("broadcast,user=%s,user-password=%s,channel=%s", s.user, s.pw, s.channel)))
	}
	for _, s := range streams {
		ds = append(ds, servertest.StartDrain(servertest.MustHandshake(t, ts.Addr, fmt.Sprintf("watch,user=%s,channel=%s", s.user, s.channel))))
	}
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() {
			servertest.WriteInPieces(bs[i], s.data, uint64(i))
			bs[i].CloseWrite()
		})
	}
	wg.Wait()
	for i, d := range ds {
		d.Wait()
		if d.Sum != sha256.Sum256(streams[i].data) {
			t.Errorf("watcher of %s/%s got the wrong bytes (%d)", streams[i].user, streams[i].channel, d.N)
		}
	}
}

// TestTakeover: a second broadcaster of the same channel replaces the first;
// watchers go on with the new bytes.
func TestTakeover(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	a := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam")
	w := servertest.MustHandshake(t, ts.Addr, "watch,user=fier,channel=cam")
	a.Write(bytes.Repeat([]byte("A"), 1000))
	w.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 1000)
	if _, err := io.ReadFull(w, got); err != nil || bytes.Count(got, []byte("A")) != 1000 {
		t.Fatalf("first broadcaster's bytes: %q %v", got[:10], err)
	}

	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam,channel-password=new")
	servertest.ExpectClosed(t, a) // the old broadcaster is cut off
	b.Write(bytes.Repeat([]byte("B"), 1000))
	b.CloseWrite()
	rest := servertest.ExpectClosed(t, w)
	if !bytes.Equal(rest, bytes.Repeat([]byte("B"), 1000)) {
		t.Fatalf("after takeover watcher got %d bytes %q...", len(rest), rest[:min(10, len(rest))])
	}
	// The new broadcaster's password applies.
	if _, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,channel=cam"); st != "error,reason=not-found,message=channel \"cam\" of user \"fier\" is not live" {
		t.Logf("status after end: %q", st)
	}
}

// TestGrace: watchers stay while the broadcaster restarts, new watchers are
// refused meanwhile, and watchers are closed cleanly once the grace ends.
func TestGrace(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = time.Hour })
	a := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam,channel-password=p")
	w := servertest.MustHandshake(t, ts.Addr, "watch,user=fier,channel=cam,channel-password=p")
	a.Write([]byte("one,"))
	a.Close()
	servertest.WaitFor(t, "broadcaster gone", func() bool { return !ts.Channel("fier", "cam").Stats().Live })
	if _, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,channel=cam,channel-password=p"); !strings.HasPrefix(st, "error,reason=not-found,") {
		t.Fatalf("watcher during grace: %q, want not-found", st)
	}
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam,channel-password=p")
	b.Write([]byte("two"))
	w.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len("one,two"))
	if _, err := io.ReadFull(w, got); err != nil || string(got) != "one,two" {
		t.Fatalf("watcher across restart got %q, %v", got, err)
	}
	if ts.Watchers("fier", "cam") != 1 {
		t.Fatal("watcher not on the channel after the restart")
	}
}

func TestGraceExpires(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 50 * time.Millisecond })
	a := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	w := servertest.MustHandshake(t, ts.Addr, "watch,user=fier")
	a.Write([]byte("last words"))
	a.Close()
	if got := servertest.ExpectClosed(t, w); string(got) != "last words" {
		t.Fatalf("watcher got %q before the clean close", got)
	}
	servertest.WaitFor(t, "channel removed", func() bool { return ts.Channel("fier", "default") == nil })
}

// TestStalledWatcher: a watcher that never reads does not stop the others;
// it is disconnected after the stall timeout. The socket buffers on both
// sides are pinned small: with buffers the kernel tunes (and sizes from
// what it remembers of 127.0.0.1) the server could hand the kernel far more
// of the stream than the stalled watcher ever reads.
func TestStalledWatcher(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) {
		c.BroadcasterGrace = 0
		c.ChannelBuffer = 256 << 10
		c.StallTimeout = 200 * time.Millisecond
		c.WatcherSendBuffer = 64 << 10
	})
	data := servertest.Payload(3, 24<<20)
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	stalled := servertest.DialSlow(t, ts.Addr, 4096)
	if st := servertest.Handshake(t, stalled, "watch,user=fier"); st != "ok" {
		t.Fatalf("stalled watcher's handshake: %q", st)
	}
	good := []*servertest.Drain{
		servertest.StartDrain(servertest.MustHandshake(t, ts.Addr, "watch,user=fier")),
		servertest.StartDrain(servertest.MustHandshake(t, ts.Addr, "watch,user=fier")),
	}
	if err := servertest.WriteInPieces(b, data, 3); err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	b.CloseWrite()
	want := sha256.Sum256(data)
	for i, d := range good {
		if d.Wait(); d.Sum != want {
			t.Errorf("reading watcher %d got %d bytes, hash mismatch", i, d.N)
		}
	}
	if got := servertest.ExpectClosed(t, stalled); len(got) >= len(data) {
		t.Errorf("stalled watcher received everything (%d bytes); want it evicted", len(got))
	}
}

// TestSlowWatcherLag: a live-paced stream with a watcher that reads too
// slowly; the others keep pace and the slow one is removed at max-lag. The
// socket buffers on both sides are pinned small, so that the server sees the
// watcher lag instead of handing the kernel the whole stream (which it does
// when the kernel tunes the buffers after earlier fast runs to 127.0.0.1).
func TestSlowWatcherLag(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) {
		c.BroadcasterGrace = 0
		c.MaxLag = 300 * time.Millisecond
		c.WatcherSendBuffer = 16 << 10
	})
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	slow := servertest.DialSlow(t, ts.Addr, 4096)
	if st := servertest.Handshake(t, slow, "watch,user=fier"); st != "ok" {
		t.Fatalf("slow watcher's handshake: %q", st)
	}
	good := servertest.StartDrain(servertest.MustHandshake(t, ts.Addr, "watch,user=fier"))

	// The slow watcher reads a trickle; the broadcaster is paced.
	slowDone := make(chan int64)
	go func() {
		var n int64
		buf := make([]byte, 512)
		slow.SetReadDeadline(time.Now().Add(time.Minute))
		for {
			k, err := slow.Read(buf)
			n += int64(k)
			if err != nil {
				slowDone <- n
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	chunk := servertest.Payload(4, 64<<10)
	var sent bytes.Buffer
	for range 60 {
		b.Write(chunk)
		sent.Write(chunk)
		time.Sleep(25 * time.Millisecond)
		if ts.Watchers("fier", "default") == 1 {
			break
		}
	}
	servertest.WaitFor(t, "slow watcher evicted", func() bool { return ts.Watchers("fier", "default") == 1 })
	b.CloseWrite()
	if good.Wait(); good.Sum != sha256.Sum256(sent.Bytes()) {
		t.Errorf("fast watcher got %d of %d bytes", good.N, sent.Len())
	}
	if n := <-slowDone; n >= int64(sent.Len()) {
		t.Errorf("slow watcher got everything")
	}
}

// TestGarbage throws bad input at the server, then checks it still relays
// byte-exactly.
func TestGarbage(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) {
		c.HandshakeTimeout = 300 * time.Millisecond
		c.BroadcasterGrace = 0
	})
	huge := make([]byte, 5)
	binary.BigEndian.PutUint32(huge, 0xffffffff)
	inputs := [][]byte{
		huge,
		servertest.Frame("watch,user=fier")[:8], // truncated text
		{0, 0},                                  // truncated header
		{},                                      // silent
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), // wrong protocol
		servertest.Frame("\xff\xfe\xfd"),
		servertest.Frame("broadcast,user=../../etc/passwd,user-password=x"),
		servertest.Frame(strings.Repeat(",", 1000)),
		{0x16, 0x03, 0x01, 0x00, 0x05, 0x01}, // a TLS ClientHello start
	}
	r := rand.New(rand.NewPCG(5, 5))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	for i := range 1000 {
		var in []byte
		if i < len(inputs)*20 {
			in = inputs[i%len(inputs)]
		} else {
			in = make([]byte, r.IntN(300))
			for j := range in {
				in[j] = byte(r.Uint32())
			}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second)
			if err != nil {
				t.Errorf("dial %d: %v", i, err)
				return
			}
			defer c.Close()
			c.Write(in)
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			var got bytes.Buffer
			n, err := io.Copy(&got, io.LimitReader(c, 1<<20))
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				t.Errorf("garbage connection %d not closed by the server", i)
			case n > 0 && len(in) > 0 && (in[0] == 'G' || in[0] == 'P' || in[0] == 'H'):
				// What starts like an HTTP request is told, in HTTP,
				// that this is the stream port.
				if !bytes.HasPrefix(got.Bytes(), []byte("HTTP/1.1 400 Bad Request\r\n")) {
					t.Errorf("garbage connection %d (HTTP-like) got %q", i, got.Bytes())
				}
			case n > 0 && len(in) > 0 && in[0] != 0 && in[0] != 0x16:
				// Only a frame (0x00...) or a TLS hello (0x16, told that
				// this server speaks no TLS) may get an answer.
				t.Errorf("garbage connection %d got %d bytes", i, n)
			}
		})
	}
	wg.Wait()

	data := servertest.Payload(9, 8<<20)
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	d := servertest.StartDrain(servertest.MustHandshake(t, ts.Addr, "watch,user=fier"))
	servertest.WriteInPieces(b, data, 9)
	b.CloseWrite()
	if d.Wait(); d.Sum != sha256.Sum256(data) {
		t.Fatalf("relay after garbage: %d bytes, hash mismatch", d.N)
	}
}

// TestDelay: with delay the bytes still all arrive, in order.
func TestDelay(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,delay=0.05")
	d := servertest.StartDrain(servertest.MustHandshake(t, ts.Addr, "watch,user=fier"))
	data := servertest.Payload(6, 2<<20)
	servertest.WriteInPieces(b, data, 6)
	b.CloseWrite()
	if d.Wait(); d.Sum != sha256.Sum256(data) {
		t.Fatalf("delayed relay: %d bytes, hash mismatch", d.N)
	}
}

// TestShutdown: Shutdown stops accepting, ends broadcasters, lets watchers
// receive every byte the server had already accepted, and returns once every
// connection is gone.
func TestShutdown(t *testing.T) {
	ts := servertest.Start(t, nil)
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	var ds []*servertest.Drain
	for range 3 {
		ds = append(ds, servertest.StartDrain(servertest.MustHandshake(t, ts.Addr, "watch,user=fier")))
	}
	idle := servertest.Dial(t, ts.Addr) // never sends a handshake
	data := servertest.Payload(8, 4<<20)
	if err := servertest.WriteInPieces(b, data, 8); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "bytes accepted", func() bool { return ts.Channel("fier", "default").Stats().BytesIn == int64(len(data)) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	want := sha256.Sum256(data)
	for i, d := range ds {
		if d.Wait(); d.Sum != want || d.Err != nil {
			t.Errorf("watcher %d got %d of %d accepted bytes (%v)", i, d.N, len(data), d.Err)
		}
	}
	servertest.ExpectClosed(t, b)
	servertest.ExpectClosed(t, idle)
	if _, err := net.DialTimeout("tcp", ts.Addr, time.Second); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
}

// TestBufsizeJoin: a generic stream with bufsize=N; a late watcher starts at
// the start of the current N-byte chunk.
func TestBufsizeJoin(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,bufsize=1000")
	data := servertest.Payload(12, 3000)
	b.Write(data[:2500])
	servertest.WaitFor(t, "bytes accepted", func() bool { return ts.Channel("fier", "default").Stats().BytesIn == 2500 })
	w := servertest.MustHandshake(t, ts.Addr, "watch,user=fier")
	b.Write(data[2500:])
	b.CloseWrite()
	if got := servertest.ExpectClosed(t, w); !bytes.Equal(got, data[2000:]) {
		t.Fatalf("late watcher got %d bytes starting %x; want the chunk from byte 2000", len(got), got[:min(8, len(got))])
	}
	if _, st := servertest.DialHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,bufsize=0"); !strings.HasPrefix(st, "error,reason=bad-request,") {
		t.Fatalf("bufsize=0: %q", st)
	}
}

// TestPasswordRefusalsSayWhich: a watcher is told whether it gave no channel
// password or a wrong one; nothing is said about users.
func TestPasswordRefusalsSayWhich(t *testing.T) {
	ts := servertest.Start(t, nil)
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=live,channel-password=secret")
	for text, want := range map[string]string{
		"watch,user=fier,channel=live":                        "error,reason=forbidden,message=channel is protected: give its password",
		"watch,user=fier,channel=live,channel-password=guess": "error,reason=forbidden,message=wrong channel password",
		"broadcast,user=nobody,user-password=x":               "error,reason=unauthorized,message=wrong user or password",
		"broadcast,user=fier,user-password=x":                 "error,reason=unauthorized,message=wrong user or password",
	} {
		if _, st := servertest.DialHandshake(t, ts.Addr, text); st != want {
			t.Errorf("%s: status %q, want %q", text, st, want)
		}
	}
}
