// Package hubtest helps test code that uses package hub: a fake clock that
// moves only when the test says so.
package hubtest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// waitLimit bounds, in real time, how long WaitTimers waits before it fails
// the test: a hang fails fast instead of at the test binary's timeout.
const waitLimit = 20 * time.Second

// Clock is a hub.Clock whose time stands still until Advance moves it. Timer
// functions run on the goroutine that calls Advance, in the order of their
// deadlines. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer      // pending
	changed chan struct{} // closed and replaced when a timer is added
}

// NewClock returns a clock standing at an arbitrary fixed moment.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since returns the time passed since t on this clock.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// AfterFunc schedules f for when the clock has moved d on.
func (c *Clock) AfterFunc(d time.Duration, f func()) hub.Timer {
	t := &timer{clock: c, f: f}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scheduleLocked(t, d)
	return t
}

func (c *Clock) scheduleLocked(t *timer, d time.Duration) {
	t.at = c.now.Add(d)
	c.timers = append(c.timers, t)
	close(c.changed)
	c.changed = make(chan struct{})
}

// removeLocked unschedules t and reports whether it was pending.
func (c *Clock) removeLocked(t *timer) bool {
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	return true
}

// Advance moves the clock d on, then runs the functions of the timers that
// fell due, the earliest first. The clock already shows its new time when
// they run, so whatever they wake sees that time too; timers they set count
// from it.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*timer
	c.timers = slices.DeleteFunc(c.timers, func(t *timer) bool {
		if t.at.After(c.now) {
			return false
		}
		due = append(due, t)
		return true
	})
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *timer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f()
	}
}

// Timers returns how many timers are pending.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitTimers blocks until at least n timers are pending: for the hub, that
// something waits on the clock (a broadcaster on a full ring, a grace
// period, a delayed publish). It fails the test if that takes longer than
// a generous real-time limit.
func (c *Clock) WaitTimers(tb testing.TB, n int) {
	tb.Helper()
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	for {
		c.mu.Lock()
		pending, changed := len(c.timers), c.changed
		c.mu.Unlock()
		if pending >= n {
			return
		}
		select {
		case <-changed:
		case <-limit.C:
			tb.Fatalf("hubtest: %d timers pending after %v, want %d", pending, waitLimit, n)
		}
	}
}

// timer is one scheduled call.
type timer struct {
	clock *Clock
	at    time.Time
	f     func()
}

// Stop unschedules the call and reports whether it was pending.
func (t *timer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	return t.clock.removeLocked(t)
}

// Reset schedules the call d from now and reports whether it was pending.
func (t *timer) Reset(d time.Duration) bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.clock.removeLocked(t)
	t.clock.scheduleLocked(t, d)
	return was
}
