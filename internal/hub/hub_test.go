package hub_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

// TestHubFanOutExact: a ring much smaller than the stream wraps many times
// and holds the broadcaster back for slow watchers; every watcher still gets
// every byte, whatever its batch size.
func TestHubFanOutExact(t *testing.T) {
	h, _ := newTestHub(func(c *hub.Config) { c.Buffer = 256 << 10 })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{})
	data := payload(21, 8<<20)
	var ws []*fakeWatcher
	for _, batch := range []int{4096, 1000, 64 << 10, 1 << 20, 333} {
		ws = append(ws, startFakeWatcher(subscribe(t, h, key, hub.SubscribeOptions{}), batch))
	}
	n, err := p.ReadFrom(&pieceReader{data: data, r: rand.New(rand.NewPCG(1, 2)), max: 100 << 10})
	if err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	p.Close() // no grace: the channel ends once watchers drain
	want := sha256.Sum256(data)
	for i, w := range ws {
		w.wait()
		if !errors.Is(w.err, hub.ErrChannelEnded) {
			t.Errorf("watcher %d ended with %v, want ErrChannelEnded", i, w.err)
		}
		if w.n != int64(len(data)) || w.sum() != want {
			t.Errorf("watcher %d got %d bytes, hash match %v", i, w.n, w.sum() == want)
		}
	}
	if h.Channel(key) != nil {
		t.Error("ended channel still in the hub")
	}
}

// TestHubRingGrows: a watcher that lags behind makes the ring grow instead
// of holding the broadcaster back, up to the configured bound.
func TestHubRingGrows(t *testing.T) {
	h, _ := newTestHub(func(c *hub.Config) { c.Buffer = 8 << 20 })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{})
	sub := subscribe(t, h, key, hub.SubscribeOptions{})
	data := payload(22, 5<<20)
	if _, err := p.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	st := h.Channel(key).Stats()
	if st.Capacity < len(data) || st.Capacity > 8<<20 || st.Buffered != len(data) {
		t.Fatalf("stats after 5 MiB unread: %+v", st)
	}
	w := startFakeWatcher(sub, 1<<20)
	p.Close()
	w.wait()
	if w.sum() != sha256.Sum256(data) {
		t.Fatal("bytes changed across ring growth")
	}
}

// TestHubStalledEvicted: a watcher that never takes its bytes is evicted
// once it holds a full ring for the stall timeout; the other gets all. The
// reading watcher runs on the test's goroutine, so the clock moves only when
// it has taken everything there is and the broadcaster waits for the
// stalled one. The stalled watcher last moved when it joined, at 0; the
// reading one moves from 1ms on, so at the stall timeout only the stalled
// one has made no progress for the whole of it.
func TestHubStalledEvicted(t *testing.T) {
	const stall = time.Second
	h, clk := newTestHub(func(c *hub.Config) {
		c.Buffer = 128 << 10
		c.StallTimeout = stall
	})
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{})
	evicted := make(chan hub.CloseReason, 2)
	stalled := subscribe(t, h, key, hub.SubscribeOptions{ID: 1, OnEvict: func(r hub.CloseReason) { evicted <- r }})
	good := subscribe(t, h, key, hub.SubscribeOptions{ID: 2})
	ch := h.Channel(key)
	data := payload(23, 2<<20)
	clk.Advance(time.Millisecond)
	pubDone := make(chan error, 1)
	go func() {
		_, err := p.ReadFrom(bytes.NewReader(data))
		p.Close()
		pubDone <- err
	}()

	var got []byte
	for advanced := false; ; {
		if !advanced && queued(t, ch, 2) == 0 {
			clk.WaitTimers(t, 1) // the broadcaster waits on the full ring
			if queued(t, ch, 2) == 0 {
				if len(evicted) > 0 {
					t.Fatal("a watcher was evicted before any time passed")
				}
				clk.Advance(stall - time.Millisecond)
				advanced = true
			}
		}
		b, ok := nextBatch(t, good)
		if !ok {
			break
		}
		got = append(got, b...)
	}
	if err := <-pubDone; err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("reading watcher got %d of %d bytes or different bytes", len(got), len(data))
	}
	_, _, err := stalled.Next(nil, 1)
	var ev *hub.EvictedError
	if !errors.As(err, &ev) || ev.Reason != hub.ReasonStalled {
		t.Fatalf("stalled watcher's Next = %v, want evicted (stalled)", err)
	}
	if len(evicted) != 1 || <-evicted != hub.ReasonStalled {
		t.Fatalf("OnEvict: %d calls, want one with stalled", len(evicted)+1)
	}
	if n := h.Counters().Evictions[hub.ReasonStalled]; n != 1 {
		t.Errorf("%d stalled evictions counted, want 1", n)
	}
}

