package hub

import (
	"io"
	"time"
)

// Subscription is a watcher's handle on its channel. Its methods are called
// by the one goroutine that writes to the watcher, except Close; while it
// is direct (ErrDirect), the channel's writers write for it.
type Subscription struct {
	ch     *Channel
	opts   SubscribeOptions
	quit   chan struct{} // closed when evicted or closed
	joined time.Time

	// Under ch.mu:
	position                   // where it reads next
	idx          int           // index in ch.subs; -1 once removed
	lastProgress time.Duration // last write, or when it last found new bytes after catching up
	asleep       bool          // caught up and waiting in Next
	idleFrom     uint64        // idle tick interval since which it has had nothing to write; 0 = none
	sent         int64
	skipped      int64
	err          error
	jumpAt       int64 // a planned skip to the newest keyframe happens here; 0 = none
	holding      bool  // the writer holds ring slices from Next
	// pinnedAt is when it was removed while holding ring slices (see
	// pin.go); pinned says it is in ch.pinned.
	pinnedAt time.Duration
	pinned   bool
	// Direct writes (direct.go): direct says the channel's writers write
	// to it; directHolds that one of them is inside a write of its
	// slices; writer is the one it belongs to, at writer.subs[wIdx].
	direct      bool
	directHolds bool
	writer      *chanWriter
	wIdx        int
	directIov   [3][]byte     // the writer's batch
	takeBack    chan struct{} // the writers hand it back (cap 1)

	// Owned by the writing goroutine.
	lastStream uint64 // the stream of the bytes the last Next returned
}

// position is where a watcher reads next.
type position struct {
	cursor  int64
	prefix  []byte        // join bytes still to send before cursor
	waiting bool          // for a keyframe; cursor is not yet where it starts
	waitSeq uint64        // the join point it must not take
	giveUp  time.Duration // while waiting: when it starts at a fallback point instead; 0 = never
	lagFrom time.Duration // lag is measured from here at least (the last join or skip)
	stream  uint64        // the broadcaster stream cursor is in (see stream.go)
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
// returned, and an *EvictedError if the hub evicted the watcher. With
// Config.IdleTick set it returns ErrIdle when the watcher has had nothing
// to write for a while: the caller checks its connection and calls again.
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
		c.hub.bytesOut.Add(int64(written))
	}
	c.mu.Lock()
	if s.direct {
		// The channel's writers own the sink (and may hold its slices):
		// the caller waits in WaitDirect until they hand it back.
		c.mu.Unlock()
		return nil, time.Time{}, ErrDirect
	}
	// One clock read per locked stretch: the progress and lag times below
	// need no finer resolution than the lock's hold time.
	now := c.since()
	s.releaseLocked()
	if written > 0 {
		s.doneLocked(written, now)
	}
	if s.asleep {
		// Back after ErrIdle: as after a wake-up, its stall clock starts
		// when it runs again; its next idle check is a tick or two away.
		s.asleep = false
		s.lastProgress = now
		s.idleFrom = 0
	}
	var ev event // to log once unlocked
	for {
		var ready bool
		deadline, ready, ev, err = c.readyLocked(s, now)
		if err != nil {
			c.mu.Unlock()
			c.emit(ev)
			return nil, time.Time{}, err
		}
		if ready {
			break
		}
		s.asleep = true
		if s.opts.Direct != nil && written < directMaxBatch {
			// Caught up: the channel's writers take it from here.
			s.direct = true
			c.mu.Unlock()
			c.emit(ev)
			return nil, time.Time{}, ErrDirect
		}
		c.sleepers = true
		wake, tick := c.wake, c.hub.idleTick(&s.idleFrom)
		c.mu.Unlock()
		c.emit(ev)
		select {
		case <-wake:
		case <-s.quit:
		case <-tick:
			// asleep stays set until the next call: the watcher is still
			// caught up, not stalled.
			return nil, time.Time{}, ErrIdle
		}
		c.mu.Lock()
		// Caught up until now: its stall clock starts when it runs again.
		now = c.since()
		s.asleep = false
		s.lastProgress = now
	}
	bufs = c.takeLocked(s, dst, limit)
	c.mu.Unlock()
	c.emit(ev)
	return bufs, deadline, nil
}

