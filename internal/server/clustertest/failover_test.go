package clustertest_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/clustertest"
	"github.com/fstream/fstream/internal/server/servertest"
)

// withGrace keeps channels through a broadcaster's absence of 10 s.
func withGrace(c *server.Config, _ *server.ClusterConfig) { c.BroadcasterGrace = 10 * time.Second }

// TestTakeover: the same user broadcasting the same channel on n1 while
// live on n0 takes it over: n0 stops its broadcaster with "taken-over" and
// pulls the channel from n1 for its watchers, n2 switches its upstream to
// n1, and every watcher stays connected and gets the new stream.
func TestTakeover(t *testing.T) {
	_, nodes := startCluster(t, 3, withGrace)
	stop := make(chan struct{})
	b1 := servertest.MustHandshake(t, nodes[0].Addr, broadcast)
	wait1 := repeat(b1, "FIRST", stop)
	var watchers []*net.TCPConn
	for _, n := range nodes {
		w := servertest.MustHandshake(t, n.Addr, watch)
		readUntil(t, w, "FIRST")
		watchers = append(watchers, w)
	}

	took := time.Now()
	b2 := servertest.MustHandshake(t, nodes[1].Addr, broadcast)
	wait2 := repeat(b2, "SECOND", stop)
	defer func() { close(stop); wait1(); wait2() }()
	servertest.ExpectClosed(t, b1)
	t.Logf("n0 stopped its broadcaster %v after the takeover on n1", time.Since(took).Round(time.Millisecond))
	if n := nodes[0].Counters().Hub.Evictions[hub.ReasonTakenOver]; n != 1 {
		t.Errorf("n0 counted %d taken-over broadcasters, want 1", n)
	}
	for i, w := range watchers {
		readUntil(t, w, "SECOND")
		t.Logf("watcher on n%d has the new stream %v after the takeover", i, time.Since(took).Round(time.Millisecond))
	}
	in := nodes[0].Hub().Channel(hub.Key{User: "fier", Channel: "cam"}).Info()
	if in.Broadcaster == nil || !strings.HasPrefix(in.Broadcaster.Remote, "node n1 ") {
		t.Errorf("n0's channel is fed by %+v, want a pull from n1", in.Broadcaster)
	}
}

// TestOriginKilled: the origin dies without leaving the cluster; the
// watchers on n2 stay connected through the grace period and get the
// stream of a new broadcaster on n1 as soon as it claims the channel.
func TestOriginKilled(t *testing.T) {
	_, nodes := startCluster(t, 3, withGrace)
	stop := make(chan struct{})
	b1 := servertest.MustHandshake(t, nodes[0].Addr, broadcast)
	wait1 := repeat(b1, "FIRST", stop)
	w := servertest.MustHandshake(t, nodes[2].Addr, watch)
	readUntil(t, w, "FIRST")

	nodes[0].Kill(t)
	b2 := servertest.MustHandshake(t, nodes[1].Addr, broadcast)
	claimed := time.Now()
	wait2 := repeat(b2, "SECOND", stop)
	defer func() { close(stop); wait1(); wait2() }()
	readUntil(t, w, "SECOND") // fails if the watcher was disconnected
	t.Logf("watcher on n2 resumed %v after the new broadcaster's claim", time.Since(claimed).Round(time.Millisecond))
	if c := nodes[2].ClusterStats(t); c.PullConnects != 2 {
		t.Errorf("n2 made %d upstream connections, want 2 (n0, then n1)", c.PullConnects)
	}
}

// TestNATSOutage: while NATS is down every node keeps serving its local
// channels and its pulls; watchers of channels it does not carry are
// refused with "cluster directory unreachable"; a broadcaster that starts
// meanwhile is claimed once NATS is back, and everything works again by
// itself.
func TestNATSOutage(t *testing.T) {
	ns, nodes := startCluster(t, 2, withGrace)
	stop := make(chan struct{})
	var waits []func()
	defer func() {
		close(stop)
		for _, w := range waits {
			w()
		}
	}()
	b := servertest.MustHandshake(t, nodes[0].Addr, broadcast)
	before := make(chan struct{})
	waitBefore := repeat(b, "BEFORE", before)
	other := servertest.MustHandshake(t, nodes[0].Addr, "broadcast,user=fier,user-password=123,channel=other")
	waits = append(waits, repeat(other, "OTHER", stop))
	w := servertest.MustHandshake(t, nodes[1].Addr, watch)
	readUntil(t, w, "BEFORE")

	ns.Stop()
	servertest.WaitFor(t, "n1 to notice", func() bool { return nodes[1].ClusterStats(t).Healthy != nil })
	close(before)
	waitBefore()
	waits = append(waits, repeat(b, "DURING", stop))
	readUntil(t, w, "DURING") // the pull goes on
	readUntil(t, servertest.MustHandshake(t, nodes[0].Addr, watch), "DURING")
	_, st := servertest.DialHandshake(t, nodes[1].Addr, "watch,user=fier,channel=other")
	if !strings.Contains(st, "reason=not-found") || !strings.Contains(st, "cluster directory unreachable") {
		t.Errorf("remote lookup during the outage: status %q, want not-found: cluster directory unreachable", st)
	}
	late := servertest.MustHandshake(t, nodes[0].Addr, "broadcast,user=other,user-password=456,channel=late")
	waits = append(waits, repeat(late, "LATE", stop))

	time.Sleep(2 * clustertest.TTL) // an outage longer than the TTL: NATS expires every record at restart
	ns.Start()
	servertest.WaitFor(t, "the directory back on both nodes", func() bool {
		return nodes[0].ClusterStats(t).Healthy == nil && nodes[1].ClusterStats(t).Healthy == nil
	})
	servertest.WaitFor(t, "the channel claimed during the outage to be watchable on n1", func() bool {
		c, st := servertest.DialHandshake(t, nodes[1].Addr, "watch,user=other,channel=late")
		if st != "ok" {
			c.Close()
			return false
		}
		readUntil(t, c, "LATE")
		return true
	})
	readUntil(t, w, "DURING") // still the same watcher
}
