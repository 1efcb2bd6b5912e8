package hub

import (
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/media"
)

const (
	// initialRing is a new channel's ring size; it doubles on demand up to
	// Config.Buffer, so a low-bitrate channel stays small.
	initialRing = 256 << 10
	// maxRead bounds one read from a broadcaster.
	maxRead = 512 << 10
	// minFreeCap bounds the free space a broadcaster waits for before reading
	// again, so that a full ring is refilled in sizeable reads.
	minFreeCap = 64 << 10
	// lagMarks is how many arrival-time marks cover MaxLag.
	lagMarks = 64
)

// Channel is one live stream: a byte ring written by one broadcaster and read
// by many watchers, each with its own cursor. Bytes are read from the
// broadcaster straight into the ring and handed to watchers as slices of it,
// so a byte is never copied per watcher in user space.
//
// Positions are absolute stream offsets; byte pos lives at buf[pos%len(buf)].
// Invariants (under mu): tail <= every cursor (but those of watchers
// waiting for a keyframe once the format is known: they start at a retained
// join point), cursor <= head (or a future chunk start, for bufsize joins),
// and visible <= head. Bytes in [tail, head) are retained; [head, tail+len(buf))
// is free space that only the current broadcaster writes, outside the lock,
// before it publishes them by moving head.
type Channel struct {
	hub   *Hub
	key   Key
	cfg   Config
	epoch time.Time // monotonic origin of lag marks and progress times

	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	mu        sync.Mutex
	buf       []byte
	head      int64 // bytes received so far
	visible   int64 // bytes watchers may take (lags head while a delay batches)
	tail      int64 // oldest byte still retained
	subs      []*Subscription
	publisher *Publisher // current broadcaster; nil while in the grace period
	writer    *Publisher // last broadcaster that may still write into buf
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
	flushTimer              *time.Timer // publishes batched bytes when a delay is set
	flushing                bool
	graceTimer              *time.Timer
	marks                   []lagMark // arrival times of stream positions, oldest first

	// Join points, copied from the writer's media tracker at each commit.
	streamStart int64 // where the current broadcaster's stream began
	format      media.Format
	event       string // logged once the lock is released: format detected, GOP measured
	eventAttrs  []any
	loggedGOP   int64 // GOP size last logged
	mediaInfo   MediaInfo
	join        media.JoinPoint // Pos is absolute
	joinOK      bool
	joinSeq     uint64  // counts join points across broadcasters
	joinHist    []int64 // recent join point positions, oldest first
	keepJoin    bool    // false once the ring had to drop the GOP
	trackRetain int64   // oldest position a future join point may use
	bufsize     int64   // chunk size for aligned generic joins; 0 = none
}

// lagMark records that the byte at pos arrived at (or after) at.
type lagMark struct {
	pos int64
	at  time.Duration // since epoch
}

func newChannel(h *Hub, key Key) *Channel {
	return &Channel{
		hub:   h,
		key:   key,
		cfg:   h.cfg,
		epoch: time.Now(),
		buf:   make([]byte, min(initialRing, h.cfg.Buffer)),
		wake:  make(chan struct{}),
	}
}

// Key returns the channel's identity.
func (c *Channel) Key() Key { return c.key }

// Stats is a snapshot of a channel's counters.
type Stats struct {
	BytesIn, BytesOut int64
	Watchers          int
	Live              bool // has a broadcaster
	Buffered          int  // bytes retained for the slowest watcher and for joins
	Capacity          int  // current ring size
	Media             MediaInfo
}

// Stats returns the channel's counters.
func (c *Channel) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		BytesIn:  c.bytesIn.Load(),
		BytesOut: c.bytesOut.Load(),
		Watchers: len(c.subs),
		Live:     c.publisher != nil,
		Buffered: int(c.head - c.tail),
		Capacity: len(c.buf),
		Media:    c.mediaInfo,
	}
}