// TestHubLagging: a watcher whose next byte is older than MaxLag is evicted
// when it asks for it; a watcher that took it in time was told when that
// moment would be.
func TestHubLagging(t *testing.T) {
	const maxLag = 20 * time.Millisecond
	h, clk := newTestHub(func(c *hub.Config) {
		c.MaxLag = maxLag
		c.Grace = time.Hour
	})
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{})
	sub := subscribe(t, h, key, hub.SubscribeOptions{})
	fresh := subscribe(t, h, key, hub.SubscribeOptions{})
	if _, err := p.ReadFrom(bytes.NewReader([]byte("old"))); err != nil {
		t.Fatal(err)
	}
	bufs, deadline, err := fresh.Next(nil, 10)
	if err != nil || len(bufs) != 1 || string(bufs[0]) != "old" || !deadline.Equal(clk.Now().Add(maxLag)) {
		t.Fatalf("fresh watcher: %q, deadline %v (want %v), %v", bufs, deadline, clk.Now().Add(maxLag), err)
	}
	fresh.Done(3)
	clk.Advance(2 * maxLag) // the byte ages past MaxLag
	_, _, err = sub.Next(nil, 10)
	var ev *hub.EvictedError
	if !errors.As(err, &ev) || ev.Reason != hub.ReasonLagging {
		t.Fatalf("Next = %v, want evicted (lagging)", err)
	}
}

// TestHubTakeover: a second Publish stops the first, whose ReadFrom returns;
// the watcher sees the first stream then the second, nothing lost between.
func TestHubTakeover(t *testing.T) {
	h, _ := newTestHub(nil)
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	pr, pw := io.Pipe()
	var stopReason hub.CloseReason
	first := publish(t, h, key, hub.PublishOptions{OnStop: func(r hub.CloseReason) {
		stopReason = r
		pr.CloseWithError(errors.New("stopped"))
	}})
	sub := subscribe(t, h, key, hub.SubscribeOptions{})
	firstDone := make(chan error)
	go func() {
		_, err := first.ReadFrom(pr)
		first.Close()
		firstDone <- err
	}()
	pw.Write([]byte("first,"))
	got := take(t, sub, 100) // waits until the first bytes are published

	second := publish(t, h, key, hub.PublishOptions{})
	var ev *hub.EvictedError
	if err := <-firstDone; !errors.As(err, &ev) || ev.Reason != hub.ReasonTakenOver || stopReason != hub.ReasonTakenOver {
		t.Fatalf("first ReadFrom = %v (OnStop %q), want taken-over", err, stopReason)
	}
	if _, err := second.ReadFrom(bytes.NewReader([]byte("second"))); err != nil {
		t.Fatal(err)
	}
	second.Close()
	rest, err := readAll(sub)
	if got = append(got, rest...); string(got) != "first,second" || !errors.Is(err, hub.ErrChannelEnded) {
		t.Fatalf("watcher got %q then %v, want \"first,second\" then ErrChannelEnded", got, err)
	}
}

func TestHubSubscribeErrors(t *testing.T) {
	h, _ := newTestHub(func(c *hub.Config) { c.Grace = time.Hour })
	key := hub.Key{User: "fier", Channel: "cam"}
	if _, err := h.Subscribe(key, hub.SubscribeOptions{}); !errors.Is(err, hub.ErrNotLive) {
		t.Fatalf("not live: %v", err)
	}
	p := publish(t, h, key, hub.PublishOptions{Password: "pw"})
	for _, pw := range []string{"", "p", "pw2", "PW"} {
		if _, err := h.Subscribe(key, hub.SubscribeOptions{Password: pw}); !errors.Is(err, hub.ErrWrongPassword) {
			t.Errorf("password %q: %v, want ErrWrongPassword", pw, err)
		}
	}
	if _, err := h.Subscribe(hub.Key{User: "other", Channel: "cam"}, hub.SubscribeOptions{Password: "pw"}); !errors.Is(err, hub.ErrNotLive) {
		t.Errorf("other user's channel: %v", err)
	}
	sub := subscribe(t, h, key, hub.SubscribeOptions{Password: "pw"})
	p.Close()
	if _, err := h.Subscribe(key, hub.SubscribeOptions{Password: "pw"}); !errors.Is(err, hub.ErrNotLive) {
		t.Errorf("in grace: %v, want ErrNotLive", err)
	}
	if h.Channel(key).Stats().Watchers != 1 {
		t.Error("watcher dropped when the broadcaster left")
	}
	h.Close()
	if _, _, err := sub.Next(nil, 1); !errors.Is(err, hub.ErrChannelEnded) {
		t.Errorf("after Close: %v, want ErrChannelEnded", err)
	}
	if _, err := h.Publish(key, hub.PublishOptions{}); !errors.Is(err, hub.ErrHubClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
}

// TestHubDelay: with a delay, bytes are held back until the delay has
// passed, then published without more input; none are lost.
func TestHubDelay(t *testing.T) {
	const delay = 10 * time.Millisecond
	h, clk := newTestHub(func(c *hub.Config) { c.Grace = time.Hour })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{Delay: delay})
	sub := subscribe(t, h, key, hub.SubscribeOptions{})
	if _, err := p.ReadFrom(bytes.NewReader([]byte("batched"))); err != nil {
		t.Fatal(err)
	}
	if q := h.Channel(key).Queued(nil); len(q) != 1 || q[0] != 0 {
		t.Fatalf("queued %v before the delay passed, want [0]", q)
	}
	clk.Advance(delay)
	bufs, _, err := sub.Next(nil, 100)
	if err != nil || len(bufs) != 1 || string(bufs[0]) != "batched" {
		t.Fatalf("Next = %q, %v", bufs, err)
	}
}

