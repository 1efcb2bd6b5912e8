package hub

import "runtime"

// Direct writes. A watcher that writes from its own goroutine costs, per
// broadcaster read, a wake-up of that goroutine and two rounds of the
// channel lock on top of its system call: with hundreds of watchers woken
// at once, the wake-ups and the queue on the lock cost more than the rest
// of the hub's work (docs/PERFORMANCE.md, "What one write costs").
//
// So a watcher whose sink can take bytes without blocking (a plain TCP
// socket) gives its sink to its channel's writers while it is caught up:
// Next returns ErrDirect and its goroutine waits in WaitDirect. A few
// writer goroutines per channel (Config.Writers) then wake once per
// publish and write to every such watcher in turn, taking the channel lock
// once per group of watchers. A write that cannot take everything (a full
// socket, an error) hands the watcher back to its goroutine, which writes
// with its blocking, deadline-bound writes as before: a slow watcher never
// holds a channel writer up, and stalls, lag, skips and evictions work as
// they always did.

// DirectWriter is a sink that can be written without blocking.
type DirectWriter interface {
	// TryWrite writes as much of bufs as the sink takes at once and
	// returns how many bytes that was. Fewer than all of them means the
	// sink is full or failed: the watcher's own goroutine takes over and
	// finds out which.
	TryWrite(bufs [][]byte) int
}

// directMaxBatch: a watcher whose own last batch was this big stays with its
// goroutine when it catches up. Next to such a write a wake-up costs
// little, and a stream that fast fills the watcher's socket, which would
// hand it back at every other batch.
const directMaxBatch = 64 << 10

// directGroup is how many watchers a channel writer serves per lock round.
const directGroup = 64

// chanWriter is one of a channel's direct writers. Its goroutine runs while
// it has members and ends when the last one leaves.
type chanWriter struct {
	c *Channel
	// Under c.mu:
	subs    []*Subscription // members: watchers with a DirectWriter
	running bool
	kick    chan struct{} // a member left: the writer may have to end

	// Owned by the goroutine.
	snap []*Subscription
	jobs []directJob
	evs  []event
}

// directJob is one watcher's write in a pass.
type directJob struct {
	s       *Subscription
	bufs    [][]byte
	size, n int
}

// addDirectLocked makes s, which has a DirectWriter, a member of the
// channel writer with the fewest, and starts that writer if it is not
// running. Expects c.mu.
func (c *Channel) addDirectLocked(s *Subscription) {
	if c.writers == nil {
		n := c.cfg.Writers
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		c.writers = make([]*chanWriter, n)
		for i := range c.writers {
			c.writers[i] = &chanWriter{c: c, kick: make(chan struct{}, 1)}
		}
	}
	w := c.writers[0]
	for _, o := range c.writers[1:] {
		if len(o.subs) < len(w.subs) {
			w = o
		}
	}
	s.writer, s.wIdx = w, len(w.subs)
	w.subs = append(w.subs, s)
	if !w.running {
		w.running = true
		go w.run()
	}
}

