package httpapi

import (
	"sync"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

const (
	// rateWindow is the span bitrates are averaged over.
	rateWindow = 5 * time.Second
	// historyWindow is how far back the server keeps each channel's
	// bitrates, so that a status page opened now draws full graphs.
	historyWindow = 5 * time.Minute
)

// rateSample is a channel's byte counters at one moment.
type rateSample struct {
	at      time.Time
	in, out int64
}

// ratePoint is a channel's bitrates at one sample, in bits per second.
// float32 keeps a channel's five minutes at about 5 KiB.
type ratePoint struct {
	unix    int64 // seconds
	in, out float32
}

// rateTable keeps each channel's recent counter samples and the bitrates
// computed from them, keyed by the channel itself so that a channel that
// ended and started again under the same name starts afresh. Its size is
// bounded by the hub's channel limit times historyWindow's samples.
type rateTable struct {
	mu      sync.Mutex
	hist    map[*hub.Channel][]rateSample // oldest first, within rateWindow
	history map[*hub.Channel][]ratePoint  // oldest first, within historyWindow
}

func newRateTable() *rateTable {
	return &rateTable{hist: make(map[*hub.Channel][]rateSample), history: make(map[*hub.Channel][]ratePoint)}
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
	old, oldHistory := t.hist, t.history
	t.hist = make(map[*hub.Channel][]rateSample, len(chans))
	t.history = make(map[*hub.Channel][]ratePoint, len(chans))
	for i, ch := range chans {
		h := append(old[ch], samples[i])
		// Keep what lies within the window, with half an interval of
		// slack so that ticker jitter does not shorten it.
		k := 0
		for k < len(h)-1 && now.Sub(h[k].at) > rateWindow+sampleInterval/2 {
			k++
		}
		t.hist[ch] = h[k:]
		in, out := rateOf(t.hist[ch])
		p := append(oldHistory[ch], ratePoint{unix: now.Unix(), in: float32(in), out: float32(out)})
		k = 0
		for k < len(p)-1 && now.Unix()-p[k].unix >= int64(historyWindow/time.Second) {
			k++
		}
		t.history[ch] = p[k:]
	}
}

// rate returns a channel's bitrates in and out, in bits per second, over
// its samples; zero until it has two.
func (t *rateTable) rate(ch *hub.Channel) (in, out float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return rateOf(t.hist[ch])
}

// rateOf is the average bitrates over samples, oldest first.
func rateOf(h []rateSample) (in, out float64) {
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

// historyOf returns a channel's bitrates over the last historyWindow, one
// per sample, oldest first, and the Unix second of the newest.
func (t *rateTable) historyOf(ch *hub.Channel) (in, out []float64, end int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.history[ch]
	in, out = make([]float64, len(p)), make([]float64, len(p))
	for i, r := range p {
		in[i], out[i] = float64(r.in), float64(r.out)
	}
	if len(p) > 0 {
		end = p[len(p)-1].unix
	}
	return in, out, end
}
