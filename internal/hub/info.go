package hub

import "time"

// Stats is a snapshot of a channel's counters.
type Stats struct {
	BytesIn, BytesOut int64
	Watchers          int
	Live              bool // has a broadcaster
	Buffered          int  // bytes retained now for the slowest watcher and for joins
	Capacity          int  // the ring's size now; it grows on demand up to Limit
	Limit             int  // the most the ring may grow to (Config.Buffer)
	Media             MediaInfo
	// JoinFallbacks counts watchers that found no join point within the
	// join timeout and started at a fallback point.
	JoinFallbacks int64
}

// Stats returns the channel's counters.
func (c *Channel) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		BytesIn:  c.bytesIn.Load(),
		BytesOut: c.bytesOut,
		Watchers: len(c.subs),
		Live:     c.publisher != nil,
		Buffered: c.buffered(),
		Capacity: len(c.buf),
		Limit:    c.cfg.Buffer,
		Media:    c.mediaInfo,

		JoinFallbacks: c.fallbacks,
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
	AudioCodec  string        // first audio stream's codec (MPEG-TS), when known
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

// Counters are totals over the hub's life.
type Counters struct {
	BytesIn, BytesOut int64
	// Evictions counts watchers and broadcasters the hub ended, by reason.
	Evictions map[CloseReason]int64
	// Skips and SkippedBytes count moves of lagging watchers to a keyframe.
	Skips, SkippedBytes int64
	// JoinFallbacks counts watchers that found no join point within the
	// join timeout and started at a fallback point.
	JoinFallbacks int64
	// DirectBytes counts the bytes of BytesOut that the channels' writers
	// wrote (direct.go); HandBacks the times one of them handed a watcher
	// back to its own goroutine (its sink was full, or a burst came).
	DirectBytes, HandBacks int64
}

// Counters returns the hub's totals.
func (h *Hub) Counters() Counters {
	out := Counters{
		BytesIn: h.bytesIn.Load(), BytesOut: h.bytesOut.Load(),
		Skips: h.skips.Load(), SkippedBytes: h.skippedBytes.Load(), JoinFallbacks: h.fallbacks.Load(),
		DirectBytes: h.directBytes.Load(), HandBacks: h.handBacks.Load(),
		Evictions: make(map[CloseReason]int64, len(h.evictions)),
	}
	for r, n := range h.evictions {
		out.Evictions[r] = n.Load()
	}
	return out
}

func (h *Hub) countEviction(r CloseReason) {
	if n := h.evictions[r]; n != nil {
		n.Add(1)
	}
}
