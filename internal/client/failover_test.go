package client_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// notes collects Notify's lines.
type notes struct {
	mu    sync.Mutex
	lines []string
}

func (n *notes) add(msg string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lines = append(n.lines, msg)
}

func (n *notes) has(substr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range n.lines {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.lines, "\n")
}

// TestWatchWait: a watcher started before the broadcaster is held by the
// server and gets the stream once it starts.
func TestWatchWait(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	var n notes
	var out client.SyncBuffer
	done := make(chan error, 1)
	go func() {
		o := client.Opts(ts.Addr, client.WatchReq)
		o.Wait, o.Notify = true, n.add
		done <- client.Watch(t.Context(), o, &out)
	}()
	servertest.WaitFor(t, "the watcher to wait", func() bool { return ts.Counters().Connections == 1 })
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam")
	servertest.WaitFor(t, "the watcher to join", func() bool { return ts.Watchers("fier", "cam") == 1 })
	b.Write([]byte("the stream"))
	b.CloseWrite()
	if err := <-done; err != nil {
		t.Fatalf("client.Watch: %v", err)
	}
	if got := string(out.Bytes()); got != "the stream" {
		t.Errorf("got %q", got)
	}
	if !n.has("waiting for fier/cam to go live…") {
		t.Errorf("notes %q do not say it waits", n.String())
	}
}

// TestWatchWaitOldServer: a server that does not know wait=1 refuses with
// not-found; client.Watch asks again, with backoff, until the channel is live.
func TestWatchWaitOldServer(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	addr := client.StartFake(t, func(c net.Conn) {
		req := client.ReadHandshake(t, c)
		if req.Params[protocol.KeyWait] != "1" {
			t.Errorf("handshake without wait=1: %v", req.Params)
		}
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		if n < 3 {
			client.SendStatus(t, c, protocol.Status{Reason: protocol.ReasonNotFound, Message: "not live"})
			return
		}
		client.SendStatus(t, c, protocol.OKStatus)
		c.Write([]byte("at last"))
	})
	var n notes
	var out client.SyncBuffer
	o := client.Opts(addr, client.WatchReq)
	o.Wait, o.Notify = true, n.add
	if err := client.Watch(t.Context(), o, &out); err != nil {
		t.Fatalf("client.Watch: %v", err)
	}
	if string(out.Bytes()) != "at last" || attempts != 3 {
		t.Fatalf("got %q after %d attempts", out.Bytes(), attempts)
	}
	if !n.has("waiting for fier/cam to go live…") {
		t.Errorf("notes %q", n.String())
	}
}

// TestWatchWaitTimeout: WaitTimeout ends the wait with not-found; without
// Wait a channel that is not live is refused at once, as ever.
func TestWatchWaitTimeout(t *testing.T) {
	ts := servertest.Start(t, nil)
	o := client.Opts(ts.Addr, client.WatchReq)
	o.Wait, o.WaitTimeout = true, 50*time.Millisecond
	err := client.Watch(t.Context(), o, &client.SyncBuffer{})
	ref, ok := errors.AsType[*protocol.RefusedError](err)
	if !ok || ref.Reason != protocol.ReasonNotFound || ref.Message != "fier/cam did not go live within 50ms" {
		t.Fatalf("client.Watch: %v; want not-found after the wait", err)
	}
	err = client.Watch(t.Context(), client.Opts(ts.Addr, client.WatchReq), &client.SyncBuffer{})
	if ref, ok := errors.AsType[*protocol.RefusedError](err); !ok || ref.Reason != protocol.ReasonNotFound {
		t.Fatalf("client.Watch without Wait: %v", err)
	}
}

