package bench

import (
	"testing"
	"time"
)

func TestPacerUnpacedNeverWaits(t *testing.T) {
	p := newPacer(0)
	defer p.stop()
	stop := make(chan struct{})
	close(stop) // a wait would return false
	for range 1000 {
		if !p.wait(1<<20, stop) {
			t.Fatal("an unpaced pacer waited")
		}
	}
}

func TestPacerStops(t *testing.T) {
	p := newPacer(1) // one byte per second: the second wait is far off
	defer p.stop()
	stop := make(chan struct{})
	p.wait(1000, stop)
	time.AfterFunc(10*time.Millisecond, func() { close(stop) })
	if p.wait(1000, stop) {
		t.Fatal("wait returned true after stop closed")
	}
}

// TestPacerReady checks that a writer may join records that are due now
// and no others.
func TestPacerReady(t *testing.T) {
	stop := make(chan struct{})
	unpaced := newPacer(0)
	defer unpaced.stop()
	if !unpaced.ready(1 << 20) {
		t.Error("an unpaced pacer holds a record back")
	}
	slow := newPacer(1) // one byte per second: nothing more is due for long
	defer slow.stop()
	slow.wait(1000, stop)
	if slow.ready(1000) || slow.ready(1) {
		t.Error("a pacer lets a record go 1000 s early")
	}
	fast := newPacer(1 << 40) // a terabyte per second: all is due at once
	defer fast.stop()
	fast.wait(1000, stop)
	for i := range 4 {
		if !fast.ready(1000) {
			t.Errorf("record %d held back at 1 TB/s", i+2)
		}
	}
}
