package hls

import (
	"time"
)

// maxPTSStep is the longest segment duration believed from PTS; a larger
// step (a splice, a broken clock) falls back to arrival time.
const maxPTSStep = 60 * time.Second

// tsCutter cuts an MPEG-TS at the tracker's join points: each segment is the
// join point's prefix (PAT and PMT) and the bytes from one join point to
// the next one at least MinSegment later. Durations come from the PTS of
// the PES at each join point.
type tsCutter struct {
	s        *Segmenter
	pending  []byte // stream bytes from pendFrom on
	pendFrom int64
	lastSeq  uint64

	open   bool   // a segment is being cut; it starts at pendFrom
	prefix []byte // its PAT and PMT
	pts    int64  // its first PTS; -1 if none
	start  time.Time
}

func newTSCutter(s *Segmenter) *tsCutter {
	return &tsCutter{s: s}
}

func (c *tsCutter) write(p []byte, now time.Time) {
	c.pending = append(c.pending, p...)
	if jp, ok := c.s.tr.JoinPoint(); ok && jp.Seq != c.lastSeq && jp.Pos >= c.pendFrom {
		c.lastSeq = jp.Seq
		c.join(jp.Pos, jp.Prefix, jp.Time, now)
	}
	if len(c.pending) > c.s.cfg.MaxSegmentBytes {
		c.s.lost(len(c.pending))
		c.pendFrom += int64(len(c.pending))
		c.pending = c.pending[:0]
		c.open = false
	}
}

// join handles a new join point at pos.
func (c *tsCutter) join(pos int64, prefix []byte, at, now time.Time) {
	off := int(pos - c.pendFrom)
	pts := ptsAt(c.pending[off:])
	if c.open {
		d, clock := c.duration(pts, at)
		if d < c.s.cfg.MinSegment {
			return // too short: this keyframe stays inside the segment
		}
		c.s.put(cut{Data: concat(c.prefix, c.pending[:off]), Duration: d, Start: c.start, Clock: clock})
	}
	c.pending = c.pending[:copy(c.pending, c.pending[off:])]
	c.pendFrom = pos
	c.open, c.prefix, c.pts, c.start = true, prefix, pts, at
}

// duration is the time from the open segment's start to a join point with
// PTS pts that arrived at at.
func (c *tsCutter) duration(pts int64, at time.Time) (time.Duration, string) {
	if c.pts >= 0 && pts >= 0 {
		d := time.Duration((pts-c.pts)&ptsMask) * time.Second / 90000
		if d > 0 && d < maxPTSStep {
			return d, "pts"
		}
	}
	return at.Sub(c.start), "arrival"
}

// flush finishes the open segment with the whole packets that arrived so
// far.
func (c *tsCutter) flush(now time.Time) {
	if whole := len(c.pending) / 188 * 188; c.open && whole > 0 {
		c.s.put(cut{Data: concat(c.prefix, c.pending[:whole]), Duration: max(now.Sub(c.start), time.Millisecond), Start: c.start, Clock: "arrival"})
	}
	c.pendFrom += int64(len(c.pending))
	c.pending = c.pending[:0]
	c.open = false
}

// concat returns a new slice holding a then b.
func concat(a, b []byte) []byte {
	out := make([]byte, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// ptsMask wraps a 33-bit PTS difference.
const ptsMask = 1<<33 - 1

// ptsAt returns the PTS of the PES that starts in the TS packet at the
// start of b, or -1 if b does not start with such a packet.
func ptsAt(b []byte) int64 {
	if len(b) < 188 || b[0] != 0x47 || b[1]&0x40 == 0 {
		return -1
	}
	off := 4
	switch b[3] >> 4 & 3 {
	case 1:
	case 3:
		off += 1 + int(b[4])
	default:
		return -1
	}
	pes := b[min(off, 188):188]
	if len(pes) < 14 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 || pes[7]&0x80 == 0 {
		return -1
	}
	return decodeTimestamp(pes[9:14])
}

// decodeTimestamp decodes a PES PTS or DTS field (5 bytes, 33 bits).
func decodeTimestamp(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}
