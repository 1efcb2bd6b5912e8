package hub

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/media"
)

const (
	// initialRing is a new channel's ring size; it doubles on demand up to
	// Config.Buffer, so a low-bitrate channel stays small.
	initialRing = 256 << 10
	// minFreeCap bounds the free space a broadcaster waits for before reading
	// again, so that a full ring is refilled in sizeable reads.
	minFreeCap = 64 << 10
)

// Channel is one live stream: a byte ring written by one broadcaster and read
// by many watchers, each with its own cursor. Bytes are read from the
// broadcaster straight into the ring and handed to watchers as slices of it,
// so a byte is never copied per watcher in user space.
//
// Positions are absolute stream offsets (see ring). Invariants (under mu):
// tail <= every cursor (but those of watchers waiting for a keyframe once
// the format is known: they start at a retained join point), cursor <= head
// (or a future chunk start, for bufsize joins), and visible <= head. The free
// space of the ring is written only by the current broadcaster, outside the
// lock, before it publishes the bytes by moving head.
type Channel struct {
	hub   *Hub
	key   Key
	cfg   Config
	epoch time.Time // monotonic origin of lag marks and progress times

	bytesIn atomic.Int64

	mu        sync.Mutex
	bytesOut  int64 // written to watchers
	ring            // the bytes: buf, head (bytes received so far), tail
	visible   int64 // bytes watchers may take (lags head while a delay batches)
	subs      []*Subscription
	writers   []*chanWriter   // direct writers (direct.go); nil until needed
	pinned    []*Subscription // removed while their writer held ring slices (pin.go)
	publisher *Publisher      // current broadcaster; nil while in the grace period
	writer    *Publisher      // last broadcaster that may still write into buf
	password  string
	delay     time.Duration
	ended     bool

	sleepers  bool          // some watcher waits on wake
	wake      chan struct{} // closed (and replaced) when visible moves or the channel ends
	spaceWait chan struct{} // non-nil while the broadcaster waits for space
	// blockedSince starts the current congestion episode: the broadcaster
	// waiting for space, with no gap longer than the stall timeout since
	// blockedAt, its last wait.
	blockedSince, blockedAt time.Duration
	flushTimer              Timer // publishes batched bytes when a delay is set
	flushing                bool
	graceTimer              Timer
	marks                   []lagMark // when stream positions became visible, oldest first

	// Broadcaster streams. Each broadcaster (a takeover, a return within
	// the grace period) starts a new stream, numbered from 1; bounds are the
	// recent switches (stream.go).
	stream      uint64
	streamBegun bool // the first broadcaster began its stream
	bounds      []streamBound
	// whole is where the current stream's last whole unit ends (a TS
	// packet): while a broadcaster may still add to it, watchers see
	// bytes up to here only, so that a switch never follows a torn packet.
	whole int64

	// Join points, copied from the writer's media tracker at each commit.
	streamStart int64      // where the current broadcaster's stream began
	tracking    *Publisher // the broadcaster whose stream began there
	format      media.Format
	loggedGOP   int64 // GOP size last logged
	mediaInfo   MediaInfo
	join        media.JoinPoint // Pos is absolute
	joinOK      bool
	joinSeq     uint64          // counts join points across broadcasters
	joinHist    []int64         // recent join point positions, oldest first
	fallback    media.JoinPoint // the tracker's newest fallback point; Pos is absolute
	fallbackOK  bool
	fallbacks   int64 // watchers that started at a fallback point
	keepJoin    bool  // false once the ring had to drop the GOP
	trackRetain int64 // oldest position a future join point may use
	bufsize     int64 // chunk size for aligned generic joins; 0 = none
}

func newChannel(h *Hub, key Key) *Channel {
	return &Channel{
		hub:    h,
		key:    key,
		cfg:    h.cfg,
		epoch:  h.cfg.Clock.Now(),
		ring:   newRing(min(initialRing, h.cfg.Buffer)),
		wake:   make(chan struct{}),
		stream: 1,
	}
}

// Key returns the channel's identity.
func (c *Channel) Key() Key { return c.key }

// since is the channel's clock: the time since it was created.
func (c *Channel) since() time.Duration { return c.cfg.Clock.Since(c.epoch) }

