package hub

import (
	"crypto/subtle"
	"sync"
	"sync/atomic"
	"time"
)

// Key identifies a live channel: the broadcasting user and the channel name.
type Key struct {
	User    string
	Channel string
}

// Config configures a Hub.
type Config struct {
	// Buffer bounds the bytes a channel keeps for its slowest watcher and
	// for joins; its ring grows on demand up to this.
	Buffer int
	// Grace is how long a channel's watchers wait for a broadcaster that
	// left before the channel ends.
	Grace time.Duration
	// StallTimeout is how long a watcher may make no progress while it
	// holds its channel's broadcaster back before it is evicted.
	StallTimeout time.Duration
	// MaxLag is the largest age of a watcher's oldest pending byte before
	// the slow-watcher policy applies. Zero disables the check.
	MaxLag time.Duration
	// MaxChannels and MaxWatchers bound the hub's channels and each
	// channel's watchers; zero means no limit.
	MaxChannels int
	MaxWatchers int
	// OnEvent, if set, is called (without locks held) for channel events
	// that have no connection to report them: a channel ending after its
	// grace period.
	OnEvent func(k Key, msg string, attrs ...any)
	// GOPCache bounds the bytes kept for watchers joining at the latest
	// keyframe (and for bufsize-aligned joins).
	GOPCache int
	// DefaultJoin is the join policy for watchers that ask for none.
	DefaultJoin JoinPolicy
	// SlowPolicy is what happens to a media watcher past MaxLag.
	SlowPolicy SlowPolicy
	// JoinTimeout bounds how long a watcher waits for a join point: a
	// watcher that found none by then starts at the stream's fallback
	// point (media.Tracker.FallbackPoint), which is counted and logged
	// once per channel. Zero means it waits for a join point however long.
	JoinTimeout time.Duration
	// IdleTick, if positive, makes Next return ErrIdle to a watcher that
	// has had nothing to write for one to two IdleTicks (hub-wide ticks),
	// so that its goroutine can check whether its peer is still there.
	// Zero means Next waits for bytes however long.
	IdleTick time.Duration
	// Coalesce, if positive, holds a channel's new bytes back from its
	// watchers until the oldest of them has waited that long or
	// CoalesceBytes of them are pending, whichever comes first, so that
	// every watcher writes fewer, larger batches: one wake-up and one
	// system call per watcher per interval instead of per broadcaster
	// read. A broadcaster's longer Delay wins (and then holds its bytes
	// the whole delay, as without Coalesce). Held bytes do not count as
	// lag.
	Coalesce time.Duration
	// CoalesceBytes is Coalesce's size threshold; zero means
	// DefaultCoalesceBytes.
	CoalesceBytes int
	// Writers is how many goroutines per channel write to the watchers
	// that have a SubscribeOptions.Direct; zero means GOMAXPROCS.
	Writers int
	// Clock is the hub's time; nil means real time.
	Clock Clock
}

// DefaultCoalesceBytes is the size threshold of Config.Coalesce when none is
// set: about the most a watcher's writev moves at once cheaply, and far
// above what one interval of a live stream holds, so that only full-speed
// streams reach it (and then are not held back at all).
const DefaultCoalesceBytes = 64 << 10

// Hub is the set of live channels. It knows nothing of sockets: broadcasters
// hand it an io.Reader, watchers take byte slices from it and report how many
// they wrote. It is safe for concurrent use.
//
// Lock order: Hub.mu before Channel.mu. Neither is held across I/O.
type Hub struct {
	cfg Config

	bytesIn, bytesOut   atomic.Int64
	skips, skippedBytes atomic.Int64
	fallbacks           atomic.Int64
	directBytes         atomic.Int64 // of bytesOut, written by channels' writers
	handBacks           atomic.Int64
	evictions           map[CloseReason]*atomic.Int64 // fixed keys; read-only map
	// tick holds the channels closed at the next two idle ticks (nil when
	// IdleTick is zero). A sleeping watcher waits on one of them beside its
	// channel's wake-up, chosen so that it gets ErrIdle after one to two
	// ticks with nothing to write: a watcher that only waits for the next
	// chunk of a live stream is never woken by the tick, and idle watchers
	// need no timer each.
	tick atomic.Pointer[ticks]

	mu        sync.Mutex
	channels  map[Key]*Channel
	closed    bool
	tickTimer Timer
	waiters   map[Key]*liveWaiters // callers of WaitLive, by channel (wait.go)
}

