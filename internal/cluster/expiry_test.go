package cluster

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// within is the bound of every "eventually" about expiry: generous, as the
// machine is shared; the TTL is one second.
const within = 15 * time.Second

func nodeNames(t *testing.T, n *Node) []string {
	t.Helper()
	nodes, err := n.Nodes(ctxT(t))
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	var names []string
	for _, ni := range nodes {
		names = append(names, ni.Name)
	}
	slices.Sort(names)
	return names
}

// TestCloseWithoutRelease: a node that dies leaves entries that NATS
// removes within the TTL, and the pullers are told.
func TestCloseWithoutRelease(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	var ev events
	cfgB := testConfig(ns, "b")
	ev.hook(&cfgB)
	b := openNode(t, cfgB)
	ctx := ctxT(t)
	k := Key{"u", "c"}
	c, err := a.Claim(ctx, k, ClaimInfo{})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if err := b.RegisterPull(ctx, k, "a"); err != nil {
		t.Fatalf("RegisterPull: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	eventually(t, within, "a's entry expired", func() bool {
		_, err := b.Lookup(ctx, k)
		return errors.Is(err, ErrNotFound)
	})
	eventually(t, within, "a's node record expired", func() bool {
		return slices.Equal(nodeNames(t, b), []string{"b"})
	})
	eventually(t, within, "b told the channel is gone", func() bool {
		ups := ev.snapshot().upstream
		return len(ups) == 1 && !ups[0].live && ups[0].key == k
	})
	// The deletion's revision follows the claim's: a puller can tell it
	// from a stale deletion.
	if up := ev.snapshot().upstream[0]; up.e.Key != k || up.e.Revision <= c.Revision || !up.e.Expired {
		t.Errorf("gone event carries %+v, want the key, expired, and a revision above the claim's %d", up.e, c.Revision)
	}
	if _, err := b.LookupNode(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookupNode(a) after expiry = %v, want ErrNotFound", err)
	}
	// b's own pull record lives on while b heartbeats it.
	pulls, err := b.Pulls(ctx, k)
	if err != nil || len(pulls) != 1 || pulls[0] != (Pull{Node: "b", Upstream: "a"}) {
		t.Fatalf("Pulls = %+v, %v", pulls, err)
	}
}

// TestPartition: a node cut from NATS sees its calls fail with
// ErrDirectoryUnreachable, its entries expire for the others, and when it
// is back it claims its channel again, unless another node took it.
func TestPartition(t *testing.T) {
	ns := startNATS(t)
	a, proxy := openBehindProxy(t, ns, "a")
	b := openNode(t, testConfig(ns, "b"))
	ctx := ctxT(t)
	k1, k2 := Key{"u", "kept"}, Key{"u", "lost"}
	c1, err := a.Claim(ctx, k1, ClaimInfo{})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	c2, err := a.Claim(ctx, k2, ClaimInfo{})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}

	proxy.Cut()
	eventually(t, within, "a's calls fail as unreachable", func() bool {
		_, err := a.Lookup(ctx, k1)
		return errors.Is(err, ErrDirectoryUnreachable) && errors.Is(a.Healthy(), ErrDirectoryUnreachable)
	})
	for _, call := range []func() error{
		func() error { _, err := a.Claim(ctx, Key{"u", "x"}, ClaimInfo{}); return err },
		func() error { _, err := a.Channels(ctx); return err },
		func() error { _, err := a.Nodes(ctx); return err },
		func() error { _, _, err := a.PickUpstream(ctx, k1); return err },
		func() error { _, err := a.RequestPullToken(ctx, "b", k1); return err },
		func() error { return a.Kick(ctx, k1, "") },
		func() error { return a.StoreToken(ctx, "u", "tok", time.Minute) },
		func() error { return a.RedeemToken(ctx, "u", "tok") },
	} {
		if err := call(); !errors.Is(err, ErrDirectoryUnreachable) {
			t.Errorf("call while cut = %v, want ErrDirectoryUnreachable", err)
		}
	}
	eventually(t, within, "a's entries expired for b", func() bool {
		_, e1 := b.Lookup(ctx, k1)
		_, e2 := b.Lookup(ctx, k2)
		return errors.Is(e1, ErrNotFound) && errors.Is(e2, ErrNotFound)
	})
	// While a is away, b takes k2 over.
	if _, err := b.Claim(ctx, k2, ClaimInfo{}); err != nil {
		t.Fatalf("b.Claim: %v", err)
	}

	proxy.Restore()
	eventually(t, within, "a healthy again and k1 re-claimed", func() bool {
		e, err := b.Lookup(ctx, k1)
		return a.Healthy() == nil && err == nil && e.Origin == "a"
	})
	eventually(t, within, "a lost k2 to b", func() bool { return !a.Holds(c2) })
	if !a.Holds(c1) {
		t.Fatal("a lost k1, which nobody else claimed")
	}
	if e, err := b.Lookup(ctx, k2); err != nil || e.Origin != "b" {
		t.Fatalf("k2 = %+v, %v; want b's", e, err)
	}
	if a.Metrics().Reclaims.Load() == 0 || a.Metrics().Disconnects.Load() == 0 || a.Metrics().Reconnects.Load() == 0 {
		t.Fatalf("metrics: reclaims %d, disconnects %d, reconnects %d", a.Metrics().Reclaims.Load(),
			a.Metrics().Disconnects.Load(), a.Metrics().Reconnects.Load())
	}
}

