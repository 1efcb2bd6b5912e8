package hub_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/media"
	"github.com/fstream/fstream/internal/media/mediatest"
)

// Watchers that wait: for bytes on a silent channel (ErrIdle), for a join
// point that does not come (the join timeout), and for bytes a delay holds
// back (which must not count as their lag).

// tsPacket is the size of an MPEG-TS packet.
const tsPacket = 188

// readTS reads a real MPEG-TS made by ffmpeg (H.264 + AAC, a keyframe every
// 0.5 s; see internal/media/testdata) and returns it with the positions of
// its join points.
func readTS(t *testing.T) (data []byte, joins []int64) {
	t.Helper()
	data, err := os.ReadFile("../media/testdata/h264.ts")
	if err != nil {
		t.Fatal(err)
	}
	tr := media.NewTracker(media.TrackerConfig{})
	var seq uint64
	for off := 0; off < len(data); off += tsPacket {
		tr.Write(data[off:min(off+tsPacket, len(data))], time.Time{})
		if jp, ok := tr.JoinPoint(); ok && jp.Seq != seq {
			seq = jp.Seq
			joins = append(joins, jp.Pos)
		}
	}
	if len(joins) < 3 {
		t.Fatalf("fixture has %d join points, want 3 or more", len(joins))
	}
	return data, joins
}

// feeder is a broadcaster the test hands bytes to, one piece at a time.
type feeder struct {
	t    *testing.T
	ch   *hub.Channel
	pw   *io.PipeWriter
	sent int64
	done chan error
}

// startFeeder runs p's ReadFrom on a pipe until the test calls end.
func startFeeder(t *testing.T, h *hub.Hub, key hub.Key, p *hub.Publisher) *feeder {
	pr, pw := io.Pipe()
	f := &feeder{t: t, ch: h.Channel(key), pw: pw, done: make(chan error, 1)}
	go func() {
		_, err := p.ReadFrom(pr)
		p.Close()
		f.done <- err
	}()
	return f
}

// feed hands b to the broadcaster and returns once the hub has committed
// it.
func (f *feeder) feed(b []byte) {
	f.t.Helper()
	if _, err := f.pw.Write(b); err != nil {
		f.t.Fatalf("feed: %v", err)
	}
	f.sent += int64(len(b))
	waitUntil(f.t, "the hub to commit what was fed", func() bool { return f.ch.Stats().BytesIn >= f.sent })
}

// end closes the broadcaster's stream and waits for ReadFrom.
func (f *feeder) end() {
	f.t.Helper()
	f.pw.Close()
	if err := <-f.done; err != nil {
		f.t.Fatalf("ReadFrom: %v", err)
	}
}

// waitUntil polls cond, for what the test cannot wait on directly (another
// goroutine's progress), and fails the test after a generous real-time
// limit.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waiting reports whether the watcher with the given ID still waits for a
// join point.
func waiting(t *testing.T, ch *hub.Channel, id uint64) bool {
	t.Helper()
	for _, w := range ch.Info().Watchers {
		if w.ID == id {
			return w.Waiting
		}
	}
	t.Fatalf("no watcher %d in the channel", id)
	return false
}

// events records the hub's log events.
type events struct {
	mu   sync.Mutex
	msgs []string
}

func (e *events) add(_ hub.Key, msg string, _ ...any) {
	e.mu.Lock()
	e.msgs = append(e.msgs, msg)
	e.mu.Unlock()
}