// New returns an empty hub.
func New(cfg Config) *Hub {
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.CoalesceBytes <= 0 {
		cfg.CoalesceBytes = DefaultCoalesceBytes
	}
	h := &Hub{cfg: cfg, channels: make(map[Key]*Channel), evictions: make(map[CloseReason]*atomic.Int64)}
	for _, r := range CloseReasons {
		h.evictions[r] = new(atomic.Int64)
	}
	if cfg.IdleTick > 0 {
		h.tick.Store(&ticks{next: make(chan struct{}), later: make(chan struct{}), gen: 1})
		h.mu.Lock()
		h.tickTimer = cfg.Clock.AfterFunc(cfg.IdleTick, h.onTick)
		h.mu.Unlock()
	}
	return h
}

// ticks are the channels closed at the next idle tick and at the one
// after, and the number of the current tick interval.
type ticks struct {
	next, later chan struct{}
	gen         uint64
}

// onTick wakes the watchers that have slept in Next since before the last
// tick (the tick timer calls it; only it changes h.tick).
func (h *Hub) onTick() {
	t := h.tick.Load()
	h.tick.Store(&ticks{next: t.later, later: make(chan struct{}), gen: t.gen + 1})
	close(t.next)
	h.mu.Lock()
	if !h.closed {
		h.tickTimer.Reset(h.cfg.IdleTick)
	}
	h.mu.Unlock()
}

// idleTick returns the channel a watcher going to sleep waits on for its
// idle check; nil (never ready) when IdleTick is zero. *since is the tick
// interval since which the watcher has had nothing to write (0: none yet,
// then it is set to the current one). One idle since an earlier interval
// waits for the next tick, one idle since this one for the tick after: so
// a watcher woken often (a waiting one, by every chunk) still gets ErrIdle
// one to two ticks after it last wrote.
func (h *Hub) idleTick(since *uint64) <-chan struct{} {
	t := h.tick.Load()
	switch {
	case t == nil:
		return nil
	case *since == 0:
		*since = t.gen
	case *since < t.gen:
		return t.next
	}
	return t.later
}

// PublishOptions are a broadcaster's settings.
type PublishOptions struct {
	// Password is the channel password watchers must give; empty means none.
	Password string
	// Bufsize, for generic streams, makes new watchers start at a multiple
	// of this many bytes from the stream's start (the original's bufsize).
	Bufsize int64
	// Delay lets the hub batch bytes that long before waking watchers.
	Delay time.Duration
	// ID and Remote identify the broadcaster's connection in status output.
	ID     uint64
	Remote string
	// OnStop is called, without locks held, when the hub stops this
	// publisher (takeover or shutdown). It must make a blocked Read return,
	// e.g. by closing the connection or setting a past read deadline.
	OnStop func(CloseReason)
}

// Publish makes the caller the broadcaster of key, creating the channel or
// taking it over from the current broadcaster (which is stopped with
// ReasonTakenOver). The channel is live when Publish returns. It fails with
// a *JoinError: ErrHubClosed, or ErrTooManyChannels at the channel limit.
func (h *Hub) Publish(key Key, opts PublishOptions) (*Publisher, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, h.refusal(ErrHubClosed, key, "")
	}
	var p, old *Publisher
	c := h.channels[key]
	ok := false
	if c != nil {
		p, old, ok = c.attachPublisher(opts)
	}
	if !ok { // no channel, or one that just ended
		if h.cfg.MaxChannels > 0 && c == nil && len(h.channels) >= h.cfg.MaxChannels {
			h.mu.Unlock()
			return nil, h.refusal(ErrTooManyChannels, key, "")
		}
		c = newChannel(h, key)
		h.channels[key] = c
		p, old, _ = c.attachPublisher(opts)
	}
	h.wakeLocked(key)
	h.mu.Unlock()
	if old != nil && old.opts.OnStop != nil {
		old.opts.OnStop(ReasonTakenOver)
	}
	return p, nil
}

