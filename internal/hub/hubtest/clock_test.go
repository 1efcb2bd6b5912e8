package hubtest

import (
	"slices"
	"testing"
	"time"
)

func TestClockAdvanceRunsDueTimersInOrder(t *testing.T) {
	c := NewClock()
	start := c.Now()
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+c.Since(start).String()) }
	}
	c.AfterFunc(3*time.Second, at("c"))
	c.AfterFunc(time.Second, at("a"))
	c.AfterFunc(2*time.Second, func() {
		at("b")()
		c.AfterFunc(500*time.Millisecond, at("nested")) // counts from the new time: due at 3.5s
	})
	c.AfterFunc(4*time.Second, at("d"))
	c.Advance(1500 * time.Millisecond)
	c.Advance(1500 * time.Millisecond)
	want := []string{"a@1.5s", "b@3s", "c@3s"}
	if !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	if c.Since(start) != 3*time.Second || c.Timers() != 2 {
		t.Fatalf("clock at %v with %d timers, want 3s and 2", c.Since(start), c.Timers())
	}
	c.Advance(time.Second)
	if want = append(want, "nested@4s", "d@4s"); !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}

func TestClockStopAndReset(t *testing.T) {
	c := NewClock()
	ran := 0
	tm := c.AfterFunc(time.Second, func() { ran++ })
	if !tm.Stop() || tm.Stop() {
		t.Fatal("Stop: want true for a pending timer, then false")
	}
	c.Advance(time.Hour)
	if ran != 0 {
		t.Fatal("a stopped timer ran")
	}
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a stopped timer reported it pending")
	}
	c.Advance(999 * time.Millisecond)
	if !tm.Reset(time.Second) { // from now: due 1s later, not 1ms
		t.Fatal("Reset of a pending timer reported it stopped")
	}
	c.Advance(999 * time.Millisecond)
	if ran != 0 {
		t.Fatal("Reset did not move the deadline")
	}
	c.Advance(time.Millisecond)
	if ran != 1 || c.Timers() != 0 {
		t.Fatalf("ran %d times, %d timers pending; want 1 and 0", ran, c.Timers())
	}
}

func TestClockWaitTimers(t *testing.T) {
	c := NewClock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.AfterFunc(time.Second, func() {})
		c.AfterFunc(time.Second, func() {})
	}()
	c.WaitTimers(t, 2)
	<-done
	if n := c.Timers(); n != 2 {
		t.Fatalf("%d timers, want 2", n)
	}
}
