package hub

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// The hub is driven here without sockets: a broadcaster is an io.Reader and
// a watcher is a goroutine calling Next and Done.

func newTestHub(mutate func(*Config)) *Hub {
	cfg := Config{Buffer: 1 << 20, Grace: 0, StallTimeout: time.Second, MaxLag: 0}
	if mutate != nil {
		mutate(&cfg)
	}
	return New(cfg)
}

// pieceReader returns data in pseudo-random pieces.
type pieceReader struct {
	data []byte
	r    *rand.Rand
	max  int
}

func (p *pieceReader) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(b), len(p.data), 1+p.r.IntN(p.max))
	copy(b, p.data[:n])
	p.data = p.data[n:]
	return n, nil
}

// fakeWatcher consumes a subscription, hashing what it gets, in batches of
// at most batch bytes.
type fakeWatcher struct {
	sub   *Subscription
	batch int
	h     hash.Hash
	n     int64
	err   error
	done  chan struct{}
}

func startFakeWatcher(sub *Subscription, batch int, delay time.Duration) *fakeWatcher {
	w := &fakeWatcher{sub: sub, batch: batch, h: sha256.New(), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var iov [2][]byte
		for {
			bufs, _, err := sub.Next(iov[:0], w.batch)
			if err != nil {
				w.err = err
				return
			}
			var n int
			for _, b := range bufs {
				w.h.Write(b)
				n += len(b)
			}
			w.n += int64(n)
			if delay > 0 {
				time.Sleep(delay)
			}
			sub.Done(n)
		}
	}()
	return w
}

func (w *fakeWatcher) wait() { <-w.done }

func (w *fakeWatcher) sum() (s [32]byte) {
	copy(s[:], w.h.Sum(nil))
	return s
}

func publish(t *testing.T, h *Hub, key Key, opts PublishOptions) *Publisher {
	t.Helper()
	p, err := h.Publish(key, opts)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return p
}

func subscribe(t *testing.T, h *Hub, key Key, opts SubscribeOptions) *Subscription {
	t.Helper()
	s, err := h.Subscribe(key, opts)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return s
}