// TestHubGraceExpires: a channel whose broadcaster left keeps its watchers
// for the grace period, refuses new ones, and ends when it passes; the
// watchers get every byte first.
func TestHubGraceExpires(t *testing.T) {
	const grace = 5 * time.Second
	var events []string
	h, clk := newTestHub(func(c *hub.Config) {
		c.Grace = grace
		c.OnEvent = func(_ hub.Key, msg string, _ ...any) { events = append(events, msg) }
	})
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{})
	sub := subscribe(t, h, key, hub.SubscribeOptions{})
	if _, err := p.ReadFrom(bytes.NewReader([]byte("last words"))); err != nil {
		t.Fatal(err)
	}
	p.Close()
	clk.Advance(grace - time.Nanosecond)
	if h.Channel(key) == nil {
		t.Fatal("channel ended before its grace period passed")
	}
	if _, err := h.Subscribe(key, hub.SubscribeOptions{}); !errors.Is(err, hub.ErrNotLive) {
		t.Fatalf("new watcher in the grace period: %v, want ErrNotLive", err)
	}
	clk.Advance(time.Nanosecond)
	if h.Channel(key) != nil {
		t.Fatal("channel still in the hub after its grace period")
	}
	got, err := readAll(sub)
	if string(got) != "last words" || !errors.Is(err, hub.ErrChannelEnded) {
		t.Fatalf("watcher got %q then %v, want \"last words\" then ErrChannelEnded", got, err)
	}
	if len(events) != 1 {
		t.Fatalf("events %q, want one (the channel ended)", events)
	}
}

// TestHubBufsizeJoin: a generic stream with a bufsize; a late watcher starts
// at the start of the current chunk.
func TestHubBufsizeJoin(t *testing.T) {
	h, _ := newTestHub(func(c *hub.Config) { c.GOPCache = 64 << 10 })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{Bufsize: 1000})
	data := payload(12, 3000)
	if _, err := p.ReadFrom(bytes.NewReader(data[:2500])); err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, h, key, hub.SubscribeOptions{})
	if _, err := p.ReadFrom(bytes.NewReader(data[2500:])); err != nil {
		t.Fatal(err)
	}
	p.Close()
	got, err := readAll(sub)
	if !bytes.Equal(got, data[2000:]) || !errors.Is(err, hub.ErrChannelEnded) {
		t.Fatalf("late watcher got %d bytes then %v; want the chunk from byte 2000", len(got), err)
	}
}

// TestHubCloseDuringWait: Close wakes a watcher blocked in Next and a
// broadcaster blocked on a full ring.
func TestHubCloseDuringWait(t *testing.T) {
	h, clk := newTestHub(func(c *hub.Config) {
		c.Buffer = 64 << 10
		c.StallTimeout = time.Hour
	})
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{})
	subscribe(t, h, key, hub.SubscribeOptions{}) // never reads: the ring fills and the broadcaster waits
	waiting := startFakeWatcher(subscribe(t, h, key, hub.SubscribeOptions{}), 1<<20)
	pubDone := make(chan error)
	go func() {
		_, err := p.ReadFrom(bytes.NewReader(payload(24, 1<<20)))
		pubDone <- err
	}()
	clk.WaitTimers(t, 1) // the broadcaster waits for space
	h.Close()
	var ev *hub.EvictedError
	if err := <-pubDone; !errors.As(err, &ev) || ev.Reason != hub.ReasonShutdown {
		t.Fatalf("blocked broadcaster: %v, want shutdown", err)
	}
	p.Close()
	waiting.wait()
	if !errors.Is(waiting.err, hub.ErrChannelEnded) {
		t.Fatalf("blocked watcher: %v, want ErrChannelEnded", waiting.err)
	}
}

