package cluster

import (
	"errors"
	"testing"
	"time"
)

func TestClaimLookupRelease(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	b := openNode(t, testConfig(ns, "b"))
	ctx := ctxT(t)
	k := Key{"fier", "cam"}

	if _, err := b.Lookup(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup before claim = %v, want ErrNotFound", err)
	}
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c, err := a.Claim(ctx, k, ClaimInfo{Start: start, Format: "mpegts", Password: "456"})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	e, err := b.Lookup(ctx, k)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if e.Key != k || e.Origin != "a" || e.OriginAddr != a.Addr() || e.Session != a.Session() ||
		!e.Start.Equal(start) || e.Format != "mpegts" || e.Revision < c.Revision {
		t.Fatalf("Lookup = %+v, claim %+v", e, c)
	}
	if !e.HasPassword() || !b.CheckPassword(e, "456") || b.CheckPassword(e, "457") || b.CheckPassword(e, "") {
		t.Fatalf("password check wrong for entry %+v", e)
	}

	chans, err := b.Channels(ctx)
	if err != nil || len(chans) != 1 || chans[0].Key != k {
		t.Fatalf("Channels = %+v, %v; want one entry for %s", chans, err, k)
	}
	nodes, err := b.Nodes(ctx)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("Nodes = %+v, %v; want a and b", nodes, err)
	}
	if ni, err := b.LookupNode(ctx, "a"); err != nil || ni.Name != "a" || ni.Session != a.Session() || ni.Addr != a.Addr() {
		t.Fatalf("LookupNode(a) = %+v, %v", ni, err)
	}
	for _, name := range []string{"c", "", "a/b"} {
		if _, err := b.LookupNode(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Fatalf("LookupNode(%q) = %v, want ErrNotFound", name, err)
		}
	}

	if err := a.Release(ctx, c); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := b.Lookup(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after release = %v, want ErrNotFound", err)
	}
	if a.Holds(c) {
		t.Fatal("Holds after Release")
	}
	if err := a.Release(ctx, c); err != nil {
		t.Fatalf("second Release = %v, want nil", err)
	}
}

// TestClaimWithoutPassword checks that an open channel lets anyone in.
func TestClaimWithoutPassword(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	ctx := ctxT(t)
	k := Key{"u", "open"}
	if _, err := a.Claim(ctx, k, ClaimInfo{}); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	e, err := a.Lookup(ctx, k)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if e.HasPassword() || !a.CheckPassword(e, "") || !a.CheckPassword(e, "anything") {
		t.Fatalf("open channel refuses watchers: %+v", e)
	}
}

// TestHeartbeatKeepsEntries checks that live entries outlast many TTLs.
func TestHeartbeatKeepsEntries(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	ctx := ctxT(t)
	k := Key{"u", "c"}
	c, err := a.Claim(ctx, k, ClaimInfo{})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	// Each beat writes two records (node and entry), each TTL/3: twenty
	// revisions later the entry has lived through more than three TTLs.
	eventually(t, 30*time.Second, "entry heartbeated past 3 TTLs", func() bool {
		e, err := a.Lookup(ctx, k)
		return err == nil && e.Revision > c.Revision+20
	})
	if !a.Holds(c) {
		t.Fatal("claim lost while heartbeating alone")
	}
	if a.Healthy() != nil {
		t.Fatalf("Healthy = %v", a.Healthy())
	}
}

func TestLocalReclaim(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	ctx := ctxT(t)
	k := Key{"u", "c"}
	c1, err := a.Claim(ctx, k, ClaimInfo{Format: "h264"})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	c2, err := a.Claim(ctx, k, ClaimInfo{Format: "mpegts"})
	if err != nil {
		t.Fatalf("second Claim: %v", err)
	}
	if a.Holds(c1) || !a.Holds(c2) || c2.Revision <= c1.Revision {
		t.Fatalf("after re-claim: holds c1 %v, c2 %v; revisions %d, %d", a.Holds(c1), a.Holds(c2), c1.Revision, c2.Revision)
	}
	// Releasing the replaced claim must not remove the live one.
	if err := a.Release(ctx, c1); err != nil {
		t.Fatalf("Release(c1): %v", err)
	}
	if e, err := a.Lookup(ctx, k); err != nil || e.Format != "mpegts" {
		t.Fatalf("Lookup after releasing replaced claim = %+v, %v", e, err)
	}
}

func TestSetFormat(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	ctx := ctxT(t)
	k := Key{"u", "c"}
	c, err := a.Claim(ctx, k, ClaimInfo{})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	a.SetFormat(c, "h265")
	eventually(t, 10*time.Second, "format published by heartbeat", func() bool {
		e, err := a.Lookup(ctx, k)
		return err == nil && e.Format == "h265"
	})
}
