package hub_test

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/fstream/fstream/internal/hub"
)

// guardedReader serves data to a broadcaster and records whether it was
// ever asked to read into memory that a watcher still holds.
type guardedReader struct {
	r        io.Reader
	mu       sync.Mutex
	held     [][]byte
	violated bool
}

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	for _, h := range g.held {
		if overlaps(h, p) {
			g.violated = true
		}
	}
	g.mu.Unlock()
	return g.r.Read(p)
}

func (g *guardedReader) hold(bufs [][]byte) {
	g.mu.Lock()
	g.held = bufs
	g.mu.Unlock()
}

func overlaps(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, b0 := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return a0 < b0+uintptr(len(b)) && b0 < a0+uintptr(len(a))
}

// TestEvictedWriterKeepsItsBytes: a watcher evicted while its writer is
// still inside a write of ring slices (a write that has not returned yet)
// keeps those bytes until the writer reports back: the broadcaster never
// reads into them meanwhile, so the kernel cannot send the next lap's
// bytes in their place. Once the writer is back, the broadcaster goes on
// and the other watcher gets every byte.
func TestEvictedWriterKeepsItsBytes(t *testing.T) {
	const stall = time.Second
	h, clk := newTestHub(func(c *hub.Config) {
		c.Buffer = 128 << 10
		c.StallTimeout = stall
	})
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	p := publish(t, h, key, hub.PublishOptions{})
	evicted := make(chan hub.CloseReason, 1)
	stalled := subscribe(t, h, key, hub.SubscribeOptions{ID: 1, OnEvict: func(r hub.CloseReason) { evicted <- r }})
	good := subscribe(t, h, key, hub.SubscribeOptions{ID: 2})
	ch := h.Channel(key)
	data := payload(29, 1<<20)
	src := &guardedReader{r: bytes.NewReader(data)}
	if _, err := p.ReadFrom(io.LimitReader(src, 32<<10)); err != nil {
		t.Fatal(err)
	}
	// The stalled watcher's writer takes slices and is "inside its write".
	held, _, err := stalled.Next(nil, 32<<10)
	if err != nil {
		t.Fatal(err)
	}
	src.hold(held)
	clk.Advance(time.Millisecond)
	pubDone := make(chan error, 1)
	go func() {
		_, err := p.ReadFrom(src)
		p.Close()
		pubDone <- err
	}()

	var got []byte
	for released := false; ; {
		if !released && queued(t, ch, 2) == 0 {
			clk.WaitTimers(t, 1) // the broadcaster waits on the full ring
			if queued(t, ch, 2) == 0 {
				clk.Advance(stall - time.Millisecond) // the stalled watcher is evicted
				select {
				case <-evicted:
				case <-time.After(time.Minute):
					t.Fatal("the stalled watcher was not evicted")
				}
				// Its writer comes back from its write. Until then the
				// broadcaster must not have read into its bytes.
				clk.WaitTimers(t, 1)
				src.hold(nil)
				stalled.Done(0)
				released = true
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
	if src.violated {
		t.Error("the broadcaster read into bytes an evicted watcher's write still held")
	}
	if !bytes.Equal(got, data) {
		t.Errorf("reading watcher got %d of %d bytes or different bytes", len(got), len(data))
	}
	var ev *hub.EvictedError
	if _, _, err := stalled.Next(nil, 1); !errors.As(err, &ev) || ev.Reason != hub.ReasonStalled {
		t.Fatalf("stalled watcher's Next = %v, want evicted (stalled)", err)
	}
}