func (e *events) count(substr string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, m := range e.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

// checkFallbackStart checks what a watcher placed at a fallback point got:
// the PAT and PMT first, then the stream from a packet boundary before
// next (the keyframe it did not wait for), with continuous counters.
func checkFallbackStart(t *testing.T, name string, got, data []byte, next int64) {
	t.Helper()
	if len(got) < 3*tsPacket || got[0] != 0x47 || got[1]&0x1f != 0 || got[2] != 0 {
		t.Fatalf("%s: does not start with a PAT: % x", name, got[:min(len(got), 4)])
	}
	// The prefix is whole packets; the rest is a suffix of the stream.
	from := -1
	for k := tsPacket; k < len(got); k += tsPacket {
		if pos := int64(len(data) - (len(got) - k)); pos >= 0 && pos%tsPacket == 0 && bytes.Equal(got[k:], data[pos:]) {
			from = k
			break
		}
	}
	if from < 0 {
		t.Fatalf("%s: after its prefix, the %d bytes are not the end of the stream from a packet boundary", name, len(got))
	}
	if pos := int64(len(data) - (len(got) - from)); pos >= next {
		t.Errorf("%s: started at %d, not before the next keyframe at %d", name, pos, next)
	}
	if err := mediatest.CheckContinuity(got); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

// TestHubJoinFallback: watchers waiting for a keyframe that does not come
// within the join timeout start at the fallback point, with the PAT and PMT,
// when the next bytes arrive; they are counted, and logged once per
// channel. A watcher that started waiting later still gets the keyframe.
func TestHubJoinFallback(t *testing.T) {
	const timeout = 5 * time.Second
	data, joins := readTS(t)
	var ev events
	h, clk := newTestHub(func(c *hub.Config) {
		c.JoinTimeout = timeout
		c.GOPCache = 1 << 20
		c.OnEvent = ev.add
	})
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	f := startFeeder(t, h, key, publish(t, h, key, hub.PublishOptions{}))
	k1, k2 := joins[1], joins[2]
	mid := (k1 + (k2-k1)/2) / tsPacket * tsPacket
	f.feed(data[:k1+tsPacket])
	var ws []*fakeWatcher
	for id := range uint64(2) {
		ws = append(ws, startFakeWatcher(subscribe(t, h, key, hub.SubscribeOptions{ID: id + 1, Join: hub.JoinKeyframe}), 64<<10))
	}
	f.feed(data[k1+tsPacket : mid])
	clk.Advance(timeout)
	late := startFakeWatcher(subscribe(t, h, key, hub.SubscribeOptions{ID: 3, Join: hub.JoinKeyframe}), 64<<10)
	f.feed(data[mid : mid+tsPacket])
	for id := uint64(1); id <= 2; id++ {
		waitUntil(t, "the watchers to fall back", func() bool { return !waiting(t, f.ch, id) })
	}
	if !waiting(t, f.ch, 3) {
		t.Fatal("a watcher that had not waited the join timeout fell back")
	}
	f.feed(data[mid+tsPacket:])
	f.end()

	got := make([][]byte, 0, 3)
	for _, w := range append(ws, late) {
		w.wait()
		if !errors.Is(w.err, hub.ErrChannelEnded) {
			t.Fatalf("watcher ended with %v", w.err)
		}
		got = append(got, w.data.Bytes())
	}
	checkFallbackStart(t, "watcher 1", got[0], data, k2)
	checkFallbackStart(t, "watcher 2", got[1], data, k2)
	// The late watcher starts at a keyframe (k2, or a later one if it
	// woke late), after the PAT and PMT.
	atKey := false
	for _, k := range joins[2:] {
		rest := data[k:]
		atKey = atKey || len(got[2]) == 2*tsPacket+len(rest) && bytes.HasSuffix(got[2], rest)
	}
	if !atKey {
		t.Errorf("late watcher: got %d bytes, want the PAT, the PMT and the stream from a keyframe at or after %d", len(got[2]), k2)
	}
	if err := mediatest.CheckContinuity(got[2]); err != nil {
		t.Errorf("late watcher: %v", err)
	}
	if n := h.Counters().JoinFallbacks; n != 2 {
		t.Errorf("%d fallbacks counted, want 2", n)
	}
	if n := f.ch.Stats().JoinFallbacks; n != 2 {
		t.Errorf("channel counted %d fallbacks, want 2", n)
	}
	if n := ev.count("fallback"); n != 1 {
		t.Errorf("fallback logged %d times, want once per channel", n)
	}
}

// TestHubJoinFallbackSilent: when the channel falls silent while a watcher
// waits for a keyframe, the idle tick lets it take the fallback point once
// its join timeout has passed, without new bytes; also when the channel's
// writers write to it (direct).
func TestHubJoinFallbackSilent(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) { testJoinFallbackSilent(t, direct) })
	}
}

