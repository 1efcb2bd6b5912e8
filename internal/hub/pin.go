package hub

import "math"

// A watcher's writer hands the kernel slices of the ring (Next) and reports
// back (Done, DoneNext). A watcher the hub evicts in between (a stall, lag,
// a kick) may still be inside that write: its bytes must not be overwritten
// until the writer is back, or the kernel would send the next lap's bytes
// in their place. So the evicted watcher's cursor stays pinned in the ring
// until its writer calls Done, DoneNext or Close. OnEvict makes a blocked
// write return at once, so a pin lasts a system call; a writer that never
// comes back (a Sink that ignores its deadline) holds the bytes for
// StallTimeout at most, after which the broadcaster goes on. Close is the
// owner's word that it is done with the slices, so it releases the pin at
// once, even when called from another goroutine (a cancelled context).

// pinLocked keeps s's unwritten bytes while its writer may still use them.
// Expects c.mu.
func (c *Channel) pinLocked(s *Subscription) {
	s.pinned = true
	s.pinnedAt = c.since()
	c.pinned = append(c.pinned, s)
}

// releaseLocked notes that s's writer is back: it holds no ring slices. A
// pinned watcher lets go of its bytes. Expects c.mu.
func (s *Subscription) releaseLocked() {
	s.holding = false
	if !s.pinned {
		return
	}
	s.pinned = false
	c := s.ch
	for i, p := range c.pinned {
		if p == s {
			c.pinned = append(c.pinned[:i], c.pinned[i+1:]...)
			break
		}
	}
	c.signalSpaceLocked()
}

// pinnedFromLocked returns the oldest position a pinned watcher still
// holds, dropping pins older than StallTimeout. Expects c.mu.
func (c *Channel) pinnedFromLocked() int64 {
	from := int64(math.MaxInt64)
	now := c.since()
	kept := c.pinned[:0]
	for _, s := range c.pinned {
		if now-s.pinnedAt >= c.cfg.StallTimeout {
			s.pinned = false
			continue
		}
		kept = append(kept, s)
		from = min(from, s.cursor)
	}
	clear(c.pinned[len(kept):])
	c.pinned = kept
	return from
}
