package record

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// Recorder records the channels that match Config.Channels while they are
// live. Close stops it and waits for its goroutines.
type Recorder struct {
	cfg   Config
	hub   *hub.Hub
	clock hub.Clock
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	scanC  chan struct{} // the scan timer fired
	pruneC chan struct{} // retention is due (timer, a finished file, a full disk)

	mu     sync.Mutex
	active map[hub.Key]bool
	stats  map[hub.Key]*chanStats
	timers []hub.Timer
	closed bool
}

// New checks cfg, creates its directory and starts recording the matching
// channels of h.
func New(cfg Config, h *hub.Hub) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if err := os.MkdirAll(cfg.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{
		cfg: cfg, hub: h, clock: cfg.Clock, log: cfg.Logger,
		ctx: ctx, cancel: cancel,
		scanC: make(chan struct{}, 1), pruneC: make(chan struct{}, 1),
		active: make(map[hub.Key]bool), stats: make(map[hub.Key]*chanStats),
	}
	r.wg.Add(1)
	go r.loop()
	r.mu.Lock()
	r.timers = []hub.Timer{
		r.every(cfg.ScanInterval, r.scanC),
		r.every(cfg.PruneInterval, r.pruneC),
	}
	r.mu.Unlock()
	r.kickScan()
	r.kickPrune()
	return r, nil
}

// every signals c every dur on the recorder's clock until Close. The
// caller holds r.mu, which the timer function takes before it reads t.
func (r *Recorder) every(dur time.Duration, c chan struct{}) hub.Timer {
	var t hub.Timer
	t = r.clock.AfterFunc(dur, func() {
		signal(c)
		r.mu.Lock()
		if !r.closed {
			t.Reset(dur)
		}
		r.mu.Unlock()
	})
	return t
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (r *Recorder) kickScan()  { signal(r.scanC) }
func (r *Recorder) kickPrune() { signal(r.pruneC) }

// Close stops every recording (finishing its file) and waits for the
// recorder's goroutines. It is idempotent, and does nothing on nil.
func (r *Recorder) Close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		for _, t := range r.timers {
			t.Stop()
		}
	}
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// loop scans for channels to record and runs retention, until Close.
func (r *Recorder) loop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.scanC:
			r.scan()
		case <-r.pruneC:
			r.prune()
		}
	}
}

// scan starts a recording for every live channel that matches and has
// none.
func (r *Recorder) scan() {
	if len(r.cfg.Channels) == 0 {
		return
	}
	for _, c := range r.hub.Channels() {
		k := c.Key()
		if !matches(r.cfg.Channels, k) || !c.Stats().Live {
			continue
		}
		if err := checkNames(k.User, k.Channel); err != nil {
			continue // the protocol refuses such names; never a path
		}
		r.mu.Lock()
		if r.active[k] || r.closed {
			r.mu.Unlock()
			continue
		}
		r.active[k] = true
		st := r.stats[k]
		if st == nil {
			st = new(chanStats)
			r.stats[k] = st
		}
		r.wg.Add(1)
		r.mu.Unlock()
		rec := &recording{r: r, key: k, st: st, queue: make(chan item, queueItems), space: make(chan struct{}, 1)}
		r.log.Info("recording channel", "user", k.User, "channel", k.Channel, "dir", joinDir(r.cfg.Dir, k))
		go func() {
			defer r.wg.Done()
			rec.run(r.ctx)
			r.mu.Lock()
			delete(r.active, k)
			r.mu.Unlock()
			r.kickScan() // live again already (a quick reconnect)?
		}()
	}
}

// Stats returns the counters of every channel recorded since the start,
// sorted by user and channel.
func (r *Recorder) Stats() []ChannelStats {
	r.mu.Lock()
	out := make([]ChannelStats, 0, len(r.stats))
	for k, st := range r.stats {
		out = append(out, st.snapshot(k))
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		return a.User < b.User || (a.User == b.User && a.Channel < b.Channel)
	})
	return out
}

// current returns the paths of the files being written now.
func (r *Recorder) current() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := make(map[string]bool)
	for _, st := range r.stats {
		if p := st.current(); p != "" {
			cur[p] = true
		}
	}
	return cur
}

// joinDir is the directory of a channel's files. The names were checked
// with checkNames.
func joinDir(dir string, k hub.Key) string {
	return filepath.Join(dir, k.User, k.Channel)
}