// TestNATSRestart: with the NATS server down every call fails with
// ErrDirectoryUnreachable; a new server on the same port and store brings
// the node back, entries and takeover notifications included.
func TestNATSRestart(t *testing.T) {
	ns := startNATS(t)
	var evA events
	cfgA := testConfig(ns, "a")
	evA.hook(&cfgA)
	a := openNode(t, cfgA)
	b := openNode(t, testConfig(ns, "b"))
	var evC events
	cfgC := testConfig(ns, "c")
	evC.hook(&cfgC)
	c := openNode(t, cfgC)
	ctx := ctxT(t)
	k := Key{"u", "c"}
	if _, err := a.Claim(ctx, k, ClaimInfo{}); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if err := c.RegisterPull(ctx, k, "a"); err != nil {
		t.Fatalf("RegisterPull: %v", err)
	}

	ns.Stop()
	eventually(t, within, "calls fail as unreachable", func() bool {
		_, err := a.Lookup(ctx, k)
		return errors.Is(err, ErrDirectoryUnreachable)
	})
	if err := a.Healthy(); !errors.Is(err, ErrDirectoryUnreachable) {
		t.Fatalf("Healthy while down = %v", err)
	}

	ns.Start()
	eventually(t, within, "a and b healthy, entry back", func() bool {
		e, err := b.Lookup(ctx, k)
		return a.Healthy() == nil && b.Healthy() == nil && err == nil && e.Origin == "a"
	})
	// The directory watchers survived the restart: a hears of a takeover,
	// and c, which hears of origins only through its watcher, of b.
	if _, err := b.Claim(ctx, k, ClaimInfo{}); err != nil {
		t.Fatalf("b.Claim: %v", err)
	}
	eventually(t, within, "a told of the takeover", func() bool {
		return len(evA.snapshot().takenOver) == 1
	})
	eventually(t, within, "c told of the new origin", func() bool {
		ups := evC.snapshot().upstream
		return len(ups) > 0 && ups[len(ups)-1].live && ups[len(ups)-1].e.Origin == "b"
	})
}

// TestClaimDuringOutage: a claim made while NATS is unreachable fails fast
// but is held, and is written as a new claim (taking over) once NATS is
// back.
func TestClaimDuringOutage(t *testing.T) {
	ns := startNATS(t)
	a, proxy := openBehindProxy(t, ns, "a")
	var evB events
	cfgB := testConfig(ns, "b")
	evB.hook(&cfgB)
	b := openNode(t, cfgB)
	ctx := ctxT(t)
	k := Key{"u", "c"}
	if _, err := b.Claim(ctx, k, ClaimInfo{}); err != nil {
		t.Fatalf("b.Claim: %v", err)
	}

	proxy.Cut()
	eventually(t, within, "a cut off", func() bool { return a.Healthy() != nil })
	c, err := a.Claim(ctx, k, ClaimInfo{Password: "pw"})
	if !errors.Is(err, ErrDirectoryUnreachable) || !a.Holds(c) {
		t.Fatalf("Claim while cut = %v (holds %v); want ErrDirectoryUnreachable and a held claim", err, a.Holds(c))
	}
	proxy.Restore()
	eventually(t, within, "a's claim written over b's", func() bool {
		e, err := b.Lookup(ctx, k)
		return err == nil && e.Origin == "a"
	})
	eventually(t, within, "b told of the takeover", func() bool { return len(evB.snapshot().takenOver) == 1 })
	if !a.Holds(c) {
		t.Fatal("a lost its claim")
	}
}

// TestLeave: a node that leaves takes its records with it at once.
func TestLeave(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	o := openNode(t, testConfig(ns, "o"))
	var evB events
	cfgB := testConfig(ns, "b")
	evB.hook(&cfgB)
	b := openNode(t, cfgB)
	ctx := ctxT(t)
	k, k2 := Key{"u", "c"}, Key{"u", "from-o"}
	if _, err := a.Claim(ctx, k, ClaimInfo{}); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if _, err := o.Claim(ctx, k2, ClaimInfo{}); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if err := b.RegisterPull(ctx, k, "a"); err != nil {
		t.Fatalf("RegisterPull: %v", err)
	}
	if err := a.RegisterPull(ctx, k2, "o"); err != nil {
		t.Fatalf("RegisterPull: %v", err)
	}
	if err := a.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if _, err := b.Lookup(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after Leave = %v, want ErrNotFound", err)
	}
	if names := nodeNames(t, b); !slices.Equal(names, []string{"b", "o"}) {
		t.Fatalf("Nodes after Leave = %v", names)
	}
	if pulls, err := b.Pulls(ctx, k2); err != nil || len(pulls) != 0 {
		t.Fatalf("a's pull after Leave = %+v, %v", pulls, err)
	}
	eventually(t, within, "b told the channel is gone", func() bool {
		ups := evB.snapshot().upstream
		return len(ups) == 1 && !ups[0].live
	})
	if up := evB.snapshot().upstream[0]; up.e.Expired {
		t.Errorf("gone event of a left channel says expired: %+v", up.e)
	}
}
