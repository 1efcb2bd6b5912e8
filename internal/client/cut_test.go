package client_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// waitLive waits until user/channel has a broadcaster on ts.
func waitLive(t *testing.T, ts *servertest.Server, user, channel string) {
	t.Helper()
	servertest.WaitFor(t, user+"/"+channel+" live", func() bool {
		c := ts.Channel(user, channel)
		return c != nil && c.Stats().Live
	})
}

// idleInput is a broadcaster's stdin that sends data and then nothing,
// without ending, as a camera that stopped would: a pipe whose writer
// stays open until the test ends.
func idleInput(t *testing.T, data []byte) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBroadcastToldWhyItWasCut: a real server that ends a broadcast says
// why in a status frame, and client.Broadcast returns it as a *client.CutError at once,
// even while its input is idle.
func TestBroadcastToldWhyItWasCut(t *testing.T) {
	tests := []struct {
		name string
		cut  func(t *testing.T, ts *servertest.Server)
		want protocol.Reason
		msg  string
	}{
		{"taken over", func(t *testing.T, ts *servertest.Server) {
			servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam")
		}, protocol.ReasonTakenOver, "taken over by a new broadcaster of fier/cam"},
		{"kicked", func(t *testing.T, ts *servertest.Server) {
			if !ts.Channel("fier", "cam").Kick(0) {
				t.Error("nobody to kick")
			}
		}, protocol.ReasonKicked, "removed from fier/cam by the server's operator"},
		{"shutdown", func(t *testing.T, ts *servertest.Server) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if err := ts.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		}, protocol.ReasonShutdown, "the server is shutting down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = time.Hour })
			src := idleInput(t, client.StreamData(64<<10))
			done := make(chan error, 1)
			go func() {
				done <- client.Broadcast(t.Context(), client.Opts(ts.Addr, protocol.Request{User: "fier", UserPassword: "123", Channel: "cam"}), src)
			}()
			waitLive(t, ts, "fier", "cam")
			servertest.WaitFor(t, "the first bytes", func() bool { return ts.Channel("fier", "cam").Stats().BytesIn == 64<<10 })
			tt.cut(t, ts)
			err := <-done
			cut, ok := errors.AsType[*client.CutError](err)
			if !ok || cut.Reason != tt.want || cut.Message != tt.msg {
				t.Fatalf("client.Broadcast: %v; want a *client.CutError %s %q", err, tt.want, tt.msg)
			}
		})
	}
}

// TestBroadcastCutCounted: the hub counts the cut by its reason (the server
// sends the frame in addition).
func TestBroadcastCutCounted(t *testing.T) {
	ts := servertest.Start(t, nil)
	src := idleInput(t, []byte("x"))
	done := make(chan error, 1)
	go func() {
		done <- client.Broadcast(t.Context(), client.Opts(ts.Addr, protocol.Request{User: "fier", UserPassword: "123"}), src)
	}()
	waitLive(t, ts, "fier", "default")
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	if _, ok := errors.AsType[*client.CutError](<-done); !ok {
		t.Fatal("no *client.CutError")
	}
	if n := ts.Counters().Hub.Evictions[hub.ReasonTakenOver]; n != 1 {
		t.Errorf("taken-over counted %d times, want 1", n)
	}
}
