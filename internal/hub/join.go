package hub

import (
	"fmt"
	"math"
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
	// The value is not quoted: it comes from a handshake, whose fields may
	// hold a piece of a password (see protocol's redact.go).
	return "", fmt.Errorf("unknown join policy (%d bytes): want gop, keyframe or live", len(s))
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
	c.switchStreamLocked()
	c.tracking = p
	p.base = c.head
	p.tracker = media.NewTracker(media.TrackerConfig{DetectLimit: detectLimit})
	c.streamStart = c.head
	c.format = media.FormatUnknown
	c.joinOK = false
	c.fallbackOK = false
	c.joinHist = c.joinHist[:0]
	c.keepJoin = true
	c.trackRetain = c.head
	c.mediaInfo = MediaInfo{}
}

// event is something about a channel worth a log line, reported through
// Config.OnEvent once the channel lock is released.
type event struct {
	msg   string // "" for none
	attrs []any
}

// trackLocked copies what the writer's tracker learned from the bytes just
// committed, and returns what is worth logging about it. Expects c.mu.
func (c *Channel) trackLocked(p *Publisher) (ev event) {
	t := p.tracker
	if t == nil {
		return ev
	}
	in := t.Info()
	c.mediaInfo = MediaInfo{Format: formatName(in.Format), Codec: in.Codec, AudioCodec: in.AudioCodec,
		GOPBytes: in.GOPBytes, GOPDuration: in.GOPDuration}
	if f := t.Format(); f != c.format {
		c.format = f
		c.loggedGOP = 0
		ev = event{"stream format detected", []any{"format", c.mediaInfo.Format, "codec", in.Codec, "audio_codec", in.AudioCodec}}
	} else if g := in.GOPBytes; g > 0 && (c.loggedGOP == 0 || g > c.loggedGOP*5/4 || g < c.loggedGOP*3/4) {
		// The first GOP, and changes of a quarter or more.
		c.loggedGOP = g
		ev = event{"GOP measured", []any{"format", c.mediaInfo.Format, "codec", in.Codec, "audio_codec", in.AudioCodec,
			"gop_bytes", g, "gop_seconds", math.Round(in.GOPDuration.Seconds()*100) / 100}}
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
	// The tracker is not safe for concurrent use: what a watcher that
	// waited too long needs is copied here, on the broadcaster's goroutine.
	if fp, ok := t.FallbackPoint(); ok {
		fp.Pos += p.base
		c.fallback, c.fallbackOK = fp, true
	}
	c.trackRetain = p.base + t.RetainFrom()
	c.whole = p.base + t.WholeEnd()
	return ev
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

// atJoinLocked is the position at the newest join point: its prefix (the
// PAT/PMT or parameter sets), then the ring from its keyframe on. The lag
// clock starts now: the GOP is old by design, not lag. Expects c.mu and a
// usable join point.
func (c *Channel) atJoinLocked() position {
	return position{cursor: c.join.Pos, prefix: c.join.Prefix, lagFrom: c.since(), stream: c.stream}
}

// placeLocked returns where a new watcher starts, by policy. Expects c.mu.
func (c *Channel) placeLocked(policy JoinPolicy, fromStart bool) position {
	var pos position
	switch {
	case fromStart && c.tracking != c.publisher:
		// The broadcaster has not begun: its stream starts at the head.
		pos = position{cursor: c.head}
	case fromStart && c.streamStart >= c.tail:
		pos = position{cursor: c.streamStart, lagFrom: c.since()}
	default:
		pos = c.placeInStreamLocked(policy)
	}
	pos.stream = c.stream
	return pos
}

// placeInStreamLocked is placeLocked's choice of a place in the current
// stream. Expects c.mu.
func (c *Channel) placeInStreamLocked(policy JoinPolicy) position {
	if policy == "" {
		policy = c.cfg.DefaultJoin
	}
	switch {
	case c.bufsize > 0 && !c.format.IsMedia():
		// Chunk-aligned join for generic streams (the later original's
		// bufsize): the start of the current chunk if it is still
		// buffered, else the start of the next one.
		chunk := c.chunkStartLocked()
		if chunk < c.tail {
			chunk += c.bufsize
		}
		return position{cursor: chunk}
	case policy == JoinLive || c.format == media.FormatGeneric:
		return position{cursor: c.head}
	case c.head == c.streamStart:
		return position{cursor: c.head} // nothing sent yet: from the first byte is a clean start
	case policy == JoinGOP && c.joinUsableLocked():
		return c.atJoinLocked()
	case policy == JoinGOP:
		// Any join point will do, even one found during detection.
		return position{cursor: c.head, waiting: true, waitSeq: 0, giveUp: c.giveUpLocked()}
	default:
		return position{cursor: c.head, waiting: true, waitSeq: c.joinSeq, giveUp: c.giveUpLocked()}
	}
}

// giveUpLocked is when a watcher that starts waiting for a join point now
// takes a fallback point instead; 0 for never. Expects c.mu.
func (c *Channel) giveUpLocked() time.Duration {
	if c.cfg.JoinTimeout <= 0 {
		return 0
	}
	return c.since() + c.cfg.JoinTimeout
}

// resolveWaitLocked starts a watcher that waits for a keyframe once it
// can: at the keyframe once there is one it may take; where it is if the
// stream turned out not to be media; at the newest fallback point once it
// has waited JoinTimeout (if that is still in the ring; else it tries again
// at the next commit). It returns what to log once unlocked. Expects c.mu.
func (c *Channel) resolveWaitLocked(s *Subscription) event {
	switch {
	case c.format == media.FormatGeneric:
		s.waiting = false // its cursor was held while detecting: nothing lost
	case c.joinSeq > s.waitSeq && c.joinUsableLocked():
		s.position = c.atJoinLocked()
	case s.giveUp > 0 && c.since() >= s.giveUp && c.fallbackUsableLocked():
		s.position = position{cursor: c.fallback.Pos, prefix: c.fallback.Prefix, lagFrom: c.since(), stream: c.stream}
		return c.fellBackLocked()
	}
	return event{}
}

// fallbackUsableLocked reports whether the newest fallback point can still
// be served from the ring. Expects c.mu.
func (c *Channel) fallbackUsableLocked() bool {
	return c.fallbackOK && c.fallback.Pos >= c.tail && c.fallback.Pos <= c.head
}

// fellBackLocked counts a watcher started at a fallback point; the first
// of the channel is worth a log line. Expects c.mu.
func (c *Channel) fellBackLocked() event {
	c.fallbacks++
	c.hub.fallbacks.Add(1)
	if c.fallbacks > 1 {
		return event{}
	}
	return event{"no join point within the join timeout: watchers start at a fallback point", []any{
		"format", c.mediaInfo.Format, "codec", c.mediaInfo.Codec, "audio_codec", c.mediaInfo.AudioCodec,
		"join_timeout", c.cfg.JoinTimeout}}
}

// maxJoinHist bounds the recent keyframe positions kept for planning skips.
const maxJoinHist = 64

func (c *Channel) recordJoinLocked(pos int64) {
	if len(c.joinHist) >= maxJoinHist {
		c.joinHist = append(c.joinHist[:0], c.joinHist[1:]...)
	}
	c.joinHist = append(c.joinHist, pos)
}
