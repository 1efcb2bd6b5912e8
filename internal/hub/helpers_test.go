package hub_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/hub/hubtest"
)

// The hub is driven here without sockets and without real time: a
// broadcaster is an io.Reader, a watcher is a goroutine (or the test itself)
// calling Next and Done, and the clock moves only when a test advances it.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestHub returns a hub on a fake clock. mutate adjusts its config.
func newTestHub(mutate func(*hub.Config)) (*hub.Hub, *hubtest.Clock) {
	clk := hubtest.NewClock()
	cfg := hub.Config{Buffer: 1 << 20, Grace: 0, StallTimeout: time.Second, MaxLag: 0, Clock: clk}
	if mutate != nil {
		mutate(&cfg)
	}
	return hub.New(cfg), clk
}

// payload returns n deterministic pseudo-random bytes.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
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

// fakeWatcher consumes a subscription in a goroutine, keeping and hashing
// what it gets, in batches of at most batch bytes, and going on after
// ErrIdle. The test owns the goroutine through wait.
type fakeWatcher struct {
	sub   *hub.Subscription
	batch int
	h     hash.Hash
	data  bytes.Buffer
	n     int64
	idle  atomic.Int64 // ErrIdle returns
	err   error
	done  chan struct{}
}

func startFakeWatcher(sub *hub.Subscription, batch int) *fakeWatcher {
	w := &fakeWatcher{sub: sub, batch: batch, h: sha256.New(), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var iov [3][]byte
		for {
			bufs, _, err := sub.Next(iov[:0], w.batch)
			if errors.Is(err, hub.ErrIdle) {
				w.idle.Add(1)
				continue
			}
			if err != nil {
				w.err = err
				return
			}
			var n int
			for _, b := range bufs {
				w.h.Write(b)
				w.data.Write(b)
				n += len(b)
			}
			w.n += int64(n)
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

// take is one Next and Done on the test's goroutine: it waits for bytes
// and returns them.
func take(t *testing.T, sub *hub.Subscription, limit int) []byte {
	t.Helper()
	bufs, _, err := sub.Next(nil, limit)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	b := bytes.Join(bufs, nil)
	sub.Done(len(b))
	return b
}

// nextBatch is one Next and Done on the test's goroutine: the bytes of one
// batch, or false once the channel ended. Any other end fails the test.
func nextBatch(t *testing.T, sub *hub.Subscription) ([]byte, bool) {
	t.Helper()
	bufs, _, err := sub.Next(nil, 64<<10)
	if errors.Is(err, hub.ErrChannelEnded) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("reading watcher ended with %v", err)
	}
	b := bytes.Join(bufs, nil)
	sub.Done(len(b))
	return b, true
}

// readAll takes everything until Next fails, on the test's goroutine.
func readAll(sub *hub.Subscription) ([]byte, error) {
	var out []byte
	var iov [3][]byte
	for {
		bufs, _, err := sub.Next(iov[:0], 64<<10)
		if err != nil {
			return out, err
		}
		n := len(out)
		for _, b := range bufs {
			out = append(out, b...)
		}
		sub.Done(len(out) - n)
	}
}

// queued returns what the watcher with the given ID has available but not
// yet taken.
func queued(t *testing.T, ch *hub.Channel, id uint64) int64 {
	t.Helper()
	for _, w := range ch.Info().Watchers {
		if w.ID == id {
			return w.Queued
		}
	}
	t.Fatalf("no watcher %d in the channel", id)
	return 0
}

func publish(t *testing.T, h *hub.Hub, key hub.Key, opts hub.PublishOptions) *hub.Publisher {
	t.Helper()
	p, err := h.Publish(key, opts)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return p
}

func subscribe(t *testing.T, h *hub.Hub, key hub.Key, opts hub.SubscribeOptions) *hub.Subscription {
	t.Helper()
	s, err := h.Subscribe(key, opts)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return s
}