// TestHubFanOutExact: a ring much smaller than the stream wraps many times
// and holds the broadcaster back for slow watchers; every watcher still gets
// every byte, whatever its batch size.
func TestHubFanOutExact(t *testing.T) {
	h := newTestHub(func(c *Config) { c.Buffer = 256 << 10 })
	defer h.Close()
	key := Key{"fier", "cam"}
	p := publish(t, h, key, PublishOptions{})
	data := payload(21, 8<<20)
	var ws []*fakeWatcher
	for _, batch := range []int{4096, 1000, 64 << 10, 1 << 20, 333} {
		ws = append(ws, startFakeWatcher(subscribe(t, h, key, SubscribeOptions{}), batch, 0))
	}
	n, err := p.ReadFrom(&pieceReader{data: data, r: rand.New(rand.NewPCG(1, 2)), max: 100 << 10})
	if err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	p.Close() // no grace: the channel ends once watchers drain
	want := sha256.Sum256(data)
	for i, w := range ws {
		w.wait()
		if !errors.Is(w.err, ErrChannelEnded) {
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
	h := newTestHub(func(c *Config) { c.Buffer = 8 << 20 })
	defer h.Close()
	key := Key{"fier", "cam"}
	p := publish(t, h, key, PublishOptions{})
	sub := subscribe(t, h, key, SubscribeOptions{})
	data := payload(22, 5<<20)
	if _, err := p.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	st := h.Channel(key).Stats()
	if st.Capacity < len(data) || st.Capacity > 8<<20 || st.Buffered != len(data) {
		t.Fatalf("stats after 5 MiB unread: %+v", st)
	}
	w := startFakeWatcher(sub, 1<<20, 0)
	p.Close()
	w.wait()
	if w.sum() != sha256.Sum256(data) {
		t.Fatal("bytes changed across ring growth")
	}
}

// TestHubStalledEvicted: a watcher that never takes its bytes is evicted
// once it holds a full ring for the stall timeout; the others get all.
func TestHubStalledEvicted(t *testing.T) {
	h := newTestHub(func(c *Config) {
		c.Buffer = 128 << 10
		c.StallTimeout = 20 * time.Millisecond
	})
	defer h.Close()
	key := Key{"fier", "cam"}
	p := publish(t, h, key, PublishOptions{})
	var evicted []CloseReason
	var mu sync.Mutex
	stalled := subscribe(t, h, key, SubscribeOptions{OnEvict: func(r CloseReason) {
		mu.Lock()
		evicted = append(evicted, r)
		mu.Unlock()
	}})
	good := startFakeWatcher(subscribe(t, h, key, SubscribeOptions{}), 64<<10, 0)
	data := payload(23, 2<<20)
	if _, err := p.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	p.Close()
	good.wait()
	if good.sum() != sha256.Sum256(data) {
		t.Errorf("reading watcher lost bytes: got %d, ended with %v", good.n, good.err)
	}
	_, _, err := stalled.Next(nil, 1)
	var ev *EvictedError
	if !errors.As(err, &ev) || ev.Reason != ReasonStalled {
		t.Fatalf("stalled watcher's Next = %v, want evicted (stalled)", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(evicted) != 1 || evicted[0] != ReasonStalled {
		t.Fatalf("OnEvict calls: %v", evicted)
	}
}

// TestHubLagging: a watcher whose next byte is older than MaxLag is evicted
// when it asks for it.
func TestHubLagging(t *testing.T) {
	h := newTestHub(func(c *Config) {
		c.MaxLag = 20 * time.Millisecond
		c.Grace = time.Hour
	})
	defer h.Close()
	key := Key{"fier", "cam"}
	p := publish(t, h, key, PublishOptions{})
	sub := subscribe(t, h, key, SubscribeOptions{})
	fresh := subscribe(t, h, key, SubscribeOptions{})
	if _, err := p.ReadFrom(bytes.NewReader([]byte("old"))); err != nil {
		t.Fatal(err)
	}
	bufs, deadline, err := fresh.Next(nil, 10)
	if err != nil || len(bufs) != 1 || string(bufs[0]) != "old" || deadline.IsZero() {
		t.Fatalf("fresh watcher: %q %v %v", bufs, deadline, err)
	}
	fresh.Done(3)
	time.Sleep(40 * time.Millisecond) // let the byte age past MaxLag
	_, _, err = sub.Next(nil, 10)
	var ev *EvictedError
	if !errors.As(err, &ev) || ev.Reason != ReasonLagging {
		t.Fatalf("Next = %v, want evicted (lagging)", err)
	}
}

// TestHubTakeover: a second Publish stops the first, whose ReadFrom returns;
// the watcher sees the first stream then the second, nothing lost between.
func TestHubTakeover(t *testing.T) {
	h := newTestHub(nil)
	defer h.Close()
	key := Key{"fier", "cam"}
	pr, pw := io.Pipe()
	var stopReason CloseReason
	first := publish(t, h, key, PublishOptions{OnStop: func(r CloseReason) {
		stopReason = r
		pr.CloseWithError(errors.New("stopped"))
	}})
	w := startFakeWatcher(subscribe(t, h, key, SubscribeOptions{}), 1<<20, 0)
	firstDone := make(chan error)
	go func() {
		_, err := first.ReadFrom(pr)
		first.Close()
		firstDone <- err
	}()
	pw.Write([]byte("first,"))
	waitFor(t, "first bytes delivered", func() bool { return h.Channel(key).Stats().BytesOut == 6 })

	second := publish(t, h, key, PublishOptions{})
	var ev *EvictedError
	if err := <-firstDone; !errors.As(err, &ev) || ev.Reason != ReasonTakenOver || stopReason != ReasonTakenOver {
		t.Fatalf("first ReadFrom = %v (OnStop %q), want taken-over", err, stopReason)
	}
	if _, err := second.ReadFrom(bytes.NewReader([]byte("second"))); err != nil {
		t.Fatal(err)
	}
	second.Close()
	w.wait()
	if w.sum() != sha256.Sum256([]byte("first,second")) {
		t.Fatalf("watcher got %d bytes, want \"first,second\"", w.n)
	}
}

func TestHubSubscribeErrors(t *testing.T) {
	h := newTestHub(func(c *Config) { c.Grace = time.Hour })
	key := Key{"fier", "cam"}
	if _, err := h.Subscribe(key, SubscribeOptions{}); !errors.Is(err, ErrNotLive) {
		t.Fatalf("not live: %v", err)
	}
	p := publish(t, h, key, PublishOptions{Password: "pw"})
	for _, pw := range []string{"", "p", "pw2", "PW"} {
		if _, err := h.Subscribe(key, SubscribeOptions{Password: pw}); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("password %q: %v, want ErrWrongPassword", pw, err)
		}
	}
	if _, err := h.Subscribe(Key{"other", "cam"}, SubscribeOptions{Password: "pw"}); !errors.Is(err, ErrNotLive) {
		t.Errorf("other user's channel: %v", err)
	}
	sub := subscribe(t, h, key, SubscribeOptions{Password: "pw"})
	p.Close()
	if _, err := h.Subscribe(key, SubscribeOptions{Password: "pw"}); !errors.Is(err, ErrNotLive) {
		t.Errorf("in grace: %v, want ErrNotLive", err)
	}
	if h.Channel(key).Stats().Watchers != 1 {
		t.Error("watcher dropped when the broadcaster left")
	}
	h.Close()
	if _, _, err := sub.Next(nil, 1); !errors.Is(err, ErrChannelEnded) {
		t.Errorf("after Close: %v, want ErrChannelEnded", err)
	}
	if _, err := h.Publish(key, PublishOptions{}); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
}

// TestHubDelay: with a delay, bytes are batched but none are lost, and the
// last batch is flushed without more input.
func TestHubDelay(t *testing.T) {
	h := newTestHub(func(c *Config) { c.Grace = time.Hour })
	defer h.Close()
	key := Key{"fier", "cam"}
	p := publish(t, h, key, PublishOptions{Delay: 10 * time.Millisecond})
	sub := subscribe(t, h, key, SubscribeOptions{})
	if _, err := p.ReadFrom(bytes.NewReader([]byte("batched"))); err != nil {
		t.Fatal(err)
	}
	bufs, _, err := sub.Next(nil, 100)
	if err != nil || len(bufs) != 1 || string(bufs[0]) != "batched" {
		t.Fatalf("Next = %q, %v", bufs, err)
	}
}

// TestHubCloseDuringWait: Close wakes a watcher blocked in Next and a
// broadcaster blocked on a full ring.
func TestHubCloseDuringWait(t *testing.T) {
	h := newTestHub(func(c *Config) {
		c.Buffer = 64 << 10
		c.StallTimeout = time.Hour
	})
	key := Key{"fier", "cam"}
	p := publish(t, h, key, PublishOptions{})
	idle := subscribe(t, h, key, SubscribeOptions{})
	_ = idle // never reads: the ring fills and the broadcaster waits
	pubDone := make(chan error)
	go func() {
		_, err := p.ReadFrom(bytes.NewReader(payload(24, 1<<20)))
		pubDone <- err
	}()
	waitFor(t, "ring full", func() bool { return h.Channel(key).Stats().Buffered >= 60<<10 })
	h.Close()
	var ev *EvictedError
	if err := <-pubDone; !errors.As(err, &ev) || ev.Reason != ReasonShutdown {
		t.Fatalf("blocked broadcaster: %v, want shutdown", err)
	}
	p.Close()
}
