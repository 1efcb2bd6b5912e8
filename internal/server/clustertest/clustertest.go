// Package clustertest runs fstream clusters for tests: fstream servers
// joined as nodes to an in-process NATS server (package natstest), each
// on 127.0.0.1:0, stopped when the test ends. Its own tests drive whole
// clusters over real TCP: relays, trees, takeovers, failover, partitions
// and NATS outages.
package clustertest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/cluster"
	"github.com/fstream/fstream/internal/cluster/natstest"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// TTL is the directory TTL of test clusters: the shortest NATS allows, so
// that expiry happens quickly.
const TTL = time.Second

// OpTimeout bounds each directory call of a test node.
const OpTimeout = time.Second

// Node is an fstream server joined to a test cluster.
type Node struct {
	*server.Server
	// Name is the node's name, Addr where it listens (and advertises).
	Name, Addr string
	served     chan error
	once       sync.Once
}

// StartNode starts a server on 127.0.0.1:0 with servertest's users, joins
// it to ns as name (TTL, a short linger) and serves until the test ends,
// when it shuts down (leaving the cluster). mutate may change both
// configurations first; an Advertise it sets (a proxy's address) is kept,
// and Node.Addr is still where the node listens.
func StartNode(t testing.TB, ns *natstest.NATS, name string, mutate func(*server.Config, *server.ClusterConfig)) *Node {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Auth = servertest.Auth
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	cfg.Logger = log
	cc := server.ClusterConfig{Cluster: cluster.DefaultConfig()}
	cc.Cluster.URLs = []string{ns.URL()}
	cc.Cluster.NodeName = name
	cc.Cluster.TTL = TTL
	cc.Cluster.OpTimeout = OpTimeout
	cc.Cluster.Linger = time.Second
	if mutate != nil {
		mutate(&cfg, &cc)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("clustertest: New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("clustertest: listen: %v", err)
	}
	if cc.Cluster.Advertise == "" { // mutate may put a proxy in front
		cc.Cluster.Advertise = ln.Addr().String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.JoinCluster(ctx, cc); err != nil {
		ln.Close()
		srv.Close()
		t.Fatalf("clustertest: JoinCluster(%s): %v", name, err)
	}
	n := &Node{Server: srv, Name: name, Addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { n.served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		n.stop(t, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		})
	})
	return n
}

// Kill closes the node without leaving the cluster, as a crash would:
// its connections break and its directory records expire within the TTL.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	n.stop(t, func() { n.Close() })
}

func (n *Node) stop(t testing.TB, how func()) {
	n.once.Do(func() {
		how()
		if err := <-n.served; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("clustertest: %s: Serve returned %v, want ErrServerClosed", n.Name, err)
		}
	})
}

// ClusterStats returns the node's cluster counters.
func (n *Node) ClusterStats(t testing.TB) server.ClusterCounters {
	t.Helper()
	c, ok := n.ClusterCounters()
	if !ok {
		t.Fatalf("clustertest: %s is not in a cluster", n.Name)
	}
	return c
}
