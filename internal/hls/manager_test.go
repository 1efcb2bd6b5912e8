package hls

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/hub"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// live publishes data on a new channel of h; the broadcaster's goroutine
// ends (and the channel with it) once all of data was read, or at test end.
func live(t *testing.T, h *hub.Hub, key hub.Key) (feed func([]byte)) {
	t.Helper()
	p, err := h.Publish(key, hub.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.ReadFrom(pr)
		p.Close()
	}()
	t.Cleanup(func() {
		pw.Close()
		p.Stop(hub.ReasonShutdown)
		wg.Wait()
	})
	return func(b []byte) {
		if _, err := pw.Write(b); err != nil {
			t.Errorf("feed: %v", err)
		}
	}
}

func newTestHub(t *testing.T) *hub.Hub {
	h := hub.New(hub.Config{Buffer: 8 << 20, GOPCache: 2 << 20, Grace: time.Hour, IdleTick: 50 * time.Millisecond})
	t.Cleanup(h.Close)
	return h
}

func newTestManager(t *testing.T, h *hub.Hub, cfg Config) *Manager {
	m, err := NewManager(h, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// waitFor polls cond until it holds or 20 s went by.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The window lists the newest segments; the per-channel bound evicts the
// oldest, and an evicted segment is gone.
func TestManagerWindowAndEviction(t *testing.T) {
	h := newTestHub(t)
	m := newTestManager(t, h, Config{Window: 2, MaxSegments: 3})
	key := hub.Key{User: "u", Channel: "c"}
	feed := live(t, h, key)
	if _, err := m.ensure(key, false); err != nil {
		t.Fatal(err)
	}
	feed(makeFixture(t, "mpegts"))
	waitFor(t, "evictions", func() bool { return m.Counters().Evicted >= 2 })
	p, err := m.Playlist(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Segments) != 2 || p.Target != 1 {
		t.Fatalf("playlist of %d segments, target %d", len(p.Segments), p.Target)
	}
	newest := p.Segments[1]
	if s, err := m.Segment(key, newest.Name); err != nil || s != newest {
		t.Errorf("Segment(%s): %v", newest.Name, err)
	}
	if _, err := m.Segment(key, segmentName(newest.Name[:runLen], 0)); !errors.Is(err, ErrNoSegment) {
		t.Errorf("evicted segment 0: %v", err)
	}
	if n := m.Counters(); n.Segments != 3 || n.Bytes <= 0 {
		t.Errorf("counters %+v", n)
	}
	body := p.Render(func(s *Segment) string { return s.Name })
	for _, tag := range []string{"#EXT-X-TARGETDURATION:1\n", "#EXT-X-MEDIA-SEQUENCE:", "#EXT-X-PROGRAM-DATE-TIME:", "#EXTINF:1.000,\n" + newest.Name} {
		if !strings.Contains(body, tag) {
			t.Errorf("playlist lacks %q:\n%s", tag, body)
		}
	}
}

// The total bound holds across channels.
func TestManagerTotalBound(t *testing.T) {
	h := newTestHub(t)
	seg := len(makeFixture(t, "mpegts")) / fixtureSec // about one segment
	m := newTestManager(t, h, Config{MaxTotalBytes: int64(3 * seg)})
	for _, c := range []string{"a", "b"} {
		key := hub.Key{User: "u", Channel: c}
		feed := live(t, h, key)
		if _, err := m.ensure(key, false); err != nil {
			t.Fatal(err)
		}
		feed(makeFixture(t, "mpegts"))
	}
	waitFor(t, "evictions", func() bool { return m.Counters().Evicted >= 2 })
	if n := m.Counters(); n.Bytes > int64(3*seg) {
		t.Errorf("%d bytes held, bound %d", n.Bytes, 3*seg)
	}
}

// A segmenter without requests stops after the idle timeout, leaving its
// channel's watchers as they were; the next request starts a new run.
func TestManagerIdleStop(t *testing.T) {
	h := newTestHub(t)
	m := newTestManager(t, h, Config{IdleTimeout: time.Millisecond})
	key := hub.Key{User: "u", Channel: "c"}
	feed := live(t, h, key)
	c, err := m.ensure(key, false)
	if err != nil {
		t.Fatal(err)
	}
	if w := h.Channel(key).Stats().Watchers; w != 1 {
		t.Fatalf("%d watchers with the segmenter on", w)
	}
	feed(makeFixture(t, "mpegts")[:100000])
	waitFor(t, "the idle segmenter to stop", func() bool { return m.Counters().Channels == 0 })
	if n := m.Counters(); n.Bytes != 0 || n.Segments != 0 {
		t.Errorf("counters after stop %+v", n)
	}
	waitFor(t, "the segmenter to leave the channel", func() bool { return h.Channel(key).Stats().Watchers == 0 })
	c2, err := m.ensure(key, false)
	if err != nil || c2 == c || c2.run == c.run {
		t.Errorf("restart: %v, same run %v", err, c2 == c)
	}
}

// Always-on channels are segmented as soon as they are live; channels
// outside Channels get ErrDisabled.
func TestManagerAlwaysAndDisabled(t *testing.T) {
	h := newTestHub(t)
	m := newTestManager(t, h, Config{Channels: []string{"u/*"}, Always: []string{"u/always"}, IdleTimeout: time.Millisecond})
	live(t, h, hub.Key{User: "u", Channel: "always"})
	waitFor(t, "the always-on segmenter", func() bool { return m.Counters().Channels == 1 })
	if _, err := m.Playlist(context.Background(), hub.Key{User: "other", Channel: "x"}); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled channel: %v", err)
	}
	var je *hub.JoinError
	if _, err := m.Playlist(context.Background(), hub.Key{User: "u", Channel: "none"}); !errors.As(err, &je) || !errors.Is(err, hub.ErrNotLive) {
		t.Errorf("channel not live: %v", err)
	}
	// Idle sweeps long past the idle timeout leave it running.
	since := time.Now()
	waitFor(t, "idle sweeps", func() bool {
		m.sweep()
		return time.Since(since) > 20*time.Millisecond
	})
	if m.Counters().Channels != 1 {
		t.Error("the always-on segmenter stopped")
	}
}