func (c *Channel) since() time.Duration { return time.Since(c.epoch) }

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
	p = &Publisher{ch: c, opts: opts, prev: c.writer, quit: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
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
	return p, old, true
}

// subscribe adds a watcher. Expects h.mu held.
func (c *Channel) subscribe(opts SubscribeOptions) (*Subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.publisher == nil {
		return nil, ErrNotLive
	}
	if c.password != "" && !passwordsEqual(opts.Password, c.password) {
		return nil, ErrWrongPassword
	}
	if c.cfg.MaxWatchers > 0 && len(c.subs) >= c.cfg.MaxWatchers {
		return nil, ErrChannelFull
	}
	s := &Subscription{
		ch:           c,
		opts:         opts,
		idx:          len(c.subs),
		lastProgress: c.since(),
		joined:       time.Now(),
		quit:         make(chan struct{}),
	}
	c.placeLocked(s, opts.Join)
	c.subs = append(c.subs, s)
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
	c.visible = c.head
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

// publishLocked makes every received byte visible to watchers. Expects c.mu.
func (c *Channel) publishLocked() {
	c.visible = c.head
	if c.sleepers {
		close(c.wake)
		c.wake = make(chan struct{})
		c.sleepers = false
	}
}

func (c *Channel) flush() {
	c.mu.Lock()
	c.flushing = false
	if !c.ended {
		c.publishLocked()
	}
	c.mu.Unlock()
}

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
	c.tail = max(c.tail, t)
	// Marks before the tail are only needed for the mark covering it.
	i := 0
	for i+1 < len(c.marks) && c.marks[i+1].pos <= t {
		i++
	}
	c.marks = c.marks[i:]
}

func (c *Channel) freeLocked() int {
	return len(c.buf) - int(c.head-c.tail)
}

func (c *Channel) minFree() int {
	return min(minFreeCap, len(c.buf)/16)
}

// growLocked doubles the ring (up to the configured bound), copying the
// retained bytes. Watchers still writing from the old array keep a valid
// view of it: its retained bytes are never written again.
func (c *Channel) growLocked() {
	n := min(2*len(c.buf), c.cfg.Buffer)
	nb := make([]byte, n)
	for pos := c.tail; pos < c.head; {
		src := c.buf[pos%int64(len(c.buf)):]
		dst := nb[pos%int64(n):]
		k := copy(dst, src[:min(int64(len(src)), c.head-pos)])
		pos += int64(k)
	}
	c.buf = nb
}

// markLocked records the arrival time of the bytes from pos on, at most
// once per MaxLag/lagMarks so the list stays short.
func (c *Channel) markLocked(pos int64, now time.Duration) {
	if c.cfg.MaxLag <= 0 {
		return
	}
	interval := max(c.cfg.MaxLag/lagMarks, time.Millisecond)
	if n := len(c.marks); n > 0 && now-c.marks[n-1].at < interval {
		return
	}
	// Marks far older than MaxLag only matter as "older than MaxLag":
	// keep the list bounded when a watcher pins the tail.
	if len(c.marks) > 4*lagMarks && now-c.marks[1].at > 2*c.cfg.MaxLag {
		c.marks = c.marks[1:]
	}
	c.marks = append(c.marks, lagMark{pos: pos, at: now})
}

// arrivalLocked returns when the byte at pos arrived, rounded to the mark
// before it (so ages are overestimated by at most one mark interval).
func (c *Channel) arrivalLocked(pos int64) time.Duration {
	if len(c.marks) == 0 {
		return c.since()
	}
	i := sort.Search(len(c.marks), func(i int) bool { return c.marks[i].pos > pos })
	if i == 0 {
		return c.marks[0].at
	}
	return c.marks[i-1].at
}

