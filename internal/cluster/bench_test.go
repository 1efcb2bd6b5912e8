package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchNode opens one node on its own in-process NATS server.
func benchNode(b *testing.B) *Node {
	b.Helper()
	ns := startNATS(b)
	cfg := testConfig(ns, "bench")
	cfg.TTL = 5 * time.Second
	n, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { _ = n.Close() })
	return n
}

func BenchmarkLookup(b *testing.B) {
	n := benchNode(b)
	ctx := context.Background()
	k := Key{"u", "c"}
	if _, err := n.Claim(ctx, k, ClaimInfo{Password: "pw"}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := n.Lookup(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClaim(b *testing.B) {
	n := benchNode(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if _, err := n.Claim(ctx, Key{"u", fmt.Sprint(i)}, ClaimInfo{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeartbeat1000 measures one heartbeat of a node holding 1000
// channels: the per-beat cost that sets how many channels a TTL allows.
func BenchmarkHeartbeat1000(b *testing.B) {
	n := benchNode(b)
	ctx := context.Background()
	for i := range 1000 {
		if _, err := n.Claim(ctx, Key{"u", fmt.Sprint(i)}, ClaimInfo{}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		n.beat()
	}
}

// BenchmarkTakeoverNotice measures how long an origin takes to hear that
// another node claimed its channel: from the start of the second Claim to
// the first node's OnTakenOver.
func BenchmarkTakeoverNotice(b *testing.B) {
	ns := startNATS(b)
	told := make(chan struct{}, 1)
	cfgA := testConfig(ns, "a")
	cfgA.TTL = 5 * time.Second // the heartbeat must not be what tells
	cfgA.OnTakenOver = func(Key, Entry) { told <- struct{}{} }
	cfgB := testConfig(ns, "b")
	cfgB.TTL = cfgA.TTL
	ctx := context.Background()
	a, err := Open(ctx, cfgA)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	bn, err := Open(ctx, cfgB)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bn.Close() })
	i := 0
	for b.Loop() {
		i++
		k := Key{"u", fmt.Sprint(i)}
		b.StopTimer()
		if _, err := a.Claim(ctx, k, ClaimInfo{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := bn.Claim(ctx, k, ClaimInfo{}); err != nil {
			b.Fatal(err)
		}
		<-told
	}
}
