package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestKickReachesEveryNode(t *testing.T) {
	ns := startNATS(t)
	evs := make([]*events, 3)
	var nodes []*Node
	for i, name := range []string{"a", "b", "c"} {
		evs[i] = &events{}
		cfg := testConfig(ns, name)
		evs[i].hook(&cfg)
		nodes = append(nodes, openNode(t, cfg))
	}
	ctx := ctxT(t)
	if err := nodes[1].Kick(ctx, Key{"fier", "cam"}, "w42"); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	if err := nodes[2].Kick(ctx, Key{"fier", "cam"}, ""); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	for i, ev := range evs {
		eventually(t, within, nodes[i].Name()+" got both kicks", func() bool {
			return slices.Equal(ev.snapshot().kicks, []string{"fier/cam#w42", "fier/cam#"})
		})
	}
	if err := nodes[0].Kick(ctx, Key{"", "cam"}, ""); err == nil {
		t.Fatal("Kick with an empty user accepted")
	}
	if err := nodes[0].Kick(ctx, Key{"u", "c"}, strings.Repeat("x", maxKickID+1)); err == nil {
		t.Fatal("Kick with an over-long id accepted")
	}
	// A foreign kick message is ignored.
	if err := nodes[0].nc.Publish(nodes[0].subject("kick", ""), []byte(`{"user":"../x"}`)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := nodes[0].Kick(ctx, Key{"u", "last"}, ""); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	eventually(t, within, "last kick seen", func() bool { return len(evs[0].snapshot().kicks) == 3 })
	if got := evs[0].snapshot().kicks[2]; got != "u/last#" {
		t.Fatalf("third kick = %q; the malformed one must be dropped", got)
	}
}

func TestNodeNameInUse(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	_, err := Open(ctxT(t), testConfig(ns, "a"))
	if !errors.Is(err, ErrNodeNameInUse) {
		t.Fatalf("second Open as a = %v, want ErrNodeNameInUse", err)
	}
	// A restart (the old process gone, its record still within the TTL)
	// takes the name over at once.
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	b := openNode(t, testConfig(ns, "a"))
	if b.Session() == a.Session() {
		t.Fatal("restarted node kept the old session")
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if _, err := a.Lookup(context.Background(), Key{"u", "c"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Lookup after Close = %v, want ErrClosed", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	ns := startNATS(t)
	cfg := testConfig(ns, "a")
	ns.Stop()
	if _, err := Open(ctxT(t), cfg); err == nil {
		t.Fatal("Open without a NATS server succeeded")
	}
	cfg.Advertise = ""
	if _, err := Open(ctxT(t), cfg); !errors.Is(err, ErrAdvertiseRequired) {
		t.Fatalf("Open without advertise = %v, want ErrAdvertiseRequired", err)
	}
}

func TestReportLoad(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	a.ReportLoad(1234, 5)
	eventually(t, within, "load published", func() bool {
		nodes, err := a.Nodes(ctxT(t))
		return err == nil && len(nodes) == 1 && nodes[0].Watchers == 1234 && nodes[0].Channels == 5 &&
			nodes[0].Addr == a.Addr() && nodes[0].Session == a.Session()
	})
}

// TestBucketTTLWins: a node configured with another TTL follows the
// bucket's, so that nodes never disagree about expiry.
func TestBucketTTLWins(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	cfg := testConfig(ns, "b")
	cfg.TTL = 3 * testTTL
	b := openNode(t, cfg)
	if a.TTL() != testTTL || b.TTL() != testTTL {
		t.Fatalf("TTLs: a %v, b %v; want both %v (the bucket's)", a.TTL(), b.TTL(), testTTL)
	}
}

// TestPing: a live node answers with its session, a node cut off from
// NATS (through a proxy that stops forwarding) or gone does not, and a
// node cut off itself cannot ask.
func TestPing(t *testing.T) {
	ns := startNATS(t)
	a, proxy := openBehindProxy(t, ns, "a")
	b := openNode(t, testConfig(ns, "b"))
	ctx := ctxT(t)
	if s, err := b.Ping(ctx, "a"); err != nil || s != a.Session() {
		t.Fatalf("Ping(a) = %q, %v; want a's session %q", s, err, a.Session())
	}
	if _, err := b.Ping(ctx, "nobody"); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Ping(nobody) = %v, want ErrNoAnswer", err)
	}
	if _, err := b.Ping(ctx, "a/b"); err == nil {
		t.Fatal("Ping of an invalid name accepted")
	}
	proxy.Blackhole()
	if _, err := b.Ping(ctx, "a"); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Ping(a) while a is silent = %v, want ErrNoAnswer", err)
	}
	proxy.Cut()
	eventually(t, within, "a to notice it is cut off", func() bool {
		_, err := a.Ping(ctx, "b")
		return errors.Is(err, ErrDirectoryUnreachable)
	})
}
