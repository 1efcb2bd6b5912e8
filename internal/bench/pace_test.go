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
