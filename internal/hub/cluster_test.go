package hub_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// TestPublisherStop: Stop ends a broadcaster as a takeover would (the
// server does it when another node took the channel over): ReadFrom
// returns the reason, OnStop is called once, and the watchers stay for the
// grace period, where the next publisher finds them.
func TestPublisherStop(t *testing.T) {
	h, _ := newTestHub(func(c *hub.Config) { c.Grace = time.Hour })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	pr, pw := io.Pipe()
	defer pw.Close()
	stops := 0
	p := publish(t, h, key, hub.PublishOptions{OnStop: func(hub.CloseReason) {
		stops++
		pr.CloseWithError(errors.New("stopped"))
	}})
	sub := subscribe(t, h, key, hub.SubscribeOptions{})
	done := make(chan error, 1)
	go func() {
		_, err := p.ReadFrom(pr)
		p.Close()
		done <- err
	}()
	p.Stop(hub.ReasonTakenOver)
	var ev *hub.EvictedError
	if err := <-done; !errors.As(err, &ev) || ev.Reason != hub.ReasonTakenOver {
		t.Fatalf("ReadFrom = %v, want taken-over", err)
	}
	p.Stop(hub.ReasonKicked)
	if stops != 1 {
		t.Errorf("OnStop called %d times, want 1", stops)
	}
	if n := h.Counters().Evictions[hub.ReasonTakenOver]; n != 1 {
		t.Errorf("taken-over evictions = %d, want 1", n)
	}
	if st := h.Channel(key).Stats(); st.Live || st.Watchers != 1 {
		t.Errorf("after Stop: %+v, want a watcher in the grace period", st)
	}
	next := publish(t, h, key, hub.PublishOptions{})
	go func() {
		_, err := next.ReadFrom(bytes.NewReader([]byte("next")))
		next.Close()
		done <- err
	}()
	if got := take(t, sub, 100); string(got) != "next" {
		t.Errorf("watcher got %q from the next publisher", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSubscribeSkipPassword: a watcher the server authenticated otherwise
// joins a protected channel without its password; others still need it.
func TestSubscribeSkipPassword(t *testing.T) {
	h, _ := newTestHub(nil)
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	publish(t, h, key, hub.PublishOptions{Password: "pw"})
	if _, err := h.Subscribe(key, hub.SubscribeOptions{}); !errors.Is(err, hub.ErrWrongPassword) {
		t.Fatalf("without password: %v, want ErrWrongPassword", err)
	}
	subscribe(t, h, key, hub.SubscribeOptions{SkipPassword: true})
}