// TestHubRefusals: every refusal carries its sentinel for errors.Is, the
// reason the peer is given and a message that says what to do.
func TestHubRefusals(t *testing.T) {
	h, _ := newTestHub(func(c *hub.Config) {
		c.MaxChannels = 1
		c.MaxWatchers = 1
	})
	key := hub.Key{User: "fier", Channel: "cam"}
	publish(t, h, key, hub.PublishOptions{Password: "pw"})
	subscribe(t, h, key, hub.SubscribeOptions{Password: "pw"})
	tests := []struct {
		name   string
		do     func() error
		err    error
		reason protocol.Reason
		msg    string // substring
	}{
		{"bad join", func() error {
			_, err := h.Subscribe(key, hub.SubscribeOptions{Password: "pw", Join: "never"})
			return err
		}, hub.ErrBadJoin, protocol.ReasonBadRequest, `unknown join policy (5 bytes): want gop, keyframe or live`},
		{"not live", func() error {
			_, err := h.Subscribe(hub.Key{User: "fier", Channel: "none"}, hub.SubscribeOptions{})
			return err
		}, hub.ErrNotLive, protocol.ReasonNotFound, `channel "none" of user "fier" is not live`},
		{"wrong password", func() error {
			_, err := h.Subscribe(key, hub.SubscribeOptions{Password: "guess"})
			return err
		}, hub.ErrWrongPassword, protocol.ReasonForbidden, "wrong channel password"},
		{"no password", func() error {
			_, err := h.Subscribe(key, hub.SubscribeOptions{})
			return err
		}, hub.ErrNoPassword, protocol.ReasonForbidden, "channel is protected: give its password"},
		{"channel full", func() error {
			_, err := h.Subscribe(key, hub.SubscribeOptions{Password: "pw"})
			return err
		}, hub.ErrChannelFull, protocol.ReasonBusy, "as many watchers as the server allows (1); try again later"},
		{"too many channels", func() error {
			_, err := h.Publish(hub.Key{User: "fier", Channel: "desk"}, hub.PublishOptions{})
			return err
		}, hub.ErrTooManyChannels, protocol.ReasonBusy, "maximum of 1 live channels"},
		{"closed", func() error {
			h.Close()
			_, err := h.Subscribe(key, hub.SubscribeOptions{Password: "pw"})
			return err
		}, hub.ErrHubClosed, protocol.ReasonBusy, "shutting down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			reason, msg, ok := hub.ReasonOf(err)
			if !errors.Is(err, tt.err) || !ok || reason != tt.reason || !strings.Contains(msg, tt.msg) {
				t.Fatalf("err %v: reason %q message %q (refusal %v); want %v, %q, %q", err, reason, msg, ok, tt.err, tt.reason, tt.msg)
			}
		})
	}
	if _, _, ok := hub.ReasonOf(hub.ErrChannelEnded); ok {
		t.Error("the end of a channel counts as a refusal")
	}
	if _, _, ok := hub.ReasonOf(nil); ok {
		t.Error("nil counts as a refusal")
	}
}

// TestInternalReadersNotCounted: the server's own readers (a recorder, an
// HLS segmenter) neither count against the watcher limit nor are refused
// by it; the audience's limit holds as before.
func TestInternalReadersNotCounted(t *testing.T) {
	h, _ := newTestHub(func(c *hub.Config) { c.MaxWatchers = 2 })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	publish(t, h, key, hub.PublishOptions{})
	subscribe(t, h, key, hub.SubscribeOptions{Internal: true, Via: "record"})
	subscribe(t, h, key, hub.SubscribeOptions{})
	subscribe(t, h, key, hub.SubscribeOptions{})
	if _, err := h.Subscribe(key, hub.SubscribeOptions{}); !errors.Is(err, hub.ErrChannelFull) {
		t.Fatalf("third watcher: %v, want ErrChannelFull", err)
	}
	subscribe(t, h, key, hub.SubscribeOptions{Internal: true, Via: "hls"})
	if n := h.Channel(key).Stats().Watchers; n != 4 {
		t.Errorf("Stats().Watchers = %d, want 4 (two watchers, two internal readers)", n)
	}
}
