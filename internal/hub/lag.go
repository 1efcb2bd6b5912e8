package hub

import (
	"sort"
	"time"
)

// lagMarks is how many arrival-time marks cover MaxLag.
const lagMarks = 64

// lagMark records that the bytes from pos on became visible to watchers at
// (or after) at: a byte's lag clock starts when watchers can take it, so
// that a broadcaster's delay does not count as their lag.
type lagMark struct {
	pos int64
	at  time.Duration // since epoch
}

// markLocked records when the bytes from pos on became visible, at most
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

// dropMarksLocked forgets the marks before pos, the new tail, but the one
// covering it. Expects c.mu.
func (c *Channel) dropMarksLocked(pos int64) {
	i := 0
	for i+1 < len(c.marks) && c.marks[i+1].pos <= pos {
		i++
	}
	c.marks = c.marks[i:]
}

// arrivalLocked returns when the byte at pos became visible, rounded to the
// mark before it (so ages are overestimated by at most one mark interval).
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

// evictStalledLocked runs each time the broadcaster finds the ring full and
// is about to wait: it evicts the watchers that hold the ring full and made
// no progress for the stall timeout since the channel became congested. The
// congestion episode (blockedSince) outlives one wait, so that watchers that
// stalled together go one right after the other, not one stall timeout each.
// The caller notifies the evicted watchers once it has unlocked.
func (c *Channel) evictStalledLocked() []*Subscription {
	now := c.since()
	if now-c.blockedAt > c.cfg.StallTimeout {
		c.blockedSince = now // a new congestion episode
	}
	c.blockedAt = now
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

// lagDeadlineLocked returns when the watcher's oldest pending byte becomes
// older than MaxLag (zero when MaxLag is off). Once that moment has passed,
// the slow-watcher policy applies, the watcher is skipped ahead or evicted,
// and ok is false: the caller looks at the watcher again. now is the
// channel's clock. Expects c.mu.
func (c *Channel) lagDeadlineLocked(s *Subscription, now time.Duration) (deadline time.Time, ok bool) {
	if c.cfg.MaxLag <= 0 {
		return time.Time{}, true
	}
	oldest := now // only join bytes to send: they are due now
	if s.cursor < c.visible {
		oldest = c.arrivalLocked(s.cursor)
	}
	due := max(oldest, s.lagFrom) + c.cfg.MaxLag
	if now <= due {
		return c.epoch.Add(due), true
	}
	if !c.skipLocked(s) {
		s.evictLocked(ReasonLagging)
	}
	return time.Time{}, false
}

// skipLocked handles a media watcher past MaxLag under the skip policy: it
// plans a jump from the next keyframe in the watcher's own stream to the
// newest keyframe. The watcher keeps receiving whole GOPs up to the cut, so
// its player sees a clean cut, not corruption. When no keyframe newer than
// that one exists yet, the watcher goes on and the lag clock restarts: the
// jump comes once the stream has moved on. It reports false when the policy
// or the stream does not allow skipping.
func (c *Channel) skipLocked(s *Subscription) bool {
	if c.cfg.SlowPolicy != SlowSkip || !c.format.IsMedia() || s.waiting {
		return false
	}
	if s.jumpAt == 0 && c.joinUsableLocked() {
		for _, pos := range c.joinHist {
			if pos >= s.cursor {
				if pos < c.join.Pos {
					s.jumpAt = pos
				}
				break
			}
		}
	}
	s.lastProgress = c.since()
	s.lagFrom = s.lastProgress
	return true
}

// jumpLocked carries out a planned skip once the watcher reached the cut.
func (c *Channel) jumpLocked(s *Subscription) {
	s.jumpAt = 0
	if !c.joinUsableLocked() || c.join.Pos <= s.cursor {
		return
	}
	n := c.join.Pos - s.cursor
	s.skipped += n
	c.hub.skips.Add(1)
	c.hub.skippedBytes.Add(n)
	// The keyframe itself may be older than MaxLag (a long GOP): the lag
	// clock restarts at the skip.
	s.position = c.atJoinLocked()
}

// Skip applies the skip policy to a watcher whose write timed out while it
// was still making progress (a link slower than the stream). It reports false
// when the policy or the stream does not allow it; the caller then
// disconnects the watcher.
func (s *Subscription) Skip() bool {
	c := s.ch
	c.mu.Lock()
	defer c.mu.Unlock()
	return s.err == nil && c.skipLocked(s)
}

// Evict removes the watcher for reason, as the hub would, so that it is
// counted the same way.
func (s *Subscription) Evict(reason CloseReason) error {
	c := s.ch
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.err == nil {
		s.evictLocked(reason)
	}
	return s.err
}