// SubscribeOptions are a watcher's settings.
type SubscribeOptions struct {
	// Password is the channel password the watcher gave.
	Password string
	// SkipPassword admits the watcher without the channel password: the
	// server authenticated it otherwise (a cluster node with a pull token).
	SkipPassword bool
	// Join is where the watcher starts; "" means the hub's default.
	Join JoinPolicy
	// ID, Remote and Via ("tcp", "http") identify the watcher's
	// connection in status output.
	ID     uint64
	Remote string
	Via    string
	// FromStart is for a watcher that waited for the channel to go live:
	// it starts at the first byte of the broadcaster's stream, wherever
	// its join policy would put it, as long as the ring still has that
	// byte. A watcher that was there first misses nothing.
	FromStart bool
	// Internal marks the server's own readers (a recorder, an HLS
	// segmenter): an operator's watcher limit is for the audience, so they
	// do not count against MaxWatchers, nor are they refused by it.
	Internal bool
	// OnEvict is called, without locks held, when the hub evicts the
	// watcher. It must make a blocked write return (a past write deadline).
	OnEvict func(CloseReason)
	// Direct, if set, writes to the watcher's sink without blocking: while
	// the watcher is caught up, the channel's writers write to it and Next
	// returns ErrDirect (see direct.go).
	Direct DirectWriter
}

// Subscribe adds a watcher to the live channel key. Where it starts depends
// on opts.Join and the stream (see JoinPolicy): at the latest keyframe, at
// the next one, at the next byte, or at a bufsize chunk start. From there on
// it receives every byte the broadcaster sends, unless the slow-watcher
// policy moves it ahead. It fails with a *JoinError: ErrBadJoin, ErrHubClosed,
// ErrNotLive when the channel has no broadcaster, ErrNoPassword when it is
// protected and none was given, ErrWrongPassword when the password does not
// match, ErrChannelFull at the watcher limit.
func (h *Hub) Subscribe(key Key, opts SubscribeOptions) (*Subscription, error) {
	if _, err := ParseJoinPolicy(string(opts.Join)); err != nil {
		return nil, h.refusal(ErrBadJoin, key, err.Error())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, h.refusal(ErrHubClosed, key, "")
	}
	c := h.channels[key]
	if c == nil {
		return nil, h.refusal(ErrNotLive, key, "")
	}
	s, err := c.subscribe(opts)
	if err != nil {
		return nil, h.refusal(err, key, "")
	}
	return s, nil
}

// Channel returns the live channel key, or nil.
func (h *Hub) Channel(key Key) *Channel {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.channels[key]
}

// Channels returns the channels currently known to the hub (live or in
// their grace period).
func (h *Hub) Channels() []*Channel {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Channel, 0, len(h.channels))
	for _, c := range h.channels {
		out = append(out, c)
	}
	return out
}

// Close ends every channel: broadcasters are stopped and watchers are
// evicted with ReasonShutdown. Later Publish and Subscribe calls fail with
// ErrHubClosed. Close is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	if h.tickTimer != nil {
		h.tickTimer.Stop()
	}
	chans := h.channels
	h.channels = make(map[Key]*Channel)
	for k := range h.waiters {
		h.wakeLocked(k)
	}
	h.mu.Unlock()
	for _, c := range chans {
		c.shutdown()
	}
}

// removeChannel forgets c if it is still the hub's channel for its key.
func (h *Hub) removeChannel(c *Channel) {
	h.mu.Lock()
	if h.channels[c.key] == c {
		delete(h.channels, c.key)
	}
	h.mu.Unlock()
}

// passwordsEqual compares in constant time so that the comparison does not
// tell an attacker how much of a guess was right.
func passwordsEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
