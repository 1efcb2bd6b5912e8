package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// TestWatchWait: a watcher with wait=1 is told "waiting", held while the
// channel is not live, and joined with "ok" when a broadcaster arrives;
// its password is checked then.
func TestWatchWait(t *testing.T) {
	ts := servertest.Start(t, nil)
	w, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,channel=cam,channel-password=pw,wait=1")
	if st != `waiting,message=channel "cam" of user "fier" is not live yet; waiting up to 10m0s` {
		t.Fatalf("first status %q, want waiting", st)
	}
	wrong, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,channel=cam,channel-password=guess,wait=1")
	if !strings.HasPrefix(st, "waiting,") {
		t.Fatalf("second watcher: %q", st)
	}
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam,channel-password=pw")
	if st, err := servertest.ReadStatus(w); err != nil || st != "ok" {
		t.Fatalf("status once live: %q, %v; want ok", st, err)
	}
	if st, err := servertest.ReadStatus(wrong); err != nil || st != "error,reason=forbidden,message=wrong channel password" {
		t.Fatalf("wrong password once live: %q, %v", st, err)
	}
	servertest.WaitFor(t, "the watcher joined", func() bool { return ts.Watchers("fier", "cam") == 1 })
	b.Write([]byte("live bytes"))
	if got := servertest.ReadN(t, w, len("live bytes")); string(got) != "live bytes" {
		t.Fatalf("watcher got %q", got)
	}
}

// TestWatchWaitLegacy: without ack a waiting watcher gets no status, only
// the stream once it starts.
func TestWatchWaitLegacy(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	w := servertest.Dial(t, ts.Addr)
	w.Write(servertest.Frame("watch,user=fier,wait=1"))
	servertest.WaitFor(t, "the watcher to wait", func() bool { return ts.Counters().Connections == 1 })
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	servertest.WaitFor(t, "the watcher joined", func() bool { return ts.Watchers("fier", "default") == 1 })
	b.Write([]byte("\x47stream"))
	b.CloseWrite()
	if got := servertest.ExpectClosed(t, w); !bytes.Equal(got, []byte("\x47stream")) {
		t.Fatalf("legacy waiting watcher got %q", got)
	}
}

// TestWatchWaitEnds: the wait ends with not-found after MaxWatchWait, with
// busy at shutdown, and at once when the client hangs up; a waiting
// watcher counts against the connection limits.
func TestWatchWaitEnds(t *testing.T) {
	t.Run("max wait", func(t *testing.T) {
		ts := servertest.Start(t, func(c *server.Config) { c.MaxWatchWait = 50 * time.Millisecond })
		w, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,wait=1")
		if !strings.HasPrefix(st, "waiting,") {
			t.Fatalf("status %q", st)
		}
		st, err := servertest.ReadStatus(w)
		if err != nil || st != `error,reason=not-found,message=channel "default" of user "fier" did not go live within 50ms` {
			t.Fatalf("after the max wait: %q, %v", st, err)
		}
		if n := ts.Counters().Handshakes["not-found"]; n != 1 {
			t.Errorf("not-found counted %d times, want 1", n)
		}
	})
	t.Run("no waiting allowed", func(t *testing.T) {
		ts := servertest.Start(t, func(c *server.Config) { c.MaxWatchWait = 0 })
		if _, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,wait=1"); !strings.HasPrefix(st, "error,reason=not-found,") {
			t.Fatalf("status %q, want not-found at once", st)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		ts := servertest.Start(t, nil)
		w, _ := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,wait=1")
		done := make(chan error, 1)
		go func() { done <- ts.Shutdown(context.Background()) }()
		if st, err := servertest.ReadStatus(w); err != nil || st != "error,reason=busy,message=server is shutting down" {
			t.Fatalf("at shutdown: %q, %v", st, err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
	t.Run("hang-up and limits", func(t *testing.T) {
		ts := servertest.Start(t, func(c *server.Config) { c.MaxConnsPerIP = 2 })
		w1, _ := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,wait=1")
		servertest.DialHandshake(t, ts.Addr, "watch,user=fier,channel=other,wait=1")
		if _, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,wait=1"); !strings.HasPrefix(st, "error,reason=busy,") {
			t.Fatalf("a third connection from the address: %q, want busy", st)
		}
		w1.Close()
		servertest.WaitFor(t, "the hang-up to free its slot", func() bool { return ts.Counters().Connections == 1 })
		if _, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,wait=1"); !strings.HasPrefix(st, "waiting,") {
			t.Fatalf("after the hang-up: %q, want waiting", st)
		}
	})
}
