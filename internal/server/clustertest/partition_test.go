package clustertest_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/cluster"
	"github.com/fstream/fstream/internal/cluster/natstest"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/clustertest"
	"github.com/fstream/fstream/internal/server/servertest"
)

// The partition tests cut the origin n0 off without closing anything: its
// NATS connection and the connections other nodes pull from it go through
// proxies that stop forwarding (natstest.Proxy.Blackhole). No FIN, no RST
// and, on loopback through a proxy, no unanswered keepalive either: only
// the directory can tell the pulling node n1 that its upstream is gone.

// detectBound is how long n1 may take to give its upstream up once n0 is
// cut off from everything, from the settings: n0's entry outlives its last
// heartbeat (at most a third of the TTL old) by the TTL; n1 hears of it at
// once, or at its next silence check (one TTL of silence), then looks the
// channel up and pings n0 (two directory calls). Doubled, plus slack for a
// busy machine; polled, never slept.
const detectBound = 2*(clustertest.TTL+clustertest.TTL/3+clustertest.TTL+2*clustertest.OpTimeout) + 5*time.Second

// partitionable starts n0, reaching NATS and reached by the other nodes
// through proxies, and n1, n2 as usual, all with the broadcaster grace
// and max-pulls given; their logs are also collected. The proxies are cut
// when the test ends, before the nodes stop, so that n0 does not come
// back meanwhile.
type partitionable struct {
	nats, link *natstest.Proxy
	nodes      []*clustertest.Node
	logs       []*servertest.LogBuffer
}

func startPartitionable(t *testing.T, grace time.Duration, maxPulls int) *partitionable {
	t.Helper()
	ns := natstest.Start(t)
	p := &partitionable{nats: natstest.StartProxy(t, ns.Addr()), link: natstest.StartProxy(t, "")}
	for i := range 3 {
		log := &servertest.LogBuffer{}
		p.logs = append(p.logs, log)
		p.nodes = append(p.nodes, clustertest.StartNode(t, ns, fmt.Sprintf("n%d", i), func(c *server.Config, cc *server.ClusterConfig) {
			c.BroadcasterGrace = grace
			c.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), log), &slog.HandlerOptions{Level: slog.LevelDebug}))
			cc.Cluster.MaxPulls = maxPulls
			if i == 0 {
				cc.Cluster.URLs = []string{p.nats.URL()}
				cc.Cluster.Advertise = p.link.Addr()
			}
		}))
	}
	p.link.SetTarget(p.nodes[0].Addr)
	t.Cleanup(func() { p.nats.Cut(); p.link.Cut() })
	return p
}

// lostLog is how a node says it gave an upstream up (and why, after it).
const lostLog = "cluster pull: upstream lost"

