package hub_test

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// chunkReader hands out n chunks of one fixed buffer, as a socket would.
type chunkReader struct {
	chunk []byte
	n     int
}

func (r *chunkReader) Read(b []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	r.n--
	return copy(b, r.chunk), nil
}

// BenchmarkHubFanOut measures publishing one chunk to N watchers that take
// their bytes as slices of the ring (no socket writes): the hub's own cost
// per chunk, and its allocations.
func BenchmarkHubFanOut(b *testing.B) {
	const chunkSize = 64 << 10
	for _, watchers := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			h := hub.New(hub.Config{Buffer: 16 << 20, StallTimeout: time.Minute})
			defer h.Close()
			key := hub.Key{User: "bench", Channel: "bench"}
			p, _ := h.Publish(key, hub.PublishOptions{})
			var wg sync.WaitGroup
			for range watchers {
				sub, _ := h.Subscribe(key, hub.SubscribeOptions{})
				wg.Go(func() {
					var iov [2][]byte
					for {
						bufs, _, err := sub.Next(iov[:0], 1<<20)
						if err != nil {
							return
						}
						n := 0
						for _, x := range bufs {
							n += len(x)
						}
						sub.Done(n)
					}
				})
			}
			b.SetBytes(chunkSize)
			b.ReportAllocs()
			b.ResetTimer()
			p.ReadFrom(&chunkReader{chunk: make([]byte, chunkSize), n: b.N})
			p.Close()
			wg.Wait()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(watchers), "ns/chunk/watcher")
		})
	}
}

// lockstepReader hands out one small chunk at a time, each only once every
// watcher has taken the bytes before it: a live stream at a real bitrate,
// where every chunk wakes every watcher.
type lockstepReader struct {
	chunk    []byte
	n        int
	watchers int64
	taken    *atomic.Int64 // bytes taken, summed over the watchers
	sent     int64
}

func (r *lockstepReader) Read(b []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	for r.taken.Load() < r.sent*r.watchers {
		runtime.Gosched()
	}
	r.n--
	n := copy(b, r.chunk) // less at the ring's end: the rest comes next
	r.sent += int64(n)
	return n, nil
}

// BenchmarkHubLiveFanOut measures what the hub costs per watcher per
// broadcaster write at a real bitrate: every 1,316-byte chunk goes to every
// watcher, which takes it without a socket write. This is the hub's share of
// the per-write cost model in docs/PERFORMANCE.md. With mode=goroutine each
// watcher's goroutine is woken, takes the chunk under the channel lock and
// sleeps again; with mode=direct the watchers are caught up and direct, and
// the channel's writers hand each chunk to every watcher's DirectWriter
// (direct.go), as they do for TCP watchers.
func BenchmarkHubLiveFanOut(b *testing.B) {
	const chunkSize = 1316
	for _, mode := range []string{"goroutine", "direct"} {
		for _, watchers := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("mode=%s/watchers=%d", mode, watchers), func(b *testing.B) {
				benchLiveFanOut(b, mode == "direct", watchers, chunkSize)
			})
		}
	}
}

// countingWriter is a DirectWriter that takes everything and counts it.
type countingWriter struct{ taken *atomic.Int64 }

func (w countingWriter) TryWrite(bufs [][]byte) int {
	n := 0
	for _, x := range bufs {
		n += len(x)
	}
	w.taken.Add(int64(n))
	return n
}

func benchLiveFanOut(b *testing.B, direct bool, watchers, chunkSize int) {
	h := hub.New(hub.Config{Buffer: 16 << 20, StallTimeout: time.Minute, MaxLag: 10 * time.Second, IdleTick: time.Second})
	defer h.Close()
	key := hub.Key{User: "bench", Channel: "bench"}
	p, _ := h.Publish(key, hub.PublishOptions{})
	var taken atomic.Int64
	var wg sync.WaitGroup
	for range watchers {
		opts := hub.SubscribeOptions{}
		if direct {
			opts.Direct = countingWriter{&taken}
		}
		sub, _ := h.Subscribe(key, opts)
		wg.Go(func() {
			// Its own writes count what they take, as the writers' do.
			pumpDirect(sub, 256<<10, countingWriter{&taken}.TryWrite, func() {})
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	p.ReadFrom(&lockstepReader{chunk: make([]byte, chunkSize), n: b.N, watchers: int64(watchers), taken: &taken})
	p.Close()
	wg.Wait()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(watchers), "ns/chunk/watcher")
}
