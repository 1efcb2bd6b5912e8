package hub

import (
	"io"
	"sync"
	"time"

	"github.com/fstream/fstream/internal/media"
)

// maxRead bounds one read from a broadcaster.
const maxRead = 512 << 10

// Publisher is a broadcaster's handle on its channel.
type Publisher struct {
	ch      *Channel
	opts    PublishOptions
	prev    *Publisher    // must stop writing into the ring before we start
	quit    chan struct{} // closed when the hub stops this publisher
	done    chan struct{} // closed by Close
	once    sync.Once
	started time.Time

	// Owned by the goroutine in ReadFrom.
	tracker *media.Tracker
	base    int64  // ring position of the tracker's first byte
	joinSeq uint64 // the tracker's last join point seen

	stopped CloseReason // under ch.mu
}

// Channel returns the publisher's channel.
func (p *Publisher) Channel() *Channel { return p.ch }

// stopLocked ends the publisher for reason: its ReadFrom returns an
// *EvictedError. The caller calls OnStop once it has unlocked. Expects
// ch.mu.
func (p *Publisher) stopLocked(reason CloseReason) {
	if p.stopped == "" {
		p.ch.hub.countEviction(reason)
		p.stopped = reason
		close(p.quit)
	}
}

// Stop ends the publisher for reason, as a takeover in this hub would: its
// ReadFrom returns an *EvictedError and OnStop is called. The server stops
// a broadcaster this way when another node took its channel over. Stopping
// a stopped publisher does nothing.
func (p *Publisher) Stop(reason CloseReason) {
	c := p.ch
	c.mu.Lock()
	stopped := p.stopped != ""
	p.stopLocked(reason)
	c.mu.Unlock()
	if !stopped && p.opts.OnStop != nil {
		p.opts.OnStop(reason)
	}
}

// ReadFrom reads the broadcaster's stream into the channel until r returns
// EOF (nil error), r fails, or the hub stops the publisher (an
// *EvictedError). When the ring is full it waits for the slowest watcher,
// evicting watchers that stall; a broadcaster is never held back longer than
// the stall timeout by one watcher.
func (p *Publisher) ReadFrom(r io.Reader) (int64, error) {
	if p.prev != nil {
		// A taken-over broadcaster may still be inside Read on our ring.
		select {
		case <-p.prev.done:
		case <-p.quit:
			return 0, p.stopErr()
		}
		p.prev = nil
	}
	c := p.ch
	c.mu.Lock()
	c.startTrackingLocked(p)
	c.mu.Unlock()
	var total int64
	for {
		region, err := c.reserve(p)
		if err != nil {
			return total, err
		}
		n, rerr := r.Read(region)
		if n > 0 {
			// Outside the lock: these bytes are not visible to anyone yet.
			p.tracker.Write(region[:n], c.cfg.Clock.Now())
			if err := c.commit(p, n); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr != nil {
			if err := p.stopErr(); err != nil {
				return total, err
			}
			if rerr == io.EOF {
				return total, nil
			}
			return total, rerr
		}
	}
}

// stopErr returns why the hub stopped the publisher, or nil.
func (p *Publisher) stopErr() error {
	p.ch.mu.Lock()
	defer p.ch.mu.Unlock()
	if p.stopped != "" {
		return &EvictedError{Reason: p.stopped}
	}
	return nil
}

// Close detaches the publisher. If it is still the channel's broadcaster, the
// channel enters its grace period: watchers stay, new watchers are refused,
// and the channel ends unless a broadcaster returns in time. Close is
// idempotent and must be called once ReadFrom has returned.
func (p *Publisher) Close() {
	p.once.Do(func() {
		c := p.ch
		c.mu.Lock()
		ended := false
		if c.publisher == p {
			c.publisher = nil
			c.publishLocked()
			if c.cfg.Grace <= 0 {
				c.endLocked()
				ended = true
			} else {
				c.graceTimer = c.cfg.Clock.AfterFunc(c.cfg.Grace, c.graceExpired)
			}
		}
		close(p.done)
		c.mu.Unlock()
		if ended {
			c.hub.removeChannel(c)
		}
	})
}

// reserve returns the free region of the ring the broadcaster may read
// into, waiting for space when the ring is full.
func (c *Channel) reserve(p *Publisher) ([]byte, error) {
	var evicted []*Subscription
	defer func() { notifyEvicted(evicted, ReasonStalled) }()

	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if p.stopped != "" {
			return nil, &EvictedError{Reason: p.stopped}
		}
		if c.free() < c.minFree() {
			c.advanceTailLocked()
		}
		if c.free() >= c.minFree() {
			break
		}
		if len(c.buf) < c.cfg.Buffer {
			c.grow(c.cfg.Buffer)
			continue
		}
		if c.keepJoin && c.format.IsMedia() {
			// The GOP kept for joining watchers must never hold the
			// broadcaster back: drop it until the next keyframe.
			c.keepJoin = false
			continue
		}
		if out := c.evictStalledLocked(); len(out) > 0 {
			evicted = append(evicted, out...)
			continue
		}
		// Wake when a watcher at the tail moves, or to check for stalls.
		wait := make(chan struct{})
		c.spaceWait = wait
		timer := c.cfg.Clock.AfterFunc(c.cfg.StallTimeout/4, func() {
			c.mu.Lock()
			if c.spaceWait == wait {
				c.signalSpaceLocked()
			}
			c.mu.Unlock()
		})
		c.mu.Unlock()
		// Interrupt the evicted watchers' writes now, not after the wait:
		// their bytes stay pinned until their writers are back (pin.go).
		notifyEvicted(evicted, ReasonStalled)
		evicted = evicted[:0]
		select {
		case <-wait:
		case <-p.quit:
		}
		timer.Stop()
		c.mu.Lock()
		if c.spaceWait == wait {
			c.spaceWait = nil
		}
	}
	return c.writable(maxRead), nil
}

// commit publishes n bytes the broadcaster read into the reserved region.
func (c *Channel) commit(p *Publisher, n int) error {
	c.mu.Lock()
	if p.stopped != "" {
		c.mu.Unlock()
		return &EvictedError{Reason: p.stopped}
	}
	c.ring.commit(n)
	ev := c.trackLocked(p)
	c.bytesIn.Add(int64(n))
	c.hub.bytesIn.Add(int64(n))
	c.holdOrPublishLocked()
	c.mu.Unlock()
	c.emit(ev)
	return nil
}
