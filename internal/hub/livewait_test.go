package hub_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/fstream/fstream/internal/hub"
)

// waitParked yields until n callers of WaitLive wait for key. It spins on
// the scheduler, not on a clock: the waiters only need to run.
func waitParked(t *testing.T, h *hub.Hub, key hub.Key, n int) {
	t.Helper()
	for i := 0; h.WaitersOf(key) != n; i++ {
		if i > 1e7 {
			t.Fatalf("%d waiters for %v, want %d", h.WaitersOf(key), key, n)
		}
		runtime.Gosched()
	}
}

// startWait runs WaitLive in a goroutine; the channel gets its result.
func startWait(ctx context.Context, h *hub.Hub, key hub.Key) <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.WaitLive(ctx, key) }()
	return done
}

// TestWaitLive: waiters are released when their channel, and only theirs,
// goes live, also from its grace period; a live channel returns at once.
func TestWaitLive(t *testing.T) {
	h, _ := newTestHub(func(c *hub.Config) { c.Grace = 1 << 40 })
	defer h.Close()
	cam, desk := hub.Key{User: "fier", Channel: "cam"}, hub.Key{User: "fier", Channel: "desk"}
	a, b := startWait(t.Context(), h, cam), startWait(t.Context(), h, cam)
	other := startWait(t.Context(), h, desk)
	waitParked(t, h, cam, 2)
	waitParked(t, h, desk, 1)

	p := publish(t, h, cam, hub.PublishOptions{})
	for _, done := range []<-chan error{a, b} {
		if err := <-done; err != nil {
			t.Fatalf("WaitLive: %v", err)
		}
	}
	if h.WaitersOf(cam) != 0 || h.WaitersOf(desk) != 1 {
		t.Fatalf("waiters: cam %d, desk %d; want 0 and 1", h.WaitersOf(cam), h.WaitersOf(desk))
	}
	if err := h.WaitLive(t.Context(), cam); err != nil {
		t.Fatalf("WaitLive of a live channel: %v", err)
	}

	// In its grace period the channel is not live; a new broadcaster
	// releases the waiter.
	p.Close()
	again := startWait(t.Context(), h, cam)
	waitParked(t, h, cam, 1)
	publish(t, h, cam, hub.PublishOptions{})
	if err := <-again; err != nil {
		t.Fatalf("WaitLive through the grace period: %v", err)
	}

	h.Close()
	if err := <-other; !errors.Is(err, hub.ErrHubClosed) {
		t.Fatalf("WaitLive when the hub closed: %v, want ErrHubClosed", err)
	}
	if err := h.WaitLive(t.Context(), desk); !errors.Is(err, hub.ErrHubClosed) {
		t.Fatalf("WaitLive on a closed hub: %v", err)
	}
}

// TestWaitLiveCancel: a waiter that gives up leaves nothing behind.
func TestWaitLiveCancel(t *testing.T) {
	h, _ := newTestHub(nil)
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	ctx, cancel := context.WithCancel(t.Context())
	done := startWait(ctx, h, key)
	waitParked(t, h, key, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitLive: %v, want context.Canceled", err)
	}
	if n := h.WaitersOf(key); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}