// Publisher is a broadcaster's handle on its channel.
type Publisher struct {
	ch      *Channel
	opts    PublishOptions
	prev    *Publisher    // must stop writing into the ring before we start
	quit    chan struct{} // closed when the hub stops this publisher
	done    chan struct{} // closed by Close
	once    sync.Once
	started time.Time

	// Owned by the goroutine in ReadFrom.
	tracker *media.Tracker
	base    int64  // ring position of the tracker's first byte
	joinSeq uint64 // the tracker's last join point seen

	stopped CloseReason // under ch.mu
}

// Channel returns the publisher's channel.
func (p *Publisher) Channel() *Channel { return p.ch }

func (p *Publisher) stopLocked(reason CloseReason) {
	if p.stopped == "" {
		p.ch.hub.countEviction(reason)
		p.stopped = reason
		close(p.quit)
	}
}

// ReadFrom reads the broadcaster's stream into the channel until r returns
// EOF (nil error), r fails, or the hub stops the publisher (an
// *EvictedError). When the ring is full it waits for the slowest watcher,
// evicting watchers that stall; a broadcaster is never held back longer than
// the stall timeout by one watcher.
func (p *Publisher) ReadFrom(r io.Reader) (int64, error) {
	if p.prev != nil {
		// A taken-over broadcaster may still be inside Read on our ring.
		select {
		case <-p.prev.done:
		case <-p.quit:
			return 0, p.stopErr()
		}
		p.prev = nil
	}
	c := p.ch
	c.mu.Lock()
	c.startTrackingLocked(p)
	c.mu.Unlock()
	var total int64
	for {
		region, err := c.reserve(p)
		if err != nil {
			return total, err
		}
		n, rerr := r.Read(region)
		if n > 0 {
			// Outside the lock: these bytes are not visible to anyone yet.
			p.tracker.Write(region[:n], time.Now())
			if err := c.commit(p, n); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr != nil {
			if err := p.stopErr(); err != nil {
				return total, err
			}
			if rerr == io.EOF {
				return total, nil
			}
			return total, rerr
		}
	}
}

func (p *Publisher) stopErr() error {
	p.ch.mu.Lock()
	defer p.ch.mu.Unlock()
	if p.stopped != "" {
		return &EvictedError{Reason: p.stopped}
	}
	return nil
}

// Close detaches the publisher. If it is still the channel's broadcaster, the
// channel enters its grace period: watchers stay, new watchers are refused,
// and the channel ends unless a broadcaster returns in time. Close is
// idempotent and must be called once ReadFrom has returned.
func (p *Publisher) Close() {
	p.once.Do(func() {
		c := p.ch
		c.mu.Lock()
		ended := false
		if c.publisher == p {
			c.publisher = nil
			c.publishLocked()
			if c.cfg.Grace <= 0 {
				c.endLocked()
				ended = true
			} else {
				c.graceTimer = time.AfterFunc(c.cfg.Grace, c.graceExpired)
			}
		}
		close(p.done)
		c.mu.Unlock()
		if ended {
			c.hub.removeChannel(c)
		}
	})
}

// reserve returns the free region of the ring the broadcaster may read
// into, waiting for space when the ring is full.
func (c *Channel) reserve(p *Publisher) ([]byte, error) {
	var evicted []*Subscription
	defer func() { notifyEvicted(evicted, ReasonStalled) }()

	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if p.stopped != "" {
			return nil, &EvictedError{Reason: p.stopped}
		}
		if c.freeLocked() < c.minFree() {
			c.advanceTailLocked()
		}
		if c.freeLocked() >= c.minFree() {
			break
		}
		if len(c.buf) < c.cfg.Buffer {
			c.growLocked()
			continue
		}
		if c.keepJoin && c.format.IsMedia() {
			// The GOP kept for joining watchers must never hold the
			// broadcaster back: drop it until the next keyframe.
			c.keepJoin = false
			continue
		}
		now := c.since()
		if now-c.blockedAt > c.cfg.StallTimeout {
			c.blockedSince = now // a new congestion episode
		}
		c.blockedAt = now
		if out := c.evictStalledLocked(now); len(out) > 0 {
			evicted = append(evicted, out...)
			continue
		}
		// Wake when a watcher at the tail moves, or to check for stalls.
		wait := make(chan struct{})
		c.spaceWait = wait
		c.mu.Unlock()
		timer := time.NewTimer(c.cfg.StallTimeout / 4)
		select {
		case <-wait:
		case <-p.quit:
		case <-timer.C:
		}
		timer.Stop()
		c.mu.Lock()
		if c.spaceWait == wait {
			c.spaceWait = nil
		}
	}
	size := int64(len(c.buf))
	start := c.head % size
	end := min(size, start+int64(c.freeLocked()), start+maxRead)
	return c.buf[start:end], nil
}

