package clustertest_test

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/cluster/natstest"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/clustertest"
	"github.com/fstream/fstream/internal/server/servertest"
)

// TestRelayByteExact: a generic stream broadcast on n0 reaches watchers on
// n0, n1 and n2 byte for byte; n1 and n2 each pull it once, whatever
// their watchers, so n0 sends exactly two streams' worth to other nodes.
func TestRelayByteExact(t *testing.T) {
	const size = 20 << 20
	_, nodes := startCluster(t, 3, noGrace)
	origin := nodes[0]
	b := servertest.MustHandshake(t, origin.Addr, broadcast)

	var drains []*servertest.Drain
	for i, n := range nodes {
		for range 1 + 2*min(i, 1) { // one watcher on the origin, three elsewhere
			drains = append(drains, servertest.StartDrain(servertest.MustHandshake(t, n.Addr, watch)))
		}
	}
	for _, n := range nodes[1:] {
		if c := n.ClusterStats(t); c.Pulls != 1 || c.PullConnects != 1 {
			t.Fatalf("%s: %d pulls, %d upstream connections; want one of each", n.Name, c.Pulls, c.PullConnects)
		}
	}

	data := servertest.Payload(1, size)
	if err := servertest.WriteInPieces(b, data, 2); err != nil {
		t.Fatal(err)
	}
	b.CloseWrite()
	want := sha256.Sum256(data)
	for i, d := range drains {
		if d.Wait(); d.N != size || d.Sum != want {
			t.Errorf("watcher %d: %d bytes (err %v), hash match %v; want %d exact bytes", i, d.N, d.Err, d.Sum == want, size)
		}
	}
	servertest.WaitFor(t, "the pull connections to end", func() bool { return origin.ClusterStats(t).PullsServed == 0 })
	if got := origin.ClusterStats(t).PullBytesOut; got != 2*size {
		t.Errorf("origin sent %d bytes to other nodes, want exactly %d (two pulls)", got, 2*size)
	}
	for _, n := range nodes[1:] {
		if got := n.ClusterStats(t).PullBytesIn; got != size {
			t.Errorf("%s pulled %d bytes, want %d", n.Name, got, size)
		}
	}
}

// TestLinger: a pulled channel stays connected for the linger time after
// its last watcher here left, so that a watcher coming back finds it at
// once; after that the upstream connection ends, even while the stream
// flows.
func TestLinger(t *testing.T) {
	ns := natstest.Start(t)
	origin := clustertest.StartNode(t, ns, "origin", nil)
	edge := clustertest.StartNode(t, ns, "edge", func(_ *server.Config, cc *server.ClusterConfig) { cc.Cluster.Linger = time.Hour })
	short := clustertest.StartNode(t, ns, "short", func(_ *server.Config, cc *server.ClusterConfig) { cc.Cluster.Linger = 0 })
	b := servertest.MustHandshake(t, origin.Addr, broadcast)
	stop := make(chan struct{})
	wait := repeat(b, "LIVE", stop)
	defer func() { close(stop); wait() }()

	for range 3 {
		w := servertest.MustHandshake(t, edge.Addr, watch)
		readUntil(t, w, "LIVE")
		w.Close()
		servertest.WaitFor(t, "the watcher to leave", func() bool { return edge.Counters().Watchers == 0 })
	}
	if c := edge.ClusterStats(t); c.PullConnects != 1 || c.Pulls != 1 {
		t.Errorf("edge: %d upstream connections, %d pulls; want one kept through the linger time", c.PullConnects, c.Pulls)
	}

	w := servertest.MustHandshake(t, short.Addr, watch)
	readUntil(t, w, "LIVE")
	w.Close()
	servertest.WaitFor(t, "the pull without linger to end", func() bool { return short.ClusterStats(t).Pulls == 0 })
	servertest.WaitFor(t, "the origin to serve one pull", func() bool { return origin.ClusterStats(t).PullsServed == 1 })
}