// attachPublisher makes a new publisher current. It reports false if the
// channel has already ended (the caller then starts a new channel). The old
// publisher, if any, is returned so that the caller can stop it outside the
// locks. Expects h.mu held.
func (c *Channel) attachPublisher(opts PublishOptions) (p, old *Publisher, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return nil, nil, false
	}
	p = &Publisher{ch: c, opts: opts, prev: c.writer, quit: make(chan struct{}), done: make(chan struct{}), started: c.cfg.Clock.Now()}
	if c.publisher != nil {
		old = c.publisher
		old.stopLocked(ReasonTakenOver)
	}
	if c.graceTimer != nil {
		c.graceTimer.Stop()
		c.graceTimer = nil
	}
	c.publisher, c.writer = p, p
	c.password = opts.Password
	c.delay = opts.Delay
	c.bufsize = opts.Bufsize
	c.joinOK = false // the new stream needs its own keyframe
	c.fallbackOK = false
	return p, old, true
}

// subscribe adds a watcher. Expects h.mu held.
func (c *Channel) subscribe(opts SubscribeOptions) (*Subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.publisher == nil {
		return nil, ErrNotLive
	}
	if c.password != "" && !opts.SkipPassword && opts.Password == "" {
		return nil, ErrNoPassword
	}
	if c.password != "" && !opts.SkipPassword && !passwordsEqual(opts.Password, c.password) {
		return nil, ErrWrongPassword
	}
	if c.cfg.MaxWatchers > 0 && !opts.Internal && c.audienceLocked() >= c.cfg.MaxWatchers {
		return nil, ErrChannelFull
	}
	s := &Subscription{
		ch:           c,
		opts:         opts,
		position:     c.placeLocked(opts.Join, opts.FromStart),
		lastStream:   c.stream,
		idx:          len(c.subs),
		lastProgress: c.since(),
		joined:       c.cfg.Clock.Now(),
		quit:         make(chan struct{}),
	}
	c.subs = append(c.subs, s)
	if opts.Direct != nil {
		s.takeBack = make(chan struct{}, 1)
		c.addDirectLocked(s)
	}
	return s, nil
}

// shutdown ends the channel for a closing hub: the broadcaster is stopped
// and watchers get what is already buffered, then ErrChannelEnded.
func (c *Channel) shutdown() {
	c.mu.Lock()
	p := c.publisher
	if p != nil {
		p.stopLocked(ReasonShutdown)
		c.publisher = nil
	}
	c.endLocked()
	c.mu.Unlock()
	if p != nil && p.opts.OnStop != nil {
		p.opts.OnStop(ReasonShutdown)
	}
}

// endLocked marks the channel ended and wakes everyone. Expects c.mu held.
func (c *Channel) endLocked() {
	if c.ended {
		return
	}
	c.ended = true
	c.showLocked()
	if c.flushTimer != nil {
		c.flushTimer.Stop()
	}
	if c.graceTimer != nil {
		c.graceTimer.Stop()
		c.graceTimer = nil
	}
	close(c.wake)
	c.wake = make(chan struct{})
	c.sleepers = false
	c.signalSpaceLocked()
}

// emit logs ev, if any, through Config.OnEvent. Call it without locks.
func (c *Channel) emit(ev event) {
	if ev.msg != "" && c.hub.cfg.OnEvent != nil {
		c.hub.cfg.OnEvent(c.key, ev.msg, ev.attrs...)
	}
}

// graceExpired ends the channel when its grace period passed without a
// broadcaster (the grace timer calls it).
func (c *Channel) graceExpired() {
	c.mu.Lock()
	if c.publisher != nil || c.ended {
		c.mu.Unlock()
		return
	}
	c.endLocked()
	c.mu.Unlock()
	c.hub.removeChannel(c)
	if c.hub.cfg.OnEvent != nil {
		c.hub.cfg.OnEvent(c.key, "channel ended: no broadcaster within the grace period")
	}
}

