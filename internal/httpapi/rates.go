package httpapi

import (
	"sync"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// rateWindow is the span bitrates are averaged over.
const rateWindow = 5 * time.Second

// rateSample is a channel's byte counters at one moment.
type rateSample struct {
	at      time.Time
	in, out int64
}

// rateTable keeps each channel's recent counter samples, keyed by the
// channel itself so that a channel that ended and started again under the
// same name starts afresh.
type rateTable struct {
	mu   sync.Mutex
	hist map[*hub.Channel][]rateSample // oldest first, within rateWindow
}

func newRateTable() *rateTable {
	return &rateTable{hist: make(map[*hub.Channel][]rateSample)}
}

// record adds a sample for each channel and forgets channels that are gone.
func (t *rateTable) record(chans []*hub.Channel, now time.Time) {
	// Read the counters before taking our lock: Stats takes the channel's.
	samples := make([]rateSample, len(chans))
	for i, ch := range chans {
		st := ch.Stats()
		samples[i] = rateSample{at: now, in: st.BytesIn, out: st.BytesOut}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.hist
	t.hist = make(map[*hub.Channel][]rateSample, len(chans))
	for i, ch := range chans {
		h := append(old[ch], samples[i])
		// Keep what lies within the window, with half an interval of
		// slack so that ticker jitter does not shorten it.
		k := 0
		for k < len(h)-1 && now.Sub(h[k].at) > rateWindow+sampleInterval/2 {
			k++
		}
		t.hist[ch] = h[k:]
	}
}

// rate returns a channel's bitrates in and out, in bits per second, over
// its samples; zero until it has two.
func (t *rateTable) rate(ch *hub.Channel) (in, out float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hist[ch]
	if len(h) < 2 {
		return 0, 0
	}
	first, last := h[0], h[len(h)-1]
	d := last.at.Sub(first.at).Seconds()
	if d <= 0 {
		return 0, 0
	}
	return float64(last.in-first.in) * 8 / d, float64(last.out-first.out) * 8 / d
}
