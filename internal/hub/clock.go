package hub

import "time"

// Clock is the hub's time source. The hub reads it for lag and stall
// decisions and sets timers on it for grace periods, delayed publishing and
// a broadcaster's checks while it waits for space. Production uses real
// time; tests pass a fake (package hubtest) and move time on themselves, so
// they need no sleeps.
type Clock interface {
	Now() time.Time
	// Since is Now().Sub(t), which real time computes more cheaply.
	Since(t time.Time) time.Duration
	// AfterFunc calls f, on a goroutine of the clock's choosing, once d has
	// passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a call a Clock has scheduled. Stop and Reset report whether the
// call was still pending, as time.Timer's do.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// realClock is time itself.
type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) Since(t time.Time) time.Duration           { return time.Since(t) }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
