package hls

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// janitorInterval is how often idle segmenters are stopped and always-on
// ones started.
const janitorInterval = time.Second

// Manager runs the segmenters of a hub's channels and keeps their segments.
// A channel's segmenter starts on the first playlist request (or when the
// channel goes live, for Config.Always channels) and stops after
// Config.IdleTimeout without requests; its segments go with it.
//
// Lock: Manager.mu guards the channel table and every channel's segments.
// It is never held across a hub call that may block.
type Manager struct {
	cfg Config
	hub *hub.Hub
	log *slog.Logger
	now func() time.Time

	evicted atomic.Int64 // segments dropped for the bounds
	quit    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	chans  map[hub.Key]*channel
	total  int64
	closed bool
}

// Counters are a Manager's totals for metrics.
type Counters struct {
	Channels int   // segmenters running
	Segments int   // segments held
	Bytes    int64 // their bytes
	Evicted  int64 // segments dropped for the per-channel or total bound
}

// NewManager returns a Manager for h and starts its janitor; Close stops
// everything. log may be nil.
func NewManager(h *hub.Hub, cfg Config, log *slog.Logger) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg.withDefaults(), hub: h, log: log, now: time.Now,
		quit: make(chan struct{}), chans: make(map[hub.Key]*channel)}
	m.wg.Add(1)
	go m.janitor()
	return m, nil
}

// Config returns the configuration in use, defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// Enabled reports whether the operator allows HLS for key.
func (m *Manager) Enabled(key hub.Key) bool {
	return len(m.cfg.Channels) == 0 || matchAny(m.cfg.Channels, key.User+"/"+key.Channel)
}

// Playlist returns key's live window, starting its segmenter if needed and
// waiting (until ctx is done) for its first segment. It fails with
// ErrDisabled, ErrNotMedia, ErrNotReady, ErrClosed or the hub's
// *hub.JoinError (the channel is not live).
func (m *Manager) Playlist(ctx context.Context, key hub.Key) (*Playlist, error) {
	if !m.Enabled(key) {
		return nil, ErrDisabled
	}
	c, err := m.ensure(key, false)
	if err != nil {
		return nil, err
	}
	for {
		m.mu.Lock()
		c.lastUse = m.now()
		if len(c.segs) > 0 {
			p := c.playlistLocked(m.cfg.Window)
			m.mu.Unlock()
			return p, nil
		}
		changed, stopped, cerr := c.changed, c.stopped, c.err
		m.mu.Unlock()
		if cerr != nil {
			return nil, cerr
		}
		select {
		case <-changed:
		case <-stopped:
		case <-ctx.Done():
			return nil, ErrNotReady
		}
	}
}

// Segment returns key's segment name. It fails with ErrNoSegment.
func (m *Manager) Segment(key hub.Key, name string) (*Segment, error) {
	run, seq, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.chans[key]
	if c == nil || c.run != run {
		return nil, ErrNoSegment
	}
	c.lastUse = m.now()
	for _, s := range c.segs {
		if s.Seq == seq {
			return s, nil
		}
	}
	return nil, ErrNoSegment
}

// Counters returns the Manager's totals.
func (m *Manager) Counters() Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.chans {
		n += len(c.segs)
	}
	return Counters{Channels: len(m.chans), Segments: n, Bytes: m.total, Evicted: m.evicted.Load()}
}

// Close stops every segmenter and the janitor, and waits for them. It is
// idempotent.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.quit)
	chans := m.chans
	m.chans = map[hub.Key]*channel{}
	m.total = 0
	m.mu.Unlock()
	for _, c := range chans {
		c.stop()
	}
	m.wg.Wait()
}

// ensure returns key's channel, starting its segmenter if none runs.
func (m *Manager) ensure(key hub.Key, always bool) (*channel, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	if c := m.chans[key]; c != nil && c.err == nil {
		m.mu.Unlock()
		return c, nil
	}
	m.mu.Unlock()

	protected := false
	if ch := m.hub.Channel(key); ch != nil {
		in := ch.Info()
		if f := in.Stats.Media.Format; f != "" && f != "mpegts" && f != "h264" && f != "h265" {
			return nil, ErrNotMedia
		}
		protected = in.Protected
	}
	// The HTTP side checked the channel password; the segmenter is the
	// server's own reader.
	sub, err := m.hub.Subscribe(key, hub.SubscribeOptions{SkipPassword: true, Join: hub.JoinGOP, Via: "hls", Remote: "hls", Internal: true})
	if err != nil {
		return nil, err
	}
	c := newChannel(m, key, sub)
	c.protected = protected

	m.mu.Lock()
	if old := m.chans[key]; m.closed || (old != nil && old.err == nil) {
		m.mu.Unlock()
		sub.Close() // lost a race with another request, or closing
		if old != nil {
			return old, nil
		}
		return nil, ErrClosed
	} else if old != nil {
		m.dropLocked(old)
	}
	c.lastUse = m.now()
	m.chans[key] = c
	m.wg.Add(1)
	m.mu.Unlock()
	go c.loop()
	m.log.Info("hls segmenter started", "user", key.User, "channel", key.Channel, "run", c.run, "always", always)
	return c, nil
}

// dropLocked forgets c's segments. Expects m.mu.
func (m *Manager) dropLocked(c *channel) {
	m.total -= c.bytes
	c.segs, c.bytes = nil, 0
	if m.chans[c.key] == c {
		delete(m.chans, c.key)
	}
}

// janitor stops idle segmenters and starts always-on ones.
func (m *Manager) janitor() {
	defer m.wg.Done()
	t := time.NewTicker(janitorInterval)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
		}
		m.sweep()
	}
}

func (m *Manager) sweep() {
	now := m.now()
	var stop []*channel
	m.mu.Lock()
	for _, c := range m.chans {
		always := matchAny(m.cfg.Always, c.key.User+"/"+c.key.Channel) && c.err == nil
		if !always && now.Sub(c.lastUse) > m.cfg.IdleTimeout {
			m.dropLocked(c)
			stop = append(stop, c)
		}
	}
	m.mu.Unlock()
	for _, c := range stop {
		c.stop()
		m.log.Info("hls segmenter stopped: idle", "user", c.key.User, "channel", c.key.Channel, "run", c.run)
	}
	if len(m.cfg.Always) == 0 {
		return
	}
	for _, ch := range m.hub.Channels() {
		k := ch.Key()
		if !matchAny(m.cfg.Always, k.User+"/"+k.Channel) || !m.Enabled(k) || !ch.Stats().Live {
			continue
		}
		if _, err := m.ensure(k, true); err != nil && !errors.Is(err, ErrNotMedia) && !errors.Is(err, hub.ErrNotLive) {
			m.log.Warn("hls segmenter not started", "user", k.User, "channel", k.Channel, "err", err)
		}
	}
}

// newRun returns a fresh run name.
func newRun() string {
	b := make([]byte, runLen/2)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// etag is a segment's entity tag: its name is unique to its bytes.
func etag(name string) string {
	return fmt.Sprintf("%q", name)
}