// readyLocked brings s up to date (a join point found, a planned skip, a
// stream switch, lag) and reports whether it has bytes to write now;
// deadline is when the oldest of them passes MaxLag. It returns s.err once
// the watcher is gone (the channel's end included), and an event to log
// once unlocked. Expects c.mu.
func (c *Channel) readyLocked(s *Subscription, now time.Duration) (deadline time.Time, ready bool, ev event, err error) {
	for {
		if s.err != nil {
			return time.Time{}, false, ev, s.err
		}
		if s.waiting {
			if e := c.resolveWaitLocked(s); e.msg != "" {
				ev = e
			}
		}
		if s.jumpAt > 0 && s.cursor >= s.jumpAt && len(s.prefix) == 0 {
			c.jumpLocked(s)
		}
		if b, ok := c.nextBoundLocked(s); ok && s.cursor >= b.end && len(s.prefix) == 0 {
			c.crossLocked(s, b)
			continue
		}
		if !s.waiting && (len(s.prefix) > 0 || s.cursor < c.visible) {
			if deadline, ok := c.lagDeadlineLocked(s, now); ok {
				return deadline, true, ev, nil
			}
			continue
		}
		if c.ended {
			s.removeLocked(ErrChannelEnded)
			continue
		}
		return time.Time{}, false, ev, nil
	}
}

// takeLocked hands s its next batch, appended to dst[:0]: the join bytes
// it must send first, then up to limit bytes of the ring, which it holds
// until its writer is back (pin.go). Expects c.mu, after readyLocked said
// it is ready.
func (c *Channel) takeLocked(s *Subscription, dst [][]byte, limit int) [][]byte {
	start := s.cursor
	end := min(c.visible, start+int64(limit))
	if s.jumpAt > 0 {
		end = min(end, s.jumpAt) // a planned skip cuts here
	}
	if b, ok := c.nextBoundLocked(s); ok {
		end = max(start, min(end, b.end)) // its stream ends here
	}
	s.lastStream = s.stream
	s.holding = end > start
	bufs := dst[:0]
	if len(s.prefix) > 0 {
		bufs = append(bufs, s.prefix)
	}
	return appendSpan(bufs, c.buf, start, end)
}

// Done records that the watcher wrote n more bytes of what Next returned.
func (s *Subscription) Done(n int) {
	c := s.ch
	if n > 0 {
		c.hub.bytesOut.Add(int64(n))
	}
	c.mu.Lock()
	s.releaseLocked()
	if n > 0 {
		s.doneLocked(n, c.since())
	}
	c.mu.Unlock()
}

// doneLocked records n more bytes written at now (the channel's clock).
// The channel's byte count lives under its lock, which the writer holds
// here anyway: one atomic add fewer per write. Expects c.mu.
func (s *Subscription) doneLocked(n int, now time.Duration) {
	c := s.ch
	c.bytesOut += int64(n)
	s.sent += int64(n)
	if k := min(n, len(s.prefix)); k > 0 {
		s.prefix = s.prefix[k:]
		n -= k
	}
	if s.cursor == c.tail && n > 0 {
		c.signalSpaceLocked()
	}
	s.cursor += int64(n)
	s.lastProgress = now
	s.idleFrom = 0
}

// Sent returns how many bytes were written to the watcher.
func (s *Subscription) Sent() int64 {
	s.ch.mu.Lock()
	defer s.ch.mu.Unlock()
	return s.sent
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
	if !s.directHolds {
		s.releaseLocked() // its owner is done with it (see pin.go)
	}
	s.ch.mu.Unlock()
}

// removeLocked takes the watcher out of the channel with err as the reason
// Next reports from now on. Expects ch.mu held.
func (s *Subscription) removeLocked(err error) {
	c := s.ch
	if s.idx < 0 {
		return
	}
	if s.holding {
		c.pinLocked(s)
	} else if s.cursor == c.tail {
		c.signalSpaceLocked()
	}
	last := len(c.subs) - 1
	c.subs[s.idx] = c.subs[last]
	c.subs[s.idx].idx = s.idx
	c.subs[last] = nil
	c.subs = c.subs[:last]
	s.idx = -1
	s.err = err
	s.leaveDirectLocked()
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
