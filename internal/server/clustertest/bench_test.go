package clustertest_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/cluster/natstest"

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
	ns := natstest.Start(b)
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
	ns := natstest.Start(b)
	origin := clustertest.StartNode(b, ns, "origin", noGrace)
	edge := clustertest.StartNode(b, ns, "edge", noGrace)
	data := servertest.Payload(5, size)
	for _, tc := range []struct {
		name string
		n    *clustertest.Node
	}{{"local", origin}, {"pulled", edge}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				bc := servertest.MustHandshake(b, origin.Addr, broadcast)
				d := servertest.StartDrain(servertest.MustHandshake(b, tc.n.Addr, watch))
				if _, err := bc.Write(data); err != nil {
					b.Fatal(err)
				}
				bc.CloseWrite()
				if d.Wait(); d.N != size {
					b.Fatalf("watcher got %d bytes, want %d", d.N, size)
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
	ns := natstest.Start(b)
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

// BenchmarkHopLatency: the broadcaster sends a 1 KiB chunk every 10 ms
// (800 kbit/s), each stamped with its sequence number; a watcher on the
// origin and one on a node two hops away (origin → relay → edge, max-pulls
// 1) note when each chunk arrives. Reported: the delay from the write to
// the arrival, per path.
func BenchmarkHopLatency(b *testing.B) {
	const chunk = 1 << 10
	ns := natstest.Start(b)
	onePull := func(c *server.Config, cc *server.ClusterConfig) { c.BroadcasterGrace = 0; cc.Cluster.MaxPulls = 1 }
	origin := clustertest.StartNode(b, ns, "origin", onePull)
	relay := clustertest.StartNode(b, ns, "relay", onePull)
	edge := clustertest.StartNode(b, ns, "edge", onePull)
	bc := servertest.MustHandshake(b, origin.Addr, broadcast)
	paths := []*clustertest.Node{origin, relay, edge}
	conns := make([]net.Conn, len(paths))
	for i, n := range paths {
		conns[i] = servertest.MustHandshake(b, n.Addr, watch)
	}
	var sent []time.Time
	arrived := make([][]time.Duration, len(paths))
	for b.Loop() {
		seq := len(sent)
		buf := make([]byte, chunk)
		binary.BigEndian.PutUint64(buf, uint64(seq))
		sent = append(sent, time.Now())
		if _, err := bc.Write(buf); err != nil {
			b.Fatal(err)
		}
		for i, c := range conns {
			c.SetReadDeadline(time.Now().Add(servertest.WaitTimeout))
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
			if got := binary.BigEndian.Uint64(buf); got != uint64(seq) {
				b.Fatalf("path %d: chunk %d, want %d", i, got, seq)
			}
			arrived[i] = append(arrived[i], time.Since(sent[seq]))
		}
		time.Sleep(10 * time.Millisecond)
	}
	bc.Close()
	for i, name := range []string{"origin", "1-hop", "2-hops"} {
		quantiles(b, arrived[i], name)
	}
}