// evictStalledLocked runs while the ring is full and the broadcaster waits:
// it evicts the watchers that hold the ring full and made no progress for the
// stall timeout since the channel became congested. The congestion episode
// (blockedSince) outlives one wait, so that watchers that stalled together
// go one right after the other, not one stall timeout each.
func (c *Channel) evictStalledLocked(now time.Duration) []*Subscription {
	var out []*Subscription
	holdBack := int64(len(c.buf) - c.minFree())
	for i := 0; i < len(c.subs); {
		s := c.subs[i]
		// An asleep watcher was caught up and has not run since new bytes
		// came: not stalled, just not scheduled yet.
		if !s.waiting && !s.asleep && c.head-s.cursor > holdBack && now-max(s.lastProgress, c.blockedSince) >= c.cfg.StallTimeout {
			s.evictLocked(ReasonStalled) // swaps the last watcher into i
			out = append(out, s)
			continue
		}
		i++
	}
	c.advanceTailLocked()
	return out
}

// commit publishes n bytes the broadcaster read into the reserved region.
func (c *Channel) commit(p *Publisher, n int) error {
	c.mu.Lock()
	if p.stopped != "" {
		c.mu.Unlock()
		return &EvictedError{Reason: p.stopped}
	}
	defer func() {
		event, attrs := c.event, c.eventAttrs
		c.event, c.eventAttrs = "", nil
		c.mu.Unlock()
		if event != "" && c.hub.cfg.OnEvent != nil {
			c.hub.cfg.OnEvent(c.key, event, attrs...)
		}
	}()
	c.markLocked(c.head, c.since())
	c.head += int64(n)
	c.trackLocked(p)
	c.bytesIn.Add(int64(n))
	c.hub.bytesIn.Add(int64(n))
	switch {
	case c.delay <= 0:
		c.publishLocked()
	case !c.flushing:
		c.flushing = true
		if c.flushTimer == nil {
			c.flushTimer = time.AfterFunc(c.delay, c.flush)
		} else {
			c.flushTimer.Reset(c.delay)
		}
	}
	return nil
}

// Subscription is a watcher's handle on its channel. Its methods are called
// by the one goroutine that writes to the watcher, except Close.
type Subscription struct {
	ch     *Channel
	opts   SubscribeOptions
	quit   chan struct{} // closed when evicted or closed
	joined time.Time

	// Under ch.mu:
	idx          int // index in ch.subs; -1 once removed
	cursor       int64
	lastProgress time.Duration // last write, or when it last found new bytes after catching up
	asleep       bool          // caught up and waiting in Next
	sent         int64
	skipped      int64
	err          error
	prefix       []byte        // join bytes still to send before cursor
	waiting      bool          // for a keyframe; cursor is not yet where it starts
	waitSeq      uint64        // the join point it must not take
	lagFrom      time.Duration // lag is measured from here at least (the last skip)
	jumpAt       int64         // a planned skip to the newest keyframe happens here; 0 = none
}

// Channel returns the subscription's channel.
func (s *Subscription) Channel() *Channel { return s.ch }

