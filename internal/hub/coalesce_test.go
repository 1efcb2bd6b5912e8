package hub_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// TestHubCoalesce drives Config.Coalesce on the fake clock: each step feeds
// bytes or moves time, then checks how many bytes watchers may take.
func TestHubCoalesce(t *testing.T) {
	const interval = 10 * time.Millisecond
	type step struct {
		feed    int           // bytes the broadcaster sends
		advance time.Duration // then the clock moves this far
		visible int64         // and the watcher may take this many
	}
	tests := []struct {
		name     string
		coalesce time.Duration
		bytes    int           // CoalesceBytes
		delay    time.Duration // the broadcaster's
		steps    []step
	}{
		{
			name: "off: every read is published at once", steps: []step{
				{feed: 10, visible: 10},
				{feed: 10, visible: 20},
			},
		},
		{
			name: "held until the oldest byte waited the interval", coalesce: interval, steps: []step{
				{feed: 10, visible: 0},
				{advance: interval - time.Millisecond, visible: 0},
				{feed: 10, visible: 0}, // the interval runs from the first byte
				{advance: time.Millisecond, visible: 20},
				{feed: 5, advance: interval - time.Millisecond, visible: 20},
				{advance: time.Millisecond, visible: 25},
			},
		},
		{
			name: "the size threshold publishes at once", coalesce: interval, bytes: 100, steps: []step{
				{feed: 60, visible: 0},
				{feed: 50, visible: 110},
				{feed: 10, visible: 110}, // a new interval starts here
				{advance: interval - time.Millisecond, visible: 110},
				{advance: time.Millisecond, visible: 120},
				{feed: 200, visible: 320}, // a read above the threshold is never held
			},
		},
		{
			name: "a longer broadcaster delay wins, threshold and all", coalesce: interval, bytes: 100, delay: 5 * interval, steps: []step{
				{feed: 500, visible: 0},
				{advance: interval, visible: 0},
				{advance: 4 * interval, visible: 500},
			},
		},
		{
			name: "a shorter broadcaster delay gives way to coalescing", coalesce: interval, delay: interval / 2, steps: []step{
				{feed: 10, advance: interval / 2, visible: 0},
				{advance: interval / 2, visible: 10},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, clk := newTestHub(func(c *hub.Config) {
				c.Grace = time.Hour
				c.Coalesce, c.CoalesceBytes = tc.coalesce, tc.bytes
			})
			defer h.Close()
			key := hub.Key{User: "fier", Channel: "cam"}
			p := publish(t, h, key, hub.PublishOptions{Delay: tc.delay})
			sub := subscribe(t, h, key, hub.SubscribeOptions{ID: 1})
			var sent []byte
			for i, st := range tc.steps {
				if st.feed > 0 {
					b := payload(uint64(len(sent)), st.feed)
					if _, err := p.ReadFrom(bytes.NewReader(b)); err != nil {
						t.Fatal(err)
					}
					sent = append(sent, b...)
				}
				clk.Advance(st.advance)
				if got := queued(t, h.Channel(key), 1); got != st.visible {
					t.Fatalf("step %d: %d bytes visible, want %d", i, got, st.visible)
				}
			}
			// Whatever is held is released when the broadcaster leaves,
			// and every byte arrives once, in order.
			p.Close()
			var got []byte
			for queued(t, h.Channel(key), 1) > 0 {
				got = append(got, take(t, sub, 1<<20)...)
			}
			if !bytes.Equal(got, sent) {
				t.Fatalf("watcher got %d bytes, want the %d sent, in order", len(got), len(sent))
			}
		})
	}
}

// TestHubCoalesceOneBatch: bytes that arrived over one interval reach a
// caught-up watcher as one batch, whatever the pieces they came in.
func TestHubCoalesceOneBatch(t *testing.T) {
	const interval = 20 * time.Millisecond
	h, clk := newTestHub(func(c *hub.Config) { c.Grace = time.Hour; c.Coalesce = interval })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	f := startFeeder(t, h, key, publish(t, h, key, hub.PublishOptions{}))
	sub := subscribe(t, h, key, hub.SubscribeOptions{ID: 1})
	data := payload(7, 4*1316)
	for i := range 4 {
		f.feed(data[i*1316 : (i+1)*1316])
		clk.Advance(interval / 5)
	}
	clk.Advance(interval / 5)
	bufs, _, err := sub.Next(nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Join(bufs, nil); !bytes.Equal(got, data) {
		t.Fatalf("one Next returned %d bytes, want all %d fed in the interval", len(got), len(data))
	}
	sub.Done(len(data))
	f.end()
}

// TestHubCoalesceIsNotLag: bytes held for coalescing start their lag clock
// when they are released, so an interval as long as MaxLag evicts nobody
// who takes them at once.
func TestHubCoalesceIsNotLag(t *testing.T) {
	const lag = time.Second
	h, clk := newTestHub(func(c *hub.Config) {
		c.MaxLag, c.Coalesce = lag, lag
		c.SlowPolicy = hub.SlowDisconnect
	})
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	f := startFeeder(t, h, key, publish(t, h, key, hub.PublishOptions{}))
	sub := subscribe(t, h, key, hub.SubscribeOptions{ID: 1})
	data := payload(3, 1000)
	var got []byte
	for i := range 10 {
		f.feed(data[i*100 : (i+1)*100])
		clk.Advance(lag)
		for queued(t, f.ch, 1) > 0 {
			got = append(got, take(t, sub, 1<<10)...)
		}
	}
	f.end()
	if !bytes.Equal(got, data) {
		t.Fatalf("watcher got %d of %d bytes", len(got), len(data))
	}
	if n := h.Counters().Evictions[hub.ReasonLagging]; n != 0 {
		t.Errorf("%d lag evictions, want 0", n)
	}
}