// waitLost polls until node i has given up an upstream and logged why,
// and fails the test if that takes longer than bound. The reason depends on
// which check saw it first (the entry's expiry, or a silence check; on a
// loaded machine the origin's heartbeat may even be late before the
// partition), so only the log line is required.
func (p *partitionable) waitLost(t *testing.T, i int, bound time.Duration) {
	t.Helper()
	start := time.Now()
	for p.nodes[i].ClusterStats(t).PullsLost == 0 || !strings.Contains(p.logs[i].String(), lostLog) {
		if time.Since(start) > bound {
			t.Fatalf("n%d did not give its upstream up within %v (pulls lost %d, logged: %v)",
				i, bound, p.nodes[i].ClusterStats(t).PullsLost, strings.Contains(p.logs[i].String(), lostLog))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("n%d gave its upstream up %v after the partition", i, time.Since(start).Round(time.Millisecond))
}

// TestSilentOriginFailover: the origin n0 is cut off silently; n1 gives
// its pull up when n0's entry expires, and its watchers, still connected
// through the grace period, get the stream of a new broadcaster on n2.
func TestSilentOriginFailover(t *testing.T) {
	p := startPartitionable(t, 60*time.Second, cluster.DefaultMaxPulls)
	stop := make(chan struct{})
	b0 := servertest.MustHandshake(t, p.nodes[0].Addr, broadcast)
	wait0 := repeat(b0, "FIRST", stop)
	var watchers []*net.TCPConn
	for range 2 {
		w := servertest.MustHandshake(t, p.nodes[1].Addr, watch)
		readUntil(t, w, "FIRST")
		watchers = append(watchers, w)
	}

	p.nats.Blackhole()
	p.link.Blackhole()
	p.waitLost(t, 1, detectBound)
	b2 := servertest.MustHandshake(t, p.nodes[2].Addr, broadcast)
	wait2 := repeat(b2, "SECOND", stop)
	defer func() { close(stop); wait0(); wait2() }()
	for _, w := range watchers {
		readUntil(t, w, "SECOND")
	}
	if ch := p.nodes[1].Hub().Channel(hub.Key{User: "fier", Channel: "cam"}); ch == nil || ch.Stats().Watchers != 2 {
		t.Fatalf("n1's channel %v, want its 2 watchers still there", ch)
	}
}

// TestSilentOriginEnds: with no new broadcaster, the watchers on n1 of a
// silently partitioned origin end once n1 gave the pull up and its grace
// period ran out, instead of waiting on a silent socket for ever.
func TestSilentOriginEnds(t *testing.T) {
	const grace = 2 * time.Second
	p := startPartitionable(t, grace, cluster.DefaultMaxPulls)
	stop := make(chan struct{})
	b0 := servertest.MustHandshake(t, p.nodes[0].Addr, broadcast)
	wait0 := repeat(b0, "FIRST", stop)
	defer func() { close(stop); wait0() }()
	w := servertest.MustHandshake(t, p.nodes[1].Addr, watch)
	readUntil(t, w, "FIRST")

	p.nats.Blackhole()
	p.link.Blackhole()
	p.waitLost(t, 1, detectBound)
	// The watcher's connection ends within the grace period (and the
	// retries' lookups of a channel that is not in the directory).
	w.SetReadDeadline(time.Now().Add(grace + detectBound))
	if _, err := io.Copy(io.Discard, w); err != nil {
		t.Fatalf("watcher on n1 not ended within %v of the pull's end: %v", grace+detectBound, err)
	}
}

// TestSilentLinkMedia: NATS stays up but the link between n1 and its
// origin n0 goes silent. The directory says n0 still holds the live media
// channel; n1 gives the pull up after a silence of several GOPs, and when
// the link is back its watcher, still connected, gets the stream again.
func TestSilentLinkMedia(t *testing.T) {
	data := makeTS(t) // a keyframe a second
	p := startPartitionable(t, 60*time.Second, cluster.DefaultMaxPulls)
	stop := make(chan struct{})
	b0 := servertest.MustHandshake(t, p.nodes[0].Addr, broadcast)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if sendPaced(b0, data, mediaSeconds*time.Second) != nil {
				return
			}
		}
	}()
	defer func() { close(stop); b0.Close(); <-sent }()
	w := servertest.MustHandshake(t, p.nodes[1].Addr, watch)
	var got atomic.Int64
	read := make(chan struct{})
	go func() {
		defer close(read)
		io.Copy(countWriter{&got}, w)
	}()
	defer func() { w.Close(); <-read }()
	key := hub.Key{User: "fier", Channel: "cam"}
	servertest.WaitFor(t, "n1 to know the stream's GOP", func() bool {
		ch := p.nodes[1].Hub().Channel(key)
		return ch != nil && ch.Stats().Media.GOPDuration > 0
	})
	gop := p.nodes[1].Hub().Channel(key).Stats().Media.GOPDuration

	p.link.Blackhole()
	// Four GOPs of silence (at least one TTL), seen at the next silence
	// check, one TTL later at most; doubled, plus slack.
	p.waitLost(t, 1, 2*(4*gop+2*clustertest.TTL+2*clustertest.OpTimeout)+5*time.Second)
	before := got.Load()
	p.link.Restore()
	servertest.WaitFor(t, "the watcher on n1 to get the stream again", func() bool { return got.Load() > before+64<<10 })
}