// TestBroadcastFailover: a broadcaster whose server stops mid-stream goes
// on to the next address and keeps piping its input there.
func TestBroadcastFailover(t *testing.T) {
	ts1 := servertest.Start(t, nil)
	ts2 := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	// The first part fits the pipe's buffer; the second is written while
	// the broadcaster reads.
	first, second := client.StreamData(32<<10), client.StreamData(300 << 10)[200<<10:]
	w.Write(first)
	var n notes
	done := make(chan error, 1)
	go func() {
		o := client.Opts(ts1.Addr+","+ts2.Addr, protocol.Request{User: "fier", UserPassword: "123", Channel: "cam"})
		o.Reconnect, o.Notify = time.Minute, n.add
		done <- client.Broadcast(t.Context(), o, r)
	}()
	servertest.WaitFor(t, "the first bytes on server 1", func() bool {
		c := ts1.Channel("fier", "cam")
		return c != nil && c.Stats().BytesIn == int64(len(first))
	})
	ts1.Close()
	waitLive(t, ts2, "fier", "cam")
	watcher := servertest.MustHandshake(t, ts2.Addr, "watch,user=fier,channel=cam")
	servertest.WaitFor(t, "a watcher on server 2", func() bool { return ts2.Watchers("fier", "cam") == 1 })
	go func() {
		w.Write(second)
		w.Close()
	}()
	if err := <-done; err != nil {
		t.Fatalf("client.Broadcast: %v (notes %q)", err, n.String())
	}
	if got := servertest.ExpectClosed(t, watcher); !bytes.Equal(got, second) {
		t.Fatalf("server 2's watcher got %d bytes, want the %d written after the failover", len(got), len(second))
	}
	if !n.has("lost "+ts1.Addr) || !n.has("reconnected to "+ts2.Addr) {
		t.Errorf("notes %q", n.String())
	}
}

// TestWatchFailover: a watcher whose server stops goes on, on the next
// address, once the broadcaster is there too, and keeps writing to the same
// output.
func TestWatchFailover(t *testing.T) {
	ts1 := servertest.Start(t, nil)
	ts2 := servertest.Start(t, nil)
	b1 := servertest.MustHandshake(t, ts1.Addr, "broadcast,user=fier,user-password=123,channel=cam")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var n notes
	var out client.SyncBuffer
	done := make(chan error, 1)
	go func() {
		o := client.Opts(ts1.Addr+","+ts2.Addr, client.WatchReq)
		o.Reconnect, o.Notify = time.Minute, n.add
		done <- client.Watch(ctx, o, &out)
	}()
	servertest.WaitFor(t, "the watcher on server 1", func() bool { return ts1.Watchers("fier", "cam") == 1 })
	b1.Write([]byte("before|"))
	servertest.WaitFor(t, "the first bytes", func() bool { return string(out.Bytes()) == "before|" })
	ts1.Close()
	servertest.WaitFor(t, "the watcher to wait on server 2", func() bool { return ts2.Counters().Connections == 1 })
	b2 := servertest.MustHandshake(t, ts2.Addr, "broadcast,user=fier,user-password=123,channel=cam")
	servertest.WaitFor(t, "the watcher on server 2", func() bool { return ts2.Watchers("fier", "cam") == 1 })
	b2.Write([]byte("after"))
	servertest.WaitFor(t, "the bytes from server 2", func() bool { return string(out.Bytes()) == "before|after" })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("client.Watch: %v", err)
	}
	if !n.has("lost "+ts1.Addr) || !n.has("reconnected to "+ts2.Addr) {
		t.Errorf("notes %q", n.String())
	}
}

// TestFailoverFinal: refusals and a takeover are not retried.
func TestFailoverFinal(t *testing.T) {
	ts := servertest.Start(t, nil)
	o := client.Opts(ts.Addr, protocol.Request{User: "fier", UserPassword: "wrong"})
	o.Reconnect = time.Minute
	err := client.Broadcast(t.Context(), o, client.FailReader(t))
	if ref, ok := errors.AsType[*protocol.RefusedError](err); !ok || ref.Reason != protocol.ReasonUnauthorized {
		t.Fatalf("wrong password: %v", err)
	}
	if n := ts.Counters().Handshakes["unauthorized"]; n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}

	o = client.Opts(ts.Addr, protocol.Request{User: "fier", UserPassword: "123"})
	o.Reconnect = time.Minute
	done := make(chan error, 1)
	go func() { done <- client.Broadcast(t.Context(), o, idleInput(t, []byte("x"))) }()
	waitLive(t, ts, "fier", "default")
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	if cut, ok := errors.AsType[*client.CutError](<-done); !ok || cut.Reason != protocol.ReasonTakenOver {
		t.Fatal("a takeover was not final")
	}
}
