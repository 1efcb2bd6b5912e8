package hub_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/media"
)

// streamPart is what a watcher got of one broadcaster stream.
type streamPart struct {
	stream uint64
	data   []byte
}

// readStreams takes everything until Next fails, on the test's goroutine,
// split where Stream changes. Each batch must be of one stream.
func readStreams(sub *hub.Subscription) ([]streamPart, error) {
	var parts []streamPart
	var iov [3][]byte
	for {
		bufs, _, err := sub.Next(iov[:0], 4096)
		if errors.Is(err, hub.ErrIdle) {
			continue
		}
		if err != nil {
			return parts, err
		}
		if len(parts) == 0 || parts[len(parts)-1].stream != sub.Stream() {
			parts = append(parts, streamPart{stream: sub.Stream()})
		}
		last := &parts[len(parts)-1]
		n := len(last.data)
		for _, b := range bufs {
			last.data = append(last.data, b...)
		}
		sub.Done(len(last.data) - n)
	}
}

// joinPoints returns every join point a tracker finds in data.
func joinPoints(data []byte) []media.JoinPoint {
	tr := media.NewTracker(media.TrackerConfig{})
	var out []media.JoinPoint
	for off := 0; off < len(data); off += 188 {
		tr.Write(data[off:min(off+188, len(data))], time.Time{})
		if jp, ok := tr.JoinPoint(); ok && (len(out) == 0 || out[len(out)-1].Seq != jp.Seq) {
			out = append(out, jp)
		}
	}
	return out
}

// TestTakeoverAtKeyframe: a broadcaster cut in the middle of a TS packet
// is taken over by one sending the same file from its start. A watcher
// gets the first stream up to its last whole packet (no torn packet for
// the next to be spliced onto), then the new stream from one of its join
// points with the PAT and PMT first, never both streams in one batch, and
// Stream tells the two apart.
func TestTakeoverAtKeyframe(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "media", "testdata", "h264.ts"))
	if err != nil {
		t.Fatal(err)
	}
	const grace = time.Minute
	h, clk := newTestHub(func(c *hub.Config) { c.Grace = grace; c.Buffer = 4 << 20; c.GOPCache = 4 << 20 })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	cut := len(data)/2/188*188 + 97

	first := publish(t, h, key, hub.PublishOptions{})
	sub := subscribe(t, h, key, hub.SubscribeOptions{Join: hub.JoinGOP})
	type result struct {
		parts []streamPart
		err   error
	}
	got := make(chan result, 1)
	go func() {
		parts, err := readStreams(sub)
		got <- result{parts, err}
	}()
	if _, err := first.ReadFrom(&pieceReader{data: data[:cut], r: rand.New(rand.NewPCG(1, 2)), max: 5000}); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second := publish(t, h, key, hub.PublishOptions{})
	if _, err := second.ReadFrom(&pieceReader{data: data, r: rand.New(rand.NewPCG(3, 4)), max: 5000}); err != nil {
		t.Fatal(err)
	}
	second.Close()
	clk.Advance(grace + time.Second) // the channel ends
	res := <-got
	if !errors.Is(res.err, hub.ErrChannelEnded) {
		t.Fatalf("watcher ended with %v, want ErrChannelEnded", res.err)
	}
	if len(res.parts) != 2 || res.parts[0].stream != 1 || res.parts[1].stream != 2 {
		var streams []uint64
		for _, p := range res.parts {
			streams = append(streams, p.stream)
		}
		t.Fatalf("watcher got streams %v, want [1 2]", streams)
	}
	if whole := cut / 188 * 188; !bytes.Equal(res.parts[0].data, data[:whole]) {
		t.Errorf("first stream: got %d bytes, want the %d bytes of its whole packets", len(res.parts[0].data), whole)
	}
	second2 := res.parts[1].data
	for _, jp := range joinPoints(data) {
		if bytes.Equal(second2, append(append([]byte(nil), jp.Prefix...), data[jp.Pos:]...)) {
			t.Logf("new stream from its join point at %d (%d prefix bytes), %d bytes", jp.Pos, len(jp.Prefix), len(second2))
			return
		}
	}
	t.Errorf("new stream: %d bytes that are not the file from one of its join points", len(second2))
}

// TestTakeoverGeneric: a generic stream is spliced as a pipe would splice
// it: the watcher gets every byte of both broadcasters, in order, and
// Stream marks where the second began.
func TestTakeoverGeneric(t *testing.T) {
	const grace = time.Minute
	h, clk := newTestHub(func(c *hub.Config) { c.Grace = grace })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "raw"}
	a, b := payload(1, 100_003), payload(2, 50_001)

	first := publish(t, h, key, hub.PublishOptions{})
	sub := subscribe(t, h, key, hub.SubscribeOptions{})
	got := make(chan []streamPart, 1)
	go func() {
		parts, _ := readStreams(sub)
		got <- parts
	}()
	if _, err := first.ReadFrom(bytes.NewReader(a)); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second := publish(t, h, key, hub.PublishOptions{})
	if _, err := second.ReadFrom(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	second.Close()
	clk.Advance(grace + time.Second)
	parts := <-got
	if len(parts) != 2 || parts[0].stream != 1 || parts[1].stream != 2 ||
		!bytes.Equal(parts[0].data, a) || !bytes.Equal(parts[1].data, b) {
		t.Fatalf("watcher got %d parts, want both streams whole, in order, as streams 1 and 2", len(parts))
	}
}

// TestTornEndKept: a TS stream that ends in a torn packet with no one to
// take over still reaches its watchers byte for byte: only a switch to
// another stream drops a torn tail.
func TestTornEndKept(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "media", "testdata", "h264.ts"))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := newTestHub(func(c *hub.Config) { c.Buffer = 4 << 20 })
	defer h.Close()
	key := hub.Key{User: "fier", Channel: "cam"}
	cut := len(data)/3/188*188 + 50
	p := publish(t, h, key, hub.PublishOptions{})
	sub := subscribe(t, h, key, hub.SubscribeOptions{Join: hub.JoinGOP})
	w := startFakeWatcher(sub, 3000)
	if _, err := p.ReadFrom(bytes.NewReader(data[:cut])); err != nil {
		t.Fatal(err)
	}
	p.Close() // no grace: the channel ends
	w.wait()
	if !errors.Is(w.err, hub.ErrChannelEnded) || !bytes.Equal(w.data.Bytes(), data[:cut]) {
		t.Fatalf("watcher got %d of %d bytes (%v), want all of them", w.data.Len(), cut, w.err)
	}
}
