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
