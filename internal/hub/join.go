package hub

import (
	"fmt"
	"time"

	"github.com/fstream/fstream/internal/media"
)

// JoinPolicy says where a new watcher starts in a live stream.
type JoinPolicy string

// Join policies, chosen per watcher with the handshake key "join".
const (
	// JoinGOP starts at the latest keyframe (with the parameter sets or
	// PAT/PMT it needs): a picture at once. The default for media.
	JoinGOP JoinPolicy = "gop"
	// JoinKeyframe waits for the next keyframe: less latency, a short wait.
	JoinKeyframe JoinPolicy = "keyframe"
	// JoinLive starts with the next byte, as the original fstream did. The
	// only policy for generic streams.
	JoinLive JoinPolicy = "live"
)

// ParseJoinPolicy checks a join policy name; "" means the server default.
func ParseJoinPolicy(s string) (JoinPolicy, error) {
	switch p := JoinPolicy(s); p {
	case "", JoinGOP, JoinKeyframe, JoinLive:
		return p, nil
	}
	return "", fmt.Errorf("join policy %q: want gop, keyframe or live", s)
}

// SlowPolicy says what happens to a media watcher that falls more than
// MaxLag behind.
type SlowPolicy string

// Slow-watcher policies.
const (
	// SlowSkip moves the watcher forward to the newest keyframe, counting
	// the bytes it skipped: its player sees a cut, not corruption. Generic
	// streams have no keyframes, so there it falls back to SlowDisconnect.
	SlowSkip SlowPolicy = "skip"
	// SlowDisconnect disconnects the watcher.
	SlowDisconnect SlowPolicy = "disconnect"
)

// ParseSlowPolicy checks a slow-watcher policy name.
func ParseSlowPolicy(s string) (SlowPolicy, error) {
	switch p := SlowPolicy(s); p {
	case SlowSkip, SlowDisconnect:
		return p, nil
	}
	return "", fmt.Errorf("slow-watcher policy %q: want skip or disconnect", s)
}

// detectLimit is how many bytes format detection looks at before calling a
// stream generic. Watchers that join while it looks wait (their bytes are
// kept), so it is small: MPEG-TS and Annex B show themselves in the first
// few packets.
const detectLimit = 4 << 10

// startTrackingLocked gives the channel a fresh tracker for a new
// broadcaster's stream, which starts at the current head. Expects c.mu.
func (c *Channel) startTrackingLocked(p *Publisher) {
	p.base = c.head
	p.tracker = media.NewTracker(media.TrackerConfig{DetectLimit: detectLimit})
	c.streamStart = c.head
	c.format = media.FormatUnknown
	c.joinOK = false
	c.joinHist = c.joinHist[:0]
	c.keepJoin = true
	c.trackRetain = c.head
	c.mediaInfo = MediaInfo{}
}

// trackLocked copies what the writer's tracker learned from the bytes just
// committed. Expects c.mu.
func (c *Channel) trackLocked(p *Publisher) {
	t := p.tracker
	if t == nil {
		return
	}
	in := t.Info()
	c.mediaInfo = MediaInfo{Format: formatName(in.Format), Codec: in.Codec, GOPBytes: in.GOPBytes, GOPDuration: in.GOPDuration}
	if f := t.Format(); f != c.format {
		c.format = f
		c.loggedGOP = 0
		c.event, c.eventAttrs = "stream format detected", []any{"format", c.mediaInfo.Format, "codec", in.Codec}
	} else if g := in.GOPBytes; g > 0 && (c.loggedGOP == 0 || g > c.loggedGOP*5/4 || g < c.loggedGOP*3/4) {
		// The first GOP, and changes of a quarter or more.
		c.loggedGOP = g
		c.event, c.eventAttrs = "GOP measured", []any{"format", c.mediaInfo.Format, "codec", in.Codec,
			"gop_bytes", g, "gop_seconds", in.GOPDuration.Round(time.Millisecond).Seconds()}
	}
	if jp, ok := t.JoinPoint(); ok && jp.Seq != p.joinSeq {
		p.joinSeq = jp.Seq
		jp.Pos += p.base
		c.join = jp
		c.joinOK = true
		c.joinSeq++
		c.recordJoinLocked(jp.Pos)
		c.keepJoin = true
	}
	c.trackRetain = p.base + t.RetainFrom()
}

func formatName(f media.Format) string {
	if f == media.FormatUnknown {
		return ""
	}
	return f.String()
}

// joinUsableLocked reports whether the newest join point can still be
// served from the ring, within the GOP cache bound.
func (c *Channel) joinUsableLocked() bool {
	return c.joinOK && c.join.Pos >= c.tail && c.head-c.join.Pos <= int64(c.cfg.GOPCache)
}

// retainLocked returns the oldest position kept for future joins. Expects
// c.mu.
func (c *Channel) retainLocked() int64 {
	r := c.head
	if c.keepJoin && c.format.IsMedia() {
		if c.joinUsableLocked() {
			r = min(r, c.join.Pos)
		}
		r = min(r, c.trackRetain) // a keyframe may be arriving
	}
	if c.bufsize > 0 {
		if chunk := c.chunkStartLocked(); c.head-chunk <= int64(c.cfg.GOPCache) {
			r = min(r, chunk)
		}
	}
	return r
}

// chunkStartLocked is where the current bufsize chunk began.
func (c *Channel) chunkStartLocked() int64 {
	return c.streamStart + (c.head-c.streamStart)/c.bufsize*c.bufsize
}

// placeLocked sets where a new watcher starts, by policy. Expects c.mu.
func (c *Channel) placeLocked(s *Subscription, policy JoinPolicy) {
	s.cursor = c.head
	if policy == "" {
		policy = c.cfg.DefaultJoin
	}
	switch {
	case c.bufsize > 0 && !c.format.IsMedia():
		// Chunk-aligned join for generic streams (the later original's
		// bufsize): the start of the current chunk if it is still
		// buffered, else the start of the next one.
		if chunk := c.chunkStartLocked(); chunk >= c.tail {
			s.cursor = chunk
		} else {
			s.cursor = chunk + c.bufsize
		}
	case policy == JoinLive || c.format == media.FormatGeneric:
	case c.head == c.streamStart:
		// Nothing sent yet: from the first byte is a clean start.
	case policy == JoinGOP && c.joinUsableLocked():
		s.cursor, s.prefix = c.join.Pos, c.join.Prefix
		s.lagFrom = c.since() // the GOP is old by design, not lag
	default:
		s.waiting = true
		s.waitSeq = c.joinSeq
		if policy == JoinGOP {
			s.waitSeq = 0 // any join point will do, even one found during detection
		}
	}
}

// resolveWaitLocked moves a watcher waiting for a keyframe to it once it
// exists, or back to live if the stream turned out not to be media.
func (c *Channel) resolveWaitLocked(s *Subscription) {
	switch {
	case c.format == media.FormatGeneric:
		s.waiting = false // its cursor was held while detecting: nothing lost
	case c.joinSeq > s.waitSeq && c.joinUsableLocked():
		s.waiting = false
		s.cursor, s.prefix = c.join.Pos, c.join.Prefix
		s.lagFrom = c.since()
	}
}

// maxJoinHist bounds the recent keyframe positions kept for planning skips.
const maxJoinHist = 64

func (c *Channel) recordJoinLocked(pos int64) {
	if len(c.joinHist) >= maxJoinHist {
		c.joinHist = append(c.joinHist[:0], c.joinHist[1:]...)
	}
	c.joinHist = append(c.joinHist, pos)
}