// showLocked makes the received bytes visible to watchers: up to the last
// whole unit while the channel lives, every byte once it ended. Their lag
// clock starts now, not when they arrived: bytes a delay held back are not
// late for watchers that take them at once. Expects c.mu.
func (c *Channel) showLocked() {
	end := c.head
	if !c.ended {
		end = min(end, c.whole)
	}
	if end > c.visible {
		c.markLocked(c.visible, c.since())
		c.visible = end
	}
}

// publishLocked makes every received byte visible to watchers and wakes
// those that sleep. Expects c.mu.
func (c *Channel) publishLocked() {
	c.showLocked()
	if c.sleepers {
		close(c.wake)
		c.wake = make(chan struct{})
		c.sleepers = false
	}
}

// holdOrPublishLocked publishes the bytes just committed, or holds them
// back for the broadcaster's delay or the hub's coalescing interval,
// counted from the oldest byte held (the flush timer publishes them then).
// Coalescing publishes at once when its size threshold is reached. Expects
// c.mu.
func (c *Channel) holdOrPublishLocked() {
	hold := max(c.delay, c.cfg.Coalesce)
	coalescing := c.cfg.Coalesce > 0 && c.delay <= c.cfg.Coalesce
	switch {
	case hold <= 0:
		c.publishLocked()
	case coalescing && c.head-c.visible >= int64(c.cfg.CoalesceBytes):
		if c.flushing {
			// A flush that already fired publishes whatever came since:
			// early, never late.
			c.flushTimer.Stop()
			c.flushing = false
		}
		c.publishLocked()
	case !c.flushing:
		c.flushing = true
		if c.flushTimer == nil {
			c.flushTimer = c.cfg.Clock.AfterFunc(hold, c.flush)
		} else {
			c.flushTimer.Reset(hold)
		}
	}
}

// flush publishes the bytes a delay held back (the flush timer calls it).
func (c *Channel) flush() {
	c.mu.Lock()
	c.flushing = false
	if !c.ended {
		c.publishLocked()
	}
	c.mu.Unlock()
}

// signalSpaceLocked wakes the broadcaster if it waits for space. Expects
// c.mu.
func (c *Channel) signalSpaceLocked() {
	if c.spaceWait != nil {
		close(c.spaceWait)
		c.spaceWait = nil
	}
}

// advanceTailLocked frees the bytes every watcher has written. It walks all
// watchers, so it runs only when the broadcaster needs space.
func (c *Channel) advanceTailLocked() {
	t := c.retainLocked()
	for _, s := range c.subs {
		if s.waiting && c.format != media.FormatUnknown {
			continue // it will start at a join point, which is retained
		}
		t = min(t, s.cursor)
	}
	t = min(t, c.pinnedFromLocked())
	c.release(t)
	c.dropMarksLocked(t)
}

// minFree is the free space the broadcaster waits for before reading again.
func (c *Channel) minFree() int {
	return min(minFreeCap, len(c.buf)/16)
}

// Kick removes the connection with the given id from the channel: its
// broadcaster (the channel then enters its grace period) or one watcher.
// With id 0 it removes the broadcaster and every watcher. It reports
// whether anything was removed.
func (c *Channel) Kick(id uint64) bool {
	var evicted []*Subscription
	var stopped *Publisher
	c.mu.Lock()
	if p := c.publisher; p != nil && (id == 0 || p.opts.ID == id) {
		p.stopLocked(ReasonKicked)
		stopped = p
	}
	for i := 0; i < len(c.subs); {
		s := c.subs[i]
		if id == 0 || s.opts.ID == id {
			s.evictLocked(ReasonKicked)
			evicted = append(evicted, s)
			continue
		}
		i++
	}
	c.mu.Unlock()
	if stopped != nil && stopped.opts.OnStop != nil {
		stopped.opts.OnStop(ReasonKicked)
	}
	notifyEvicted(evicted, ReasonKicked)
	return stopped != nil || len(evicted) > 0
}

// audienceLocked counts the watchers that are not the server's own
// readers. Expects c.mu.
func (c *Channel) audienceLocked() int {
	if len(c.subs) < c.cfg.MaxWatchers {
		return len(c.subs) // the usual case: no need to look
	}
	n := 0
	for _, s := range c.subs {
		if !s.opts.Internal {
			n++
		}
	}
	return n
}
