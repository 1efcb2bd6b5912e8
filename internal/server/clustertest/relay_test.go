package clustertest_test

import (
	"crypto/sha256"
	"testing"

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

	var drains []*drain
	for i, n := range nodes {
		for range 1 + 2*min(i, 1) { // one watcher on the origin, three elsewhere
			drains = append(drains, startDrain(servertest.MustHandshake(t, n.Addr, watch)))
		}
	}
	for _, n := range nodes[1:] {
		if c := n.ClusterStats(t); c.Pulls != 1 || c.PullConnects != 1 {
			t.Fatalf("%s: %d pulls, %d upstream connections; want one of each", n.Name, c.Pulls, c.PullConnects)
		}
	}

	data := payload(1, size)
	if err := writeInPieces(b, data, 2); err != nil {
		t.Fatal(err)
	}
	b.CloseWrite()
	want := sha256.Sum256(data)
	for i, d := range drains {
		if d.wait(); d.n != size || d.sum != want {
			t.Errorf("watcher %d: %d bytes (err %v), hash match %v; want %d exact bytes", i, d.n, d.err, d.sum == want, size)
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
