package hub_test

import (
	"fmt"
	"io"
	"sync"
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