func testJoinFallbackSilent(t *testing.T, direct bool) {
	const timeout, tick = 5 * time.Second, 500 * time.Millisecond
	data, joins := readTS(t)
	h, clk := newTestHub(func(c *hub.Config) {
		c.JoinTimeout = timeout
		c.IdleTick = tick
		c.GOPCache = 1 << 20
	})
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	f := startFeeder(t, h, key, publish(t, h, key, hub.PublishOptions{}))
	k1, k2 := joins[1], joins[2]
	f.feed(data[:k1+tsPacket])
	var w *fakeWatcher
	if direct {
		var opts hub.SubscribeOptions
		w, opts = newDirectWatcher()
		opts.ID, opts.Join = 1, hub.JoinKeyframe
		w.startDirect(subscribe(t, h, key, opts))
	} else {
		w = startFakeWatcher(subscribe(t, h, key, hub.SubscribeOptions{ID: 1, Join: hub.JoinKeyframe}), 64<<10)
	}
	f.feed(data[k1+tsPacket : k2-tsPacket])
	clk.Advance(timeout - tick)
	if !waiting(t, f.ch, 1) {
		t.Fatal("watcher fell back before its join timeout")
	}
	// Tick until the watcher has run after a tick past its timeout (it
	// may not have been asleep yet when the first one came).
	waitUntil(t, "the watcher to fall back", func() bool {
		clk.Advance(tick)
		return !waiting(t, f.ch, 1)
	})
	// The channel stays silent: once the watcher has written what it fell
	// back to, the ticks give it ErrIdle.
	waitUntil(t, "the silent watcher's ErrIdle", func() bool {
		clk.Advance(tick)
		return w.idle.Load() > 0
	})
	f.feed(data[k2-tsPacket:])
	f.end()
	w.wait()
	checkFallbackStart(t, "watcher", w.data.Bytes(), data, k2)
}

// TestHubIdleTick: a watcher with nothing to write gets ErrIdle at the
// hub's tick and can go on; one with bytes gets them; Close stops the tick.
func TestHubIdleTick(t *testing.T) {
	const tick = 500 * time.Millisecond
	h, clk := newTestHub(func(c *hub.Config) {
		c.IdleTick = tick
		c.Grace = time.Hour
	})
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{})
	idle := subscribe(t, h, key, hub.SubscribeOptions{ID: 1})
	res := make(chan error, 1)
	go func() {
		_, _, err := idle.Next(nil, 10)
		res <- err
	}()
	var err error
	waitUntil(t, "Next to return", func() bool {
		clk.Advance(tick)
		select {
		case err = <-res:
			return true
		default:
			return false
		}
	})
	if !errors.Is(err, hub.ErrIdle) {
		t.Fatalf("idle watcher's Next = %v, want ErrIdle", err)
	}
	if _, err := p.ReadFrom(bytes.NewReader([]byte("news"))); err != nil {
		t.Fatal(err)
	}
	if got := take(t, idle, 10); string(got) != "news" {
		t.Fatalf("after ErrIdle the watcher got %q, want \"news\"", got)
	}
	h.Close()
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers pending after Close, want 0 (the tick stopped)", n)
	}
}

// TestHubIdleWhileWaiting: a watcher waiting for a keyframe is woken by
// every chunk, yet still gets ErrIdle, so that its caller can see whether
// it hung up. (The server's hang-up test shows that this comes within a
// tick or two in real time.)
func TestHubIdleWhileWaiting(t *testing.T) {
	const tick = 500 * time.Millisecond
	data, joins := readTS(t)
	h, clk := newTestHub(func(c *hub.Config) {
		c.IdleTick = tick
		c.GOPCache = 1 << 20
	})
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	f := startFeeder(t, h, key, publish(t, h, key, hub.PublishOptions{}))
	defer f.end()
	f.feed(data[:joins[1]+tsPacket])
	sub := subscribe(t, h, key, hub.SubscribeOptions{ID: 1, Join: hub.JoinKeyframe})
	res := make(chan error, 1)
	go func() {
		_, _, err := sub.Next(nil, 1<<10)
		res <- err
	}()
	// A null packet every 100 ms: chunks, and never a keyframe.
	null := append([]byte{0x47, 0x1f, 0xff, 0x10}, bytes.Repeat([]byte{0xff}, tsPacket-4)...)
	var err error
	waitUntil(t, "Next to return", func() bool {
		f.feed(null)
		clk.Advance(tick / 5)
		select {
		case err = <-res:
			return true
		default:
			return false
		}
	})
	if !errors.Is(err, hub.ErrIdle) {
		t.Fatalf("waiting watcher's Next = %v, want ErrIdle", err)
	}
	if !waiting(t, f.ch, 1) {
		t.Fatal("the watcher stopped waiting without a keyframe")
	}
}

