package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestTakeover(t *testing.T) {
	ns := startNATS(t)
	var evA, evC events
	cfgA := testConfig(ns, "a")
	evA.hook(&cfgA)
	a := openNode(t, cfgA)
	b := openNode(t, testConfig(ns, "b"))
	cfgC := testConfig(ns, "c")
	evC.hook(&cfgC)
	c := openNode(t, cfgC)
	ctx := ctxT(t)
	k := Key{"fier", "cam"}

	ca, err := a.Claim(ctx, k, ClaimInfo{Password: "old"})
	if err != nil {
		t.Fatalf("a.Claim: %v", err)
	}
	// c pulls the channel from a, so it must hear of the new origin.
	if err := c.RegisterPull(ctx, k, "a"); err != nil {
		t.Fatalf("RegisterPull: %v", err)
	}
	cb, err := b.Claim(ctx, k, ClaimInfo{Password: "new"})
	if err != nil {
		t.Fatalf("b.Claim: %v", err)
	}
	if cb.Revision <= ca.Revision {
		t.Fatalf("takeover revision %d not above %d", cb.Revision, ca.Revision)
	}

	eventually(t, 5*time.Second, "a told it was taken over", func() bool {
		return len(evA.snapshot().takenOver) == 1
	})
	if by := evA.snapshot().takenOver[0]; by.Origin != "b" || by.Revision != cb.Revision {
		t.Fatalf("OnTakenOver(by %+v), want b at %d", by, cb.Revision)
	}
	if a.Holds(ca) {
		t.Fatal("a still holds its claim after the takeover")
	}
	eventually(t, 5*time.Second, "c told of the new origin", func() bool {
		ups := evC.snapshot().upstream
		return len(ups) == 1 && ups[0].live && ups[0].e.Origin == "b" && ups[0].key == k
	})

	// A stale write by compare-and-set on the old revision fails.
	stale := Entry{Key: k, Origin: "a", OriginAddr: a.Addr(), Session: a.Session()}
	_, err = a.kv.Update(ctx, channelKey(k), encodeEntry(stale), ca.Revision)
	if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Fatalf("stale update = %v, want a revision mismatch", err)
	}
	// Releasing the lost claim leaves b's entry alone.
	if err := a.Release(ctx, ca); err != nil {
		t.Fatalf("Release of a lost claim = %v, want nil", err)
	}
	// Several heartbeats later b is still the origin, with b's password.
	eventually(t, 10*time.Second, "b's entry heartbeated", func() bool {
		e, err := c.Lookup(ctx, k)
		return err == nil && e.Revision > cb.Revision+3
	})
	e, err := c.Lookup(ctx, k)
	if err != nil || e.Origin != "b" || !c.CheckPassword(e, "new") || c.CheckPassword(e, "old") {
		t.Fatalf("after takeover Lookup = %+v, %v", e, err)
	}
	if got := a.Metrics().TakenOver.Load(); got != 1 {
		t.Fatalf("a counted %d takeovers, want 1", got)
	}
	if len(evA.snapshot().takenOver) != 1 {
		t.Fatalf("a told %d times, want once", len(evA.snapshot().takenOver))
	}
}

// TestReleaseByOldOriginAfterTakeover checks Release when the claim is
// still held locally but another node already wrote the entry (the
// notification has not arrived yet): it must not delete the new entry.
func TestReleaseNotOwner(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	b := openNode(t, testConfig(ns, "b"))
	ctx := ctxT(t)
	k := Key{"u", "c"}
	ca, err := a.Claim(ctx, k, ClaimInfo{})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	// b overwrites behind a's back, as a takeover would.
	e := Entry{Key: k, Origin: "b", OriginAddr: b.Addr(), Session: b.Session()}
	if _, err := b.kv.Put(ctx, channelKey(k), encodeEntry(e)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	err = a.Release(ctx, ca)
	if err != nil && !errors.Is(err, ErrNotOwner) {
		t.Fatalf("Release = %v, want nil or ErrNotOwner", err)
	}
	got, err := a.Lookup(ctx, k)
	if err != nil || got.Origin != "b" {
		t.Fatalf("after Release, Lookup = %+v, %v; want b's entry", got, err)
	}
}

func TestConcurrentClaims(t *testing.T) {
	ns := startNATS(t)
	nodes := []*Node{openNode(t, testConfig(ns, "a")), openNode(t, testConfig(ns, "b")), openNode(t, testConfig(ns, "c"))}
	ctx := ctxT(t)
	k := Key{"u", "race"}
	type result struct {
		n   *Node
		c   Claim
		err error
	}
	results := make(chan result, len(nodes))
	for _, n := range nodes {
		go func() {
			c, err := n.Claim(ctx, k, ClaimInfo{})
			results <- result{n, c, err}
		}()
	}
	var winner result
	for range nodes {
		r := <-results
		if r.err != nil {
			t.Fatalf("%s.Claim: %v", r.n.Name(), r.err)
		}
		if r.c.Revision > winner.c.Revision {
			winner = r
		}
	}
	// The highest revision wins; every other node learns it lost.
	eventually(t, 10*time.Second, "exactly the last claimer holds the channel", func() bool {
		held := 0
		for _, n := range nodes {
			n.mu.Lock()
			if _, ok := n.claims[k]; ok {
				held++
			}
			n.mu.Unlock()
		}
		return held == 1 && winner.n.Holds(winner.c)
	})
	e, err := nodes[0].Lookup(ctx, k)
	if err != nil || e.Origin != winner.n.Name() {
		t.Fatalf("Lookup = %+v, %v; want origin %s", e, err, winner.n.Name())
	}
}

// TestClocksDoNotOrderClaims: a claim whose start time, by a skewed
// clock, lies far in the future still loses to a later claim.
func TestClocksDoNotOrderClaims(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	b := openNode(t, testConfig(ns, "b"))
	ctx := ctxT(t)
	k := Key{"u", "c"}
	if _, err := a.Claim(ctx, k, ClaimInfo{Start: time.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatalf("a.Claim: %v", err)
	}
	cb, err := b.Claim(ctx, k, ClaimInfo{Start: time.Unix(0, 0)})
	if err != nil {
		t.Fatalf("b.Claim: %v", err)
	}
	eventually(t, within, "b holds the channel and a does not", func() bool {
		e, err := a.Lookup(ctx, k)
		a.mu.Lock()
		_, aHolds := a.claims[k]
		a.mu.Unlock()
		return err == nil && e.Origin == "b" && !aHolds && b.Holds(cb)
	})
}

// TestNewBroadcastNotice: a puller hears of a new broadcast on the same
// origin (a new claim there, same session), but not of heartbeats.
func TestNewBroadcastNotice(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	var ev events
	cfgC := testConfig(ns, "c")
	ev.hook(&cfgC)
	c := openNode(t, cfgC)
	ctx := ctxT(t)
	k := Key{"fier", "cam"}
	start := time.Now()
	if _, err := a.Claim(ctx, k, ClaimInfo{Start: start}); err != nil {
		t.Fatal(err)
	}
	if err := c.RegisterPull(ctx, k, "a"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "heartbeats", func() bool {
		e, err := c.Lookup(ctx, k)
		return err == nil && e.Revision > 6
	})
	if ups := ev.snapshot().upstream; len(ups) != 0 {
		t.Fatalf("heartbeats reported as changes: %+v", ups)
	}
	if _, err := a.Claim(ctx, k, ClaimInfo{Start: start.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "c told of the new broadcast", func() bool {
		ups := ev.snapshot().upstream
		return len(ups) == 1 && ups[0].live && ups[0].e.Session == a.Session()
	})
}
