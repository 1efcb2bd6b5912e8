package bench

import "time"

const (
	// paceMinSleep is the smallest wait a pacer sleeps for; below it, it
	// sends at once and lets the debt build, which costs a burst of at
	// most this long instead of a timer per record.
	paceMinSleep = time.Millisecond
	// paceMaxDebt is how far a pacer may fall behind before it forgets
	// the debt rather than catching up in a burst. Below it, it catches up,
	// as a live source does whose bytes queued while its link was blocked;
	// this also keeps the rate exact on a loaded machine, where timers
	// fire milliseconds late.
	paceMaxDebt = time.Second
)

// pacer is a token bucket for one goroutine: wait(n) returns once n more
// bytes fit under the rate. A zero rate never waits.
type pacer struct {
	rate     float64 // bytes per second
	base     time.Time
	credited int64 // bytes granted since base
	timer    *time.Timer
}

func newPacer(rate int64) *pacer {
	p := &pacer{rate: float64(rate)}
	if rate > 0 {
		p.timer = time.NewTimer(time.Hour)
		p.timer.Stop()
	}
	return p
}

// wait blocks until n more bytes may go, or returns false when stop closes
// first.
func (p *pacer) wait(n int, stop <-chan struct{}) bool {
	if p.rate <= 0 {
		return true
	}
	now := time.Now()
	if p.base.IsZero() {
		p.base = now
	}
	due := p.base.Add(time.Duration(float64(p.credited) / p.rate * float64(time.Second)))
	p.credited += int64(n)
	if now.Sub(due) > paceMaxDebt {
		p.base, p.credited = now, int64(n)
		return true
	}
	d := due.Sub(now)
	if d < paceMinSleep {
		return true
	}
	p.timer.Reset(d)
	select {
	case <-p.timer.C:
		return true
	case <-stop:
		p.timer.Stop()
		return false
	}
}

// ready takes n more bytes and returns true if they may go now, without
// waiting; otherwise it takes nothing. A writer that has some records to
// send asks it for more to join them in one write.
func (p *pacer) ready(n int) bool {
	if p.rate <= 0 {
		return true
	}
	due := p.base.Add(time.Duration(float64(p.credited) / p.rate * float64(time.Second)))
	if time.Until(due) >= paceMinSleep {
		return false
	}
	p.credited += int64(n)
	return true
}

// stop releases the pacer's timer.
func (p *pacer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
