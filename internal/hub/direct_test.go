package hub_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/fstream/fstream/internal/hub"
)

// directSink stands for a socket written without blocking: TryWrite takes
// all, part or none of a batch (chosen at random, as a socket's room would
// be), and the watcher's own goroutine, after a hand-back, takes a whole
// batch (a blocking write).
type directSink struct {
	mu       sync.Mutex
	r        *rand.Rand
	data     bytes.Buffer
	direct   int // bytes taken by TryWrite
	partial  int // TryWrite calls that took less than offered
	own      int // bytes the watcher's goroutine wrote
	holdFull bool
}

func (d *directSink) TryWrite(bufs [][]byte) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	size := 0
	for _, b := range bufs {
		size += len(b)
	}
	room := size
	switch p := d.r.IntN(10); {
	case d.holdFull:
		room = 0
	case p == 0:
		room = 0
	case p < 3:
		room = d.r.IntN(size + 1)
	}
	if room < size {
		d.partial++
	}
	n := room
	for _, b := range bufs {
		k := min(len(b), room)
		d.data.Write(b[:k])
		room -= k
	}
	d.direct += n
	return n
}

func (d *directSink) writeOwn(bufs [][]byte) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, b := range bufs {
		d.data.Write(b)
		n += len(b)
	}
	d.own += n
	return n
}

// pumpDirect is a watcher's goroutine as the server runs it: its own
// writes (write) until it is caught up, then WaitDirect while the channel's
// writers write, calling onIdle at each ErrIdle. It returns why it ended.
func pumpDirect(sub *hub.Subscription, limit int, write func([][]byte) int, onIdle func()) error {
	var iov [3][]byte
	written := 0
	for {
		bufs, _, err := sub.DoneNext(written, iov[:0], limit)
		written = 0
		if errors.Is(err, hub.ErrDirect) {
			for err = sub.WaitDirect(); errors.Is(err, hub.ErrIdle); err = sub.WaitDirect() {
				onIdle()
			}
			if err == nil {
				continue // handed back
			}
		}
		if errors.Is(err, hub.ErrIdle) {
			onIdle()
			continue
		}
		if err != nil {
			return err
		}
		written = write(bufs)
	}
}

func TestDirectWritesByteExact(t *testing.T) {
	for _, writers := range []int{1, 3} {
		h, _ := newTestHub(func(c *hub.Config) { c.Writers = writers })
		key := hub.Key{User: "u", Channel: "c"}
		p := publish(t, h, key, hub.PublishOptions{})
		const watchers = 40
		sinks := make([]*directSink, watchers)
		errs := make([]error, watchers)
		var wg sync.WaitGroup
		for i := range sinks {
			sinks[i] = &directSink{r: rand.New(rand.NewPCG(uint64(i), 7))}
			sub := subscribe(t, h, key, hub.SubscribeOptions{ID: uint64(i + 1), Direct: sinks[i]})
			wg.Go(func() { errs[i] = pumpDirect(sub, 32<<10, sinks[i].writeOwn, func() {}) })
		}
		data := payload(42, 2<<20)
		src := &pieceReader{data: data, r: rand.New(rand.NewPCG(1, 2)), max: 9000}
		if _, err := p.ReadFrom(src); err != nil {
			t.Fatalf("ReadFrom: %v", err)
		}
		p.Close()
		h.Close()
		wg.Wait()
		var direct, own, partial int
		for i, d := range sinks {
			if !errors.Is(errs[i], hub.ErrChannelEnded) {
				t.Errorf("writers=%d watcher %d ended with %v, want ErrChannelEnded", writers, i, errs[i])
			}
			if !bytes.Equal(d.data.Bytes(), data) {
				t.Errorf("writers=%d watcher %d got %d bytes, not the %d sent byte for byte", writers, i, d.data.Len(), len(data))
			}
			direct, own, partial = direct+d.direct, own+d.own, partial+d.partial
		}
		// Both paths and the hand-backs between them must have run, or the
		// test shows nothing about them.
		if direct == 0 || own == 0 || partial == 0 {
			t.Errorf("writers=%d: %d bytes written directly, %d by the watchers, %d hand-backs: want all three", writers, direct, own, partial)
		}
		t.Logf("writers=%d: %d bytes written directly, %d by the watchers, %d hand-backs", writers, direct, own, partial)
	}
}

// A watcher the hub evicts while the channel's writers write to it ends
// with the eviction, and a kick of one leaves the others alone.
func TestDirectWatcherKicked(t *testing.T) {
	h, _ := newTestHub(nil)
	defer h.Close()
	key := hub.Key{User: "u", Channel: "c"}
	p := publish(t, h, key, hub.PublishOptions{})
	defer p.Close()
	quiet := &directSink{r: rand.New(rand.NewPCG(1, 1)), holdFull: false}
	kicked := &directSink{r: rand.New(rand.NewPCG(2, 2))}
	subQuiet := subscribe(t, h, key, hub.SubscribeOptions{ID: 1, Direct: quiet})
	subKicked := subscribe(t, h, key, hub.SubscribeOptions{ID: 2, Direct: kicked})
	// Caught up at once (nothing published): both go direct.
	for _, sub := range []*hub.Subscription{subQuiet, subKicked} {
		if _, _, err := sub.Next(nil, 1<<10); !errors.Is(err, hub.ErrDirect) {
			t.Fatalf("Next of a caught-up watcher with a DirectWriter: %v, want ErrDirect", err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- subKicked.WaitDirect() }()
	if !p.Channel().Kick(2) {
		t.Fatal("Kick(2) found no watcher 2")
	}
	var ev *hub.EvictedError
	if err := <-done; !errors.As(err, &ev) || ev.Reason != hub.ReasonKicked {
		t.Fatalf("WaitDirect of a kicked watcher: %v, want an eviction for %q", err, hub.ReasonKicked)
	}
	subKicked.Close()
	if err := subQuiet.Err(); err != nil {
		t.Fatalf("the other watcher ended too: %v", err)
	}
	subQuiet.Close()
	if err := subQuiet.WaitDirect(); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("WaitDirect after Close: %v", err)
	}
}

// TryWrite makes a fakeWatcher a DirectWriter that takes everything: the
// channel's writers keep and hash what they write, as its goroutine would.
func (w *fakeWatcher) TryWrite(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		w.h.Write(b)
		w.data.Write(b)
		n += len(b)
	}
	w.n += int64(n)
	return n
}

// startDirectWatcher is startFakeWatcher for a watcher subscribed with
// newDirectWatcher's options: its goroutine writes only what the channel's
// writers hand back, which for a sink that takes everything is the bytes of
// its join, and waits in WaitDirect otherwise, going on after ErrIdle.
func newDirectWatcher() (*fakeWatcher, hub.SubscribeOptions) {
	w := &fakeWatcher{batch: 64 << 10, h: sha256.New(), done: make(chan struct{})}
	return w, hub.SubscribeOptions{Direct: w}
}

func (w *fakeWatcher) startDirect(sub *hub.Subscription) {
	w.sub = sub
	go func() {
		defer close(w.done)
		w.err = pumpDirect(sub, w.batch, w.TryWrite, func() { w.idle.Add(1) })
	}()
}
