package hub

import "github.com/fstream/fstream/internal/media"

// maxBounds bounds the stream switches a channel remembers. Only a watcher
// still behind the oldest of them would cross a switch unseen (it then
// reads on into the next stream as before); takeovers are rare, and a
// watcher that far behind is evicted or skipped for lag long before.
const maxBounds = 8

// streamBound is a switch from one broadcaster's stream to the next. The
// old stream ends at end, the end of its last whole unit (what was shown
// of it); the new one starts at start, the head when the new broadcaster
// began. The bytes between are a torn tail no watcher gets.
type streamBound struct {
	end, start int64
	seq        uint64 // the new stream's number
	joinSeq    uint64 // Channel.joinSeq before the new stream's first join point
	media      bool   // the old stream was media
}

// switchStreamLocked begins a new stream at the head for a new
// broadcaster; every stream after the first gets a bound. Expects c.mu,
// and the previous broadcaster done with the ring.
func (c *Channel) switchStreamLocked() {
	if c.streamBegun {
		c.stream++
		if len(c.bounds) == maxBounds {
			c.bounds = append(c.bounds[:0], c.bounds[1:]...)
		}
		c.bounds = append(c.bounds, streamBound{end: min(c.whole, c.head), start: c.head, seq: c.stream, joinSeq: c.joinSeq,
			media: c.format.IsMedia()})
	}
	c.streamBegun = true
	c.whole = c.head
}

// nextBoundLocked returns the switch that ends the stream s reads, if its
// stream is not the newest. Expects c.mu.
func (c *Channel) nextBoundLocked(s *Subscription) (streamBound, bool) {
	for _, b := range c.bounds {
		if b.seq > s.stream {
			return b, true
		}
	}
	return streamBound{}, false
}

// crossLocked moves a watcher that finished a stream to the next one.
// After a media stream the next must be decoded from a keyframe with its
// PAT/PMT or parameter sets, not spliced on in mid-GOP: the watcher waits
// for the new stream's first join point as a joining one would (with the
// same fallback after the join timeout; if the new stream turns out to be
// generic, it starts at its first byte). After a generic stream the
// watcher goes on at the new stream's first byte, as a pipe would.
// Expects c.mu.
func (c *Channel) crossLocked(s *Subscription, b streamBound) {
	s.position = position{cursor: b.start, stream: b.seq, lagFrom: c.since()}
	s.jumpAt = 0
	if !b.media || b.seq == c.stream && c.format == media.FormatGeneric {
		return
	}
	s.waiting = true
	s.waitSeq = b.joinSeq
	s.giveUp = c.giveUpLocked()
}

// Stream returns the number of the broadcaster stream that the bytes the
// last Next returned belong to: 1 for the channel's first broadcaster, one
// more for each that followed (a takeover, or a return within the grace
// period). Next never returns bytes of two streams at once, so a change
// marks a discontinuity: for a media stream the new one starts at a join
// point. Call it from the goroutine that calls Next.
func (s *Subscription) Stream() uint64 { return s.lastStream }
