package clustertest_test

import (
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/clustertest"
	"github.com/fstream/fstream/internal/server/servertest"
)

// The benchmarks measure what a cluster adds on loopback, each against a
// single node in the same run:
//
//	go test -run '^$' -bench . -benchtime 50x ./internal/server/clustertest/

// quantiles reports the median and the 99th percentile of ds.
func quantiles(b *testing.B, ds []time.Duration, unit string) {
	slices.Sort(ds)
	q := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.5), "p50-ms-"+unit)
	b.ReportMetric(q(0.99), "p99-ms-"+unit)
}

// firstByte dials addr as a watcher and returns how long the first stream
// byte took to arrive from the dial.
func firstByte(b *testing.B, addr string) time.Duration {
	start := time.Now()
	c := servertest.MustHandshake(b, addr, watch+",join=live")
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(servertest.WaitTimeout))
	var one [1]byte
	if _, err := io.ReadFull(c, one[:]); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkColdPull: from a watcher's dial to its first byte, on the origin
// (local) and on a node that has to pull the channel first (cold: its
// previous pull ended with its watcher, linger 0).
func BenchmarkColdPull(b *testing.B) {
	ns := clustertest.StartNATS(b)
	noLinger := func(_ *server.Config, cc *server.ClusterConfig) { cc.Cluster.Linger = 0 }
	origin := clustertest.StartNode(b, ns, "origin", noLinger)
	edge := clustertest.StartNode(b, ns, "edge", noLinger)
	bc := servertest.MustHandshake(b, origin.Addr, broadcast)
	stop := make(chan struct{})
	wait := repeat(bc, "LIVE", stop)
	defer func() { close(stop); wait() }()
	for _, tc := range []struct {
		name string
		n    *clustertest.Node
	}{{"local", origin}, {"cold-pull", edge}} {
		b.Run(tc.name, func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				ds = append(ds, firstByte(b, tc.n.Addr))
				servertest.WaitFor(b, "the pull to end", func() bool { return edge.ClusterStats(b).Pulls == 0 })
			}
			quantiles(b, ds, "first-byte")
		})
	}
}

// BenchmarkRelay: 16 MiB from the broadcaster to a watcher on the origin,
// and to a watcher on a node that pulls it (one hop more).
func BenchmarkRelay(b *testing.B) {
	const size = 16 << 20
	ns := clustertest.StartNATS(b)
	origin := clustertest.StartNode(b, ns, "origin", noGrace)
	edge := clustertest.StartNode(b, ns, "edge", noGrace)
	data := payload(5, size)
	for _, tc := range []struct {
		name string
		n    *clustertest.Node
	}{{"local", origin}, {"pulled", edge}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				bc := servertest.MustHandshake(b, origin.Addr, broadcast)
				d := startDrain(servertest.MustHandshake(b, tc.n.Addr, watch))
				if _, err := bc.Write(data); err != nil {
					b.Fatal(err)
				}
				bc.CloseWrite()
				if d.wait(); d.n != size {
					b.Fatalf("watcher got %d bytes, want %d", d.n, size)
				}
				bc.Close()
			}
		})
	}
}

// BenchmarkFailover: an origin is killed while a watcher on another node
// watches; a new broadcaster claims the channel on a third node. Reported:
// the time from the kill, and from the new broadcaster's "ok", to the new
// stream's first byte at the watcher.
func BenchmarkFailover(b *testing.B) {
	ns := clustertest.StartNATS(b)
	grace := func(c *server.Config, _ *server.ClusterConfig) { c.BroadcasterGrace = 10 * time.Second }
	standby := clustertest.StartNode(b, ns, "standby", grace)
	edge := clustertest.StartNode(b, ns, "edge", grace)
	var fromKill, fromClaim []time.Duration
	i := 0
	for b.Loop() {
		i++
		origin := clustertest.StartNode(b, ns, fmt.Sprintf("origin%d", i), grace)
		stop := make(chan struct{})
		var waits []func()
		bc := servertest.MustHandshake(b, origin.Addr, broadcast)
		waits = append(waits, repeat(bc, "FIRST", stop))
		w := servertest.MustHandshake(b, edge.Addr, watch)
		readUntil(b, w, "FIRST")
		killed := time.Now()
		origin.Kill(b)
		nb := servertest.MustHandshake(b, standby.Addr, broadcast)
		claimed := time.Now()
		marker := fmt.Sprintf("NEXT%d", i)
		waits = append(waits, repeat(nb, marker, stop))
		readUntil(b, w, marker)
		fromKill, fromClaim = append(fromKill, time.Since(killed)), append(fromClaim, time.Since(claimed))
		close(stop)
		for _, wt := range waits {
			wt()
		}
		w.Close()
		nb.Close()
	}
	quantiles(b, fromKill, "from-kill")
	quantiles(b, fromClaim, "from-new-claim")
}