// leaveDirectLocked takes s out of its writer's members. Expects c.mu.
func (s *Subscription) leaveDirectLocked() {
	w := s.writer
	if w == nil {
		return
	}
	last := len(w.subs) - 1
	w.subs[s.wIdx] = w.subs[last]
	w.subs[s.wIdx].wIdx = s.wIdx
	w.subs[last] = nil
	w.subs = w.subs[:last]
	s.writer = nil
	if last == 0 {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// run writes to the writer's members each time the channel publishes, until
// it has none left.
//
// It never sleeps through bytes a member should write: each pass starts by
// taking the channel's current wake-up (and asking to be woken), so a
// publish after that start wakes it for another pass, and one before it is
// seen by the pass, which visits every member after its start. A watcher
// goes direct only when it is caught up, so whatever comes after that is
// published after it.
func (w *chanWriter) run() {
	c := w.c
	for {
		c.mu.Lock()
		if len(w.subs) == 0 {
			w.running = false
			c.mu.Unlock()
			return
		}
		c.sleepers = true
		wake := c.wake
		w.snap = append(w.snap[:0], w.subs...)
		c.mu.Unlock()
		again := false
		for i := 0; i < len(w.snap); i += directGroup {
			if w.pass(w.snap[i:min(i+directGroup, len(w.snap))]) {
				again = true
			}
		}
		clear(w.snap)
		if again {
			continue
		}
		select {
		case <-wake:
		case <-w.kick:
		}
	}
}

// pass writes to the direct watchers of group that have bytes to write. It
// reports whether one of them has more than it could take in one batch.
func (w *chanWriter) pass(group []*Subscription) (again bool) {
	c := w.c
	w.jobs, w.evs = w.jobs[:0], w.evs[:0]
	c.mu.Lock()
	now := c.since()
	for _, s := range group {
		if !s.direct || s.err != nil {
			continue
		}
		_, ready, ev, _ := c.readyLocked(s, now)
		if ev.msg != "" {
			w.evs = append(w.evs, ev)
		}
		if !ready {
			continue
		}
		if c.visible-s.cursor+int64(len(s.prefix)) >= directMaxBatch {
			// A burst: its own goroutine writes it, in parallel with the
			// others' (see directMaxBatch).
			s.handBackLocked()
			continue
		}
		if s.asleep {
			// As when a sleeping watcher wakes: its stall clock starts now.
			s.asleep = false
			s.lastProgress = now
		}
		bufs := c.takeLocked(s, s.directIov[:0], directBatch)
		s.directHolds = true
		w.jobs = append(w.jobs, directJob{s: s, bufs: bufs, size: bufsLen(bufs)})
	}
	c.mu.Unlock()
	for _, ev := range w.evs {
		c.emit(ev)
	}
	if len(w.jobs) == 0 {
		return false
	}
	var total int64
	for i := range w.jobs {
		j := &w.jobs[i]
		j.n = max(0, j.s.opts.Direct.TryWrite(j.bufs))
		total += int64(j.n)
	}
	c.hub.bytesOut.Add(total)
	c.hub.directBytes.Add(total)
	c.mu.Lock()
	now = c.since()
	for i := range w.jobs {
		j := &w.jobs[i]
		s := j.s
		s.directHolds = false
		s.releaseLocked()
		if j.n > 0 {
			s.doneLocked(j.n, now)
		}
		switch {
		case s.err != nil:
		case j.n < j.size:
			s.handBackLocked()
		case len(s.prefix) > 0 || s.cursor < c.visible || c.ended:
			// More to write, or the channel's end to tell it: the end
			// wakes no one twice.
			again = true
		default:
			s.asleep = true // caught up again
		}
		j.bufs = nil
		clear(s.directIov[:])
	}
	c.mu.Unlock()
	return again
}

// directBatch bounds one direct write, as the server bounds a batch.
const directBatch = 256 << 10

func bufsLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// handBackLocked gives s's sink back to its goroutine. Expects c.mu.
func (s *Subscription) handBackLocked() {
	s.ch.hub.handBacks.Add(1)
	s.direct = false
	s.asleep = false
	select {
	case s.takeBack <- struct{}{}:
	default: // a stale signal is still there: WaitDirect checks s.direct
	}
}

// WaitDirect waits while the channel's writers write to the watcher, after
// Next returned ErrDirect. It returns nil once they handed the watcher back
// (its sink could not take a whole batch at once: the caller's own writes
// take over from Next), ErrIdle when nothing was written to it for an idle
// tick or two (Config.IdleTick: the caller checks its connection and calls
// again; a watcher waiting for a join point is handed back then), or why
// the subscription ended.
func (s *Subscription) WaitDirect() error {
	c := s.ch
	c.mu.Lock()
	for {
		switch {
		case s.err != nil:
			err := s.err
			c.mu.Unlock()
			return err
		case !s.direct:
			c.mu.Unlock()
			return nil
		}
		tick := c.hub.idleTick(&s.idleFrom)
		c.mu.Unlock()
		idle := false
		select {
		case <-s.takeBack:
		case <-s.quit:
		case <-tick:
			idle = true
		}
		c.mu.Lock()
		if idle && s.idleFrom != 0 && s.direct && s.err == nil {
			// Nothing written since it went idle (a write resets idleFrom).
			if s.waiting && !s.directHolds {
				// Waiting for a join point on a silent channel: its
				// goroutine takes it back, so that its next Next can
				// start it at the fallback point once its join timeout
				// has passed, as for a watcher that sleeps in Next.
				s.direct = false
			}
			c.mu.Unlock()
			return ErrIdle
		}
	}
}