// TestHubDelayIsNotLag: with a delay as long as MaxLag, a watcher that
// takes the bytes as soon as they are released is never evicted (their lag
// clock starts at the release, not at their arrival); one that stops
// taking them still is, MaxLag after the release.
func TestHubDelayIsNotLag(t *testing.T) {
	const lag = 10 * time.Second
	h, clk := newTestHub(func(c *hub.Config) {
		c.MaxLag = lag
		c.SlowPolicy = hub.SlowDisconnect
	})
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	f := startFeeder(t, h, key, publish(t, h, key, hub.PublishOptions{Delay: lag}))
	fast := subscribe(t, h, key, hub.SubscribeOptions{ID: 1})
	stall := subscribe(t, h, key, hub.SubscribeOptions{ID: 2})
	data := payload(31, 4000)
	var got []byte
	// 40 s of a byte stream, 100 bytes a second, each second's bytes fed
	// half a second in: the delay releases them half a second before the
	// fast watcher looks, as a real one is never there at once.
	clk.Advance(time.Second / 2)
	for i := range 40 {
		f.feed(data[i*100 : (i+1)*100])
		clk.Advance(time.Second)
		for queued(t, f.ch, 1) > 0 {
			got = append(got, take(t, fast, 1<<10)...)
		}
		if i == 14 { // the first bytes were released 5 s ago
			if b := take(t, stall, 1<<10); len(b) == 0 {
				t.Fatal("stalling watcher got nothing")
			}
		}
	}
	f.end()
	rest, err := readAll(fast)
	if got = append(got, rest...); !bytes.Equal(got, data) || !errors.Is(err, hub.ErrChannelEnded) {
		t.Fatalf("fast watcher got %d of %d bytes, then %v; want all, then ErrChannelEnded", len(got), len(data), err)
	}
	var ev *hub.EvictedError
	if _, _, err := stall.Next(nil, 1<<10); !errors.As(err, &ev) || ev.Reason != hub.ReasonLagging {
		t.Fatalf("stalled watcher's Next = %v, want evicted (lagging)", err)
	}
	if n := h.Counters().Evictions[hub.ReasonLagging]; n != 1 {
		t.Errorf("%d lag evictions, want 1 (the stalled watcher)", n)
	}
}

// TestFromStart: a watcher that waited for the channel to go live and
// subscribes only once the broadcaster has sent bytes still gets the
// stream from its first byte (FromStart); one that did not wait joins a
// generic stream live, as before.
func TestFromStart(t *testing.T) {
	h, _ := newTestHub(nil)
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "raw"}
	data := payload(7, 300_000)
	p := publish(t, h, key, hub.PublishOptions{})
	early := subscribe(t, h, key, hub.SubscribeOptions{FromStart: true}) // before the stream began
	if _, err := p.ReadFrom(bytes.NewReader(data[:100_000])); err != nil {
		t.Fatal(err)
	}
	late := subscribe(t, h, key, hub.SubscribeOptions{FromStart: true})
	live := subscribe(t, h, key, hub.SubscribeOptions{})
	if _, err := p.ReadFrom(bytes.NewReader(data[100_000:])); err != nil {
		t.Fatal(err)
	}
	p.Close()
	for _, tt := range []struct {
		name string
		sub  *hub.Subscription
		want []byte
	}{
		{"waited, subscribed before the first byte", early, data},
		{"waited, subscribed after 100,000 bytes", late, data},
		{"did not wait", live, data[100_000:]},
	} {
		got, err := readAll(tt.sub)
		if !errors.Is(err, hub.ErrChannelEnded) || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: got %d bytes (%v), want %d", tt.name, len(got), err, len(tt.want))
		}
	}
}