// countWriter counts what is written to it.
type countWriter struct{ n *atomic.Int64 }

func (c countWriter) Write(b []byte) (int, error) { c.n.Add(int64(len(b))); return len(b), nil }

// TestOriginOffNATSKeepsFlowingPull: the origin is cut off from NATS only
// (or its heartbeat is late) for several TTLs, so its entry expires, but
// its stream reaches n1 all along: n1 keeps the same upstream connection
// and its watcher every byte, and n0 claims the channel again when NATS
// is back.
func TestOriginOffNATSKeepsFlowingPull(t *testing.T) {
	p := startPartitionable(t, 60*time.Second, cluster.DefaultMaxPulls)
	stop := make(chan struct{})
	b0 := servertest.MustHandshake(t, p.nodes[0].Addr, broadcast)
	wait0 := repeat(b0, "FIRST", stop)
	defer func() { close(stop); wait0() }()
	w := servertest.MustHandshake(t, p.nodes[1].Addr, watch)
	readUntil(t, w, "FIRST")
	connects := p.nodes[1].ClusterStats(t).PullConnects

	p.nats.Blackhole()
	key := cluster.Key{User: "fier", Channel: "cam"}
	servertest.WaitFor(t, "n0's entry to expire", func() bool {
		_, err := p.nodes[2].ClusterNode().Lookup(t.Context(), key)
		return errors.Is(err, cluster.ErrNotFound)
	})
	servertest.WaitFor(t, "n1 to hear of it", func() bool { return strings.Contains(p.logs[1].String(), "expired=true") })
	p.nats.Restore()
	servertest.WaitFor(t, "n0 to claim the channel again", func() bool {
		e, err := p.nodes[2].ClusterNode().Lookup(t.Context(), key)
		return err == nil && e.Origin == "n0"
	})
	readUntil(t, w, "FIRST")
	if st := p.nodes[1].ClusterStats(t); st.PullsLost != 0 || st.PullConnects != connects {
		t.Errorf("n1 lost %d pulls and connected %d times more; want the flowing upstream kept", st.PullsLost, st.PullConnects-connects)
	}
}

// TestSilentRelay: with max-pulls 1, n0 pulls from the origin n1 and n2
// pulls through n0. n0 is cut off silently: n2's silence check finds n0's
// node record gone and n0 not answering a ping, gives the relay up, and
// pulls from the origin itself; its watcher stays connected throughout.
func TestSilentRelay(t *testing.T) {
	p := startPartitionable(t, 60*time.Second, 1)
	stop := make(chan struct{})
	b := servertest.MustHandshake(t, p.nodes[1].Addr, broadcast)
	wait := repeat(b, "FIRST", stop)
	defer func() { close(stop); wait() }()
	readUntil(t, servertest.MustHandshake(t, p.nodes[0].Addr, watch), "FIRST") // n0 ← n1
	w := servertest.MustHandshake(t, p.nodes[2].Addr, watch)                   // n2 ← n0
	readUntil(t, w, "FIRST")
	key := hub.Key{User: "fier", Channel: "cam"}
	fedBy := func(node string) func() bool {
		return func() bool {
			ch := p.nodes[2].Hub().Channel(key)
			if ch == nil {
				return false
			}
			in := ch.Info()
			return in.Broadcaster != nil && strings.HasPrefix(in.Broadcaster.Remote, "node "+node+" ")
		}
	}
	if !fedBy("n0")() {
		t.Fatalf("n2's channel is fed by %+v, want the relay n0", p.nodes[2].Hub().Channel(key).Info().Broadcaster)
	}

	p.nats.Blackhole()
	p.link.Blackhole()
	p.waitLost(t, 2, detectBound)
	servertest.WaitFor(t, "n2 to pull from the origin n1", fedBy("n1"))
	readUntil(t, w, "FIRST")
}
