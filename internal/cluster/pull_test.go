package cluster

import (
	"errors"
	"fmt"
	"testing"
)

func TestPickUpstreamTable(t *testing.T) {
	addrs := map[string]string{"o": "o:1", "a": "a:1", "b": "b:1", "c": "c:1", "d": "d:1", "self": "s:1"}
	cases := []struct {
		name  string
		pulls []Pull
		max   int
		want  string
	}{
		{"origin has room", nil, 2, "o"},
		{"origin has room left", []Pull{{Node: "a", Upstream: "o"}}, 2, "o"},
		{"origin full: first relay", []Pull{{Node: "a", Upstream: "o"}, {Node: "b", Upstream: "o"}}, 2, "a"},
		{"least loaded relay at the same depth", []Pull{{Node: "a", Upstream: "o"}, {Node: "b", Upstream: "o"}, {Node: "c", Upstream: "a"}}, 2, "b"},
		{"shallowest relay with room", []Pull{{Node: "a", Upstream: "o"}, {Node: "b", Upstream: "o"}, {Node: "c", Upstream: "a"}, {Node: "d", Upstream: "a"}, {Node: "x", Upstream: "b"}, {Node: "y", Upstream: "b"}}, 2, "c"},
		{"never below self", []Pull{{Node: "b", Upstream: "self"}, {Node: "x", Upstream: "o"}, {Node: "a", Upstream: "o"}}, 2, "a"},
		{"never self", []Pull{{Node: "self", Upstream: "o"}, {Node: "a", Upstream: "o"}, {Node: "b", Upstream: "o"}}, 2, "a"},
		{"own record is no place taken", []Pull{{Node: "self", Upstream: "o"}, {Node: "a", Upstream: "o"}}, 2, "o"},
		{"nothing below self after a re-pick", []Pull{{Node: "self", Upstream: "o"}, {Node: "a", Upstream: "o"}, {Node: "b", Upstream: "o"}, {Node: "c", Upstream: "self"}}, 2, "a"},
		{"relay without address skipped", []Pull{{Node: "ghost", Upstream: "o"}, {Node: "b", Upstream: "o"}}, 2, "b"},
		{"broken chain skipped", []Pull{{Node: "a", Upstream: "o"}, {Node: "b", Upstream: "o"}, {Node: "c", Upstream: "gone"}}, 2, "a"},
		{"loop skipped", []Pull{{Node: "a", Upstream: "o"}, {Node: "b", Upstream: "o"}, {Node: "c", Upstream: "d"}, {Node: "d", Upstream: "c"}}, 2, "a"},
		{"everyone full: origin", []Pull{{Node: "a", Upstream: "o"}, {Node: "b", Upstream: "a"}}, 1, "o"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addrs := addrs
			if c.name == "everyone full: origin" {
				addrs = map[string]string{"o": "o:1", "a": "a:1"}
			}
			if got := pickUpstream("o", "self", c.pulls, addrs, c.max); got != c.want {
				t.Fatalf("pickUpstream = %q, want %q", got, c.want)
			}
		})
	}
}

// TestPullTree lets 9 nodes pull one channel from a tenth, one after the
// other, with MaxPulls 2, and checks the shape of the tree they build.
func TestPullTree(t *testing.T) {
	ns := startNATS(t)
	const nodes, maxPulls = 10, 2
	var all []*Node
	for i := range nodes {
		cfg := testConfig(ns, fmt.Sprintf("n%d", i))
		cfg.Advertise = fmt.Sprintf("127.0.0.1:%d", 10000+i)
		cfg.MaxPulls = maxPulls
		all = append(all, openNode(t, cfg))
	}
	ctx := ctxT(t)
	k := Key{"fier", "cam"}
	origin := all[0]
	if _, err := origin.Claim(ctx, k, ClaimInfo{}); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if _, _, err := origin.PickUpstream(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PickUpstream on the origin = %v, want ErrNotFound", err)
	}
	up := map[string]string{}
	for _, n := range all[1:] {
		addr, node, err := n.PickUpstream(ctx, k)
		if err != nil {
			t.Fatalf("%s.PickUpstream: %v", n.Name(), err)
		}
		if node == n.Name() {
			t.Fatalf("%s picked itself", n.Name())
		}
		var want string
		for _, m := range all {
			if m.Name() == node {
				want = m.Addr()
			}
		}
		if addr != want {
			t.Fatalf("%s picked %s at %q, want its address %q", n.Name(), node, addr, want)
		}
		if err := n.RegisterPull(ctx, k, node); err != nil {
			t.Fatalf("RegisterPull: %v", err)
		}
		up[n.Name()] = node
	}
	direct := map[string]int{}
	for _, u := range up {
		direct[u]++
	}
	for node, d := range direct {
		if d > maxPulls {
			t.Errorf("%s serves %d pullers, more than %d", node, d, maxPulls)
		}
	}
	// Every node reaches the origin; with 2 per node, 9 pullers fit in
	// three levels below it.
	for n := range up {
		depth, node := 0, n
		for node != origin.Name() {
			node = up[node]
			if depth++; depth > 3 {
				t.Fatalf("%s is more than 3 hops from the origin: %v", n, up)
			}
		}
	}
	pulls, err := origin.Pulls(ctx, k)
	if err != nil || len(pulls) != nodes-1 {
		t.Fatalf("Pulls = %d records, %v; want %d", len(pulls), err, nodes-1)
	}

	// A leaf leaves; its place is free again.
	leaf := all[nodes-1]
	if err := leaf.UnregisterPull(ctx, k); err != nil {
		t.Fatalf("UnregisterPull: %v", err)
	}
	if leaf.Pulling(k) {
		t.Fatal("still pulling after UnregisterPull")
	}
	_, node, err := leaf.PickUpstream(ctx, k)
	if err != nil || node != up[leaf.Name()] {
		t.Fatalf("re-pick = %s, %v; want the freed place under %s", node, err, up[leaf.Name()])
	}
	t.Logf("tree: %v", up)
}

// TestSetWatchers: the watcher counts a node reports for a channel it
// ingests or pulls reach every node through the next heartbeat, in the
// channel entry and in the pull records that AllPulls lists.
func TestSetWatchers(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	b := openNode(t, testConfig(ns, "b"))
	ctx := ctxT(t)
	k := Key{"fier", "cam"}
	if _, err := a.Claim(ctx, k, ClaimInfo{}); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if err := b.RegisterPull(ctx, k, "a"); err != nil {
		t.Fatalf("RegisterPull: %v", err)
	}
	a.SetWatchers(k, 3)
	b.SetWatchers(k, 5)
	b.SetWatchers(Key{"fier", "other"}, 9) // neither ingested nor pulled: ignored
	eventually(t, 5*testTTL, "counts written by the heartbeat", func() bool {
		e, err := b.Lookup(ctx, k)
		all, perr := a.AllPulls(ctx)
		return err == nil && perr == nil && e.Watchers == 3 && len(all) == 1 &&
			len(all[k]) == 1 && all[k][0] == (Pull{Node: "b", Upstream: "a", Watchers: 5})
	})
}