// Next waits for bytes the watcher has not written yet and returns them as
// up to three slices (appended to dst[:0]): bytes a join needs first (the
// PAT/PMT or parameter sets), then up to two slices of the ring, at most limit
// ring bytes in all. The slices stay valid and unchanged until Done.
// deadline is when the oldest returned byte becomes older than MaxLag (zero
// if unchecked): the caller should not keep writing past it.
//
// Next returns ErrChannelEnded once the channel ended and every byte was
// returned, and an *EvictedError if the hub evicted the watcher.
func (s *Subscription) Next(dst [][]byte, limit int) (bufs [][]byte, deadline time.Time, err error) {
	return s.next(0, dst, limit)
}

// DoneNext is Done(written) then Next, under one lock: the writer's loop
// takes the channel lock once per batch.
func (s *Subscription) DoneNext(written int, dst [][]byte, limit int) (bufs [][]byte, deadline time.Time, err error) {
	return s.next(written, dst, limit)
}

func (s *Subscription) next(written int, dst [][]byte, limit int) (bufs [][]byte, deadline time.Time, err error) {
	c := s.ch
	if written > 0 {
		c.bytesOut.Add(int64(written))
		c.hub.bytesOut.Add(int64(written))
	}
	c.mu.Lock()
	if written > 0 {
		s.doneLocked(written)
	}
	for {
		if s.err != nil {
			err := s.err
			c.mu.Unlock()
			return nil, time.Time{}, err
		}
		if s.waiting {
			c.resolveWaitLocked(s)
		}
		if s.jumpAt > 0 && s.cursor >= s.jumpAt && len(s.prefix) == 0 {
			c.jumpLocked(s)
		}
		if !s.waiting && (len(s.prefix) > 0 || s.cursor < c.visible) {
			if c.cfg.MaxLag <= 0 {
				break
			}
			oldest := c.since() // only join bytes to send: they are due now
			if s.cursor < c.visible {
				oldest = c.arrivalLocked(s.cursor)
			}
			due := max(oldest, s.lagFrom) + c.cfg.MaxLag
			if c.since() <= due {
				deadline = c.epoch.Add(due)
				break
			}
			if !c.skipLocked(s) {
				s.evictLocked(ReasonLagging)
			}
			continue
		}
		if c.ended {
			s.removeLocked(ErrChannelEnded)
			continue
		}
		c.sleepers = true
		s.asleep = true
		wake := c.wake
		c.mu.Unlock()
		select {
		case <-wake:
		case <-s.quit:
		}
		c.mu.Lock()
		// Caught up until now: its stall clock starts when it runs again.
		s.asleep = false
		s.lastProgress = c.since()
	}
	start := s.cursor
	end := min(c.visible, start+int64(limit))
	if s.jumpAt > 0 {
		end = min(end, s.jumpAt) // a planned skip cuts here
	}
	prefix := s.prefix
	buf := c.buf
	c.mu.Unlock()

	bufs = dst[:0]
	if len(prefix) > 0 {
		bufs = append(bufs, prefix)
	}
	if n := end - start; n > 0 {
		size := int64(len(buf))
		i := start % size
		first := min(n, size-i)
		bufs = append(bufs, buf[i:i+first])
		if first < n {
			bufs = append(bufs, buf[:n-first])
		}
	}
	return bufs, deadline, nil
}

// Done records that the watcher wrote n more bytes of what Next returned.
func (s *Subscription) Done(n int) {
	if n <= 0 {
		return
	}
	c := s.ch
	c.bytesOut.Add(int64(n))
	c.hub.bytesOut.Add(int64(n))
	c.mu.Lock()
	s.doneLocked(n)
	c.mu.Unlock()
}

func (s *Subscription) doneLocked(n int) {
	c := s.ch
	s.sent += int64(n)
	if k := min(n, len(s.prefix)); k > 0 {
		s.prefix = s.prefix[k:]
		n -= k
	}
	if s.cursor == c.tail && n > 0 {
		c.signalSpaceLocked()
	}
	s.cursor += int64(n)
	s.lastProgress = c.since()
}

// Stopped is closed when the subscription ends (eviction, Close, or the
// end of its channel).
func (s *Subscription) Stopped() <-chan struct{} { return s.quit }

