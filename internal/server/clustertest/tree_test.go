package clustertest_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/cluster"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// TestTree: ten nodes with max-pulls 3 get watchers one after the other;
// the pulls build a tree in which no node feeds more than three others,
// and every watcher, however many hops from the origin, gets every byte.
func TestTree(t *testing.T) {
	const nodes, maxPulls, size = 10, 3, 4 << 20
	_, all := startCluster(t, nodes, func(c *server.Config, cc *server.ClusterConfig) {
		c.BroadcasterGrace = 0
		cc.Cluster.MaxPulls = maxPulls
	})
	origin := all[0]
	b := servertest.MustHandshake(t, origin.Addr, broadcast)
	var drains []*servertest.Drain
	for _, n := range all {
		drains = append(drains, servertest.StartDrain(servertest.MustHandshake(t, n.Addr, watch)))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pulls, err := origin.ClusterNode().AllPulls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	up := map[string]string{}
	for _, p := range pulls[cluster.Key{User: "fier", Channel: "cam"}] {
		up[p.Node] = p.Upstream
	}
	if len(up) != nodes-1 {
		t.Fatalf("%d pull records, want %d: %v", len(up), nodes-1, up)
	}
	direct := map[string]int{}
	for _, u := range up {
		direct[u]++
	}
	for node, d := range direct {
		if d > maxPulls {
			t.Errorf("%s feeds %d nodes, more than %d", node, d, maxPulls)
		}
	}
	for n := range up {
		hops, node := 0, n
		for node != origin.Name {
			if node = up[node]; hops > nodes {
				t.Fatalf("%s does not reach the origin: %v", n, up)
			}
			hops++
		}
		if hops > 2 { // 3 direct, then 3 below each: 9 nodes in two levels
			t.Errorf("%s is %d hops from the origin: %v", n, hops, up)
		}
	}
	t.Logf("tree (node: upstream): %v", up)

	data := servertest.Payload(3, size)
	if err := servertest.WriteInPieces(b, data, 4); err != nil {
		t.Fatal(err)
	}
	b.CloseWrite()
	want := sha256.Sum256(data)
	for i, d := range drains {
		if d.Wait(); d.N != size || d.Sum != want {
			t.Errorf("watcher on n%d: %d bytes (err %v), hash match %v; want %d exact bytes", i, d.N, d.Err, d.Sum == want, size)
		}
	}
	if got, want := origin.ClusterStats(t).PullBytesOut, int64(direct[origin.Name]*size); got != want {
		t.Errorf("origin sent %d bytes to other nodes, want %d (%d direct pulls)", got, want, direct[origin.Name])
	}
}