// Err returns why the subscription ended, or nil while it is active.
func (s *Subscription) Err() error {
	s.ch.mu.Lock()
	defer s.ch.mu.Unlock()
	return s.err
}

// Close removes the watcher from its channel. It is idempotent and may be
// called from any goroutine.
func (s *Subscription) Close() {
	s.ch.mu.Lock()
	s.removeLocked(io.ErrClosedPipe)
	s.ch.mu.Unlock()
}

// removeLocked takes the watcher out of the channel with err as the reason
// Next reports from now on. Expects ch.mu held.
func (s *Subscription) removeLocked(err error) {
	c := s.ch
	if s.idx < 0 {
		return
	}
	if s.cursor == c.tail {
		c.signalSpaceLocked()
	}
	last := len(c.subs) - 1
	c.subs[s.idx] = c.subs[last]
	c.subs[s.idx].idx = s.idx
	c.subs[last] = nil
	c.subs = c.subs[:last]
	s.idx = -1
	s.err = err
	close(s.quit)
}

// evictLocked removes the watcher for reason; the caller must call
// notifyEvicted after unlocking.
func (s *Subscription) evictLocked(reason CloseReason) {
	if s.idx >= 0 {
		s.ch.hub.countEviction(reason)
	}
	s.removeLocked(&EvictedError{Reason: reason})
}

func notifyEvicted(subs []*Subscription, reason CloseReason) {
	for _, s := range subs {
		if s.opts.OnEvict != nil {
			s.opts.OnEvict(reason)
		}
	}
}

// WatcherInfo describes one watcher of a channel.
type WatcherInfo struct {
	ID      uint64
	Remote  string
	Via     string // "tcp" or "http"
	Joined  time.Time
	Sent    int64 // bytes written to it
	Queued  int64 // bytes available to it but not yet written
	Skipped int64 // bytes skipped to keep it live (slow policy "skip")
	Waiting bool  // waiting for a keyframe to start
}

// BroadcasterInfo describes a channel's broadcaster.
type BroadcasterInfo struct {
	ID      uint64
	Remote  string
	Started time.Time
}

// Info is a snapshot of a channel for status output.
type Info struct {
	Key         Key
	Stats       Stats
	Protected   bool
	Created     time.Time
	Broadcaster *BroadcasterInfo // nil in the grace period
	Watchers    []WatcherInfo
	// Media describes the stream's detected format; zero until known.
	Media MediaInfo
}

// MediaInfo is what the hub detected about a channel's stream.
type MediaInfo struct {
	Format      string        // "mpegts", "h264", "h265", "generic", or "" while detecting
	Codec       string        // video codec, when known
	GOPBytes    int64         // bytes between the last two keyframes
	GOPDuration time.Duration // time between the last two keyframes
}

// Info returns a snapshot of the channel, watchers included.
func (c *Channel) Info() Info {
	st := c.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	in := Info{Key: c.key, Stats: st, Protected: c.password != "", Created: c.epoch, Media: c.mediaInfo}
	if p := c.publisher; p != nil {
		in.Broadcaster = &BroadcasterInfo{ID: p.opts.ID, Remote: p.opts.Remote, Started: p.started}
	}
	in.Watchers = make([]WatcherInfo, 0, len(c.subs))
	for _, s := range c.subs {
		in.Watchers = append(in.Watchers, WatcherInfo{
			ID: s.opts.ID, Remote: s.opts.Remote, Via: s.opts.Via, Joined: s.joined, Sent: s.sent,
			Queued: max(0, c.visible-s.cursor), Skipped: s.skipped, Waiting: s.waiting,
		})
	}
	return in
}

// Queued appends to dst the bytes each watcher has available but not yet
// written, for the queue-depth histogram.
func (c *Channel) Queued(dst []int64) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.subs {
		dst = append(dst, max(0, c.visible-s.cursor))
	}
	return dst
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
