package clustertest_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/cluster"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestPullTokens: only a node can pull without the channel password. A
// watch with a pull token that the serving node did not mint for that
// channel is refused; a good token works once, counts as a pull and not
// as a watcher; a server outside any cluster refuses pull tokens.
func TestPullTokens(t *testing.T) {
	_, nodes := startCluster(t, 2, noGrace)
	origin, puller := nodes[0], nodes[1]
	b := servertest.MustHandshake(t, origin.Addr, broadcast+",channel-password=secret")
	defer b.Close()
	servertest.MustHandshake(t, origin.Addr, "broadcast,user=fier,user-password=123,channel=other")
	key := cluster.Key{User: "fier", Channel: "cam"}

	for _, tok := range []string{"garbage", strings.Repeat("A", 43)} {
		if _, st := servertest.DialHandshake(t, origin.Addr, watch+",pull-token="+tok); !strings.Contains(st, "reason=forbidden") {
			t.Errorf("pull-token=%s: status %q, want forbidden", tok, st)
		}
	}
	tok, err := puller.ClusterNode().RequestPullToken(ctxT(t), origin.Name, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, st := servertest.DialHandshake(t, origin.Addr, "watch,user=fier,channel=other,pull-token="+tok); !strings.Contains(st, "reason=forbidden") {
		t.Errorf("token for another channel: status %q, want forbidden", st)
	}
	if _, st := servertest.DialHandshake(t, origin.Addr, watch+",pull-token="+tok); !strings.Contains(st, "reason=forbidden") {
		t.Errorf("token used a second time: status %q, want forbidden", st)
	}
	tok, err = puller.ClusterNode().RequestPullToken(ctxT(t), origin.Name, key)
	if err != nil {
		t.Fatal(err)
	}
	servertest.MustHandshake(t, origin.Addr, watch+",pull-token="+tok) // no channel password
	servertest.WaitFor(t, "the pull to be counted", func() bool { return origin.ClusterStats(t).PullsServed == 1 })
	if n := origin.Counters().Watchers; n != 0 {
		t.Errorf("a pull counted as %d watchers", n)
	}

	standalone := servertest.Start(t, nil)
	servertest.MustHandshake(t, standalone.Addr, broadcast)
	if _, st := servertest.DialHandshake(t, standalone.Addr, watch+",pull-token="+tok); !strings.Contains(st, "reason=forbidden") {
		t.Errorf("pull token on a standalone server: status %q, want forbidden", st)
	}
}

// TestPulledPassword: a node that pulls a protected channel checks its
// watchers' password against the directory's hash.
func TestPulledPassword(t *testing.T) {
	_, nodes := startCluster(t, 2, noGrace)
	b := servertest.MustHandshake(t, nodes[0].Addr, broadcast+",channel-password=secret")
	defer b.Close()
	for _, pw := range []string{"", "wrong", "secret2"} {
		if _, st := servertest.DialHandshake(t, nodes[1].Addr, watch+",channel-password="+pw); !strings.Contains(st, "reason=forbidden") {
			t.Errorf("password %q on the pulling node: status %q, want forbidden", pw, st)
		}
	}
	servertest.MustHandshake(t, nodes[1].Addr, watch+",channel-password=secret")
	if _, st := servertest.DialHandshake(t, nodes[1].Addr, watch+",channel-password=nope"); !strings.Contains(st, "reason=forbidden") {
		t.Errorf("wrong password while pulled: status %q, want forbidden", st)
	}
}

// TestClusterTokens: a one-time broadcast token issued by one node is
// good once, on any node.
func TestClusterTokens(t *testing.T) {
	_, nodes := startCluster(t, 2, func(c *server.Config, cc *server.ClusterConfig) {
		c.Tokens = auth.NewTokens(time.Minute, time.Now) // replaced by the cluster's
		c.BroadcasterGrace = 0
	})
	_, st := servertest.DialHandshake(t, nodes[0].Addr, "token,user=fier,user-password=123")
	parsed, err := protocol.ParseStatus(st)
	if err != nil || !parsed.OK || parsed.Params["token"] == "" {
		t.Fatalf("token request: %q (%v)", st, err)
	}
	tok := parsed.Params["token"]
	c := servertest.MustHandshake(t, nodes[1].Addr, "broadcast,user=fier,channel=cam,token="+tok)
	c.Close()
	if _, st := servertest.DialHandshake(t, nodes[0].Addr, "broadcast,user=fier,channel=cam,token="+tok); !strings.Contains(st, "reason=unauthorized") {
		t.Errorf("token used again on the issuing node: %q, want unauthorized", st)
	}
}

// TestKickAnyNode: a kick sent from any node reaches the node that holds
// the connection.
func TestKickAnyNode(t *testing.T) {
	_, nodes := startCluster(t, 3, noGrace)
	b := servertest.MustHandshake(t, nodes[0].Addr, broadcast)
	w := servertest.MustHandshake(t, nodes[1].Addr, watch)
	key := hub.Key{User: "fier", Channel: "cam"}
	var id uint64
	for _, wi := range nodes[1].Hub().Channel(key).Info().Watchers {
		id = wi.ID
	}
	if err := nodes[0].ClusterKick(ctxT(t), key, nodes[1].Name, id); err != nil {
		t.Fatal(err)
	}
	servertest.ExpectClosed(t, w)
	if err := nodes[2].ClusterKick(ctxT(t), key, "", 0); err != nil {
		t.Fatal(err)
	}
	servertest.ExpectClosed(t, b)
}

// TestBadEntries: directory records nobody can use, written straight into
// NATS, never crash a node nor make it dial an address on their word: a
// watcher of such a channel is refused, and the node serves on.
func TestBadEntries(t *testing.T) {
	ns, nodes := startCluster(t, 2, func(c *server.Config, _ *server.ClusterConfig) {
		c.HandshakeTimeout = time.Second // how long a watcher waits for a pull
	})
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	entry := func(channel, node, addr string) string {
		return fmt.Sprintf(`{"v":1,"user":"fier","channel":%q,"node":%q,"addr":%q,"session":"s","start":"2026-01-01T00:00:00Z"}`, channel, node, addr)
	}
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(ctxT(t), cluster.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.PutString(ctxT(t), "c.!!.??", "{}"); err == nil {
		t.Error("NATS took a key that is no key")
	}
	// Each record is written just before its watcher comes: nobody
	// refreshes them, so they expire within the TTL.
	for _, r := range []struct{ channel, value string }{
		{"junk", "not json"},
		{"ghost", entry("ghost", "ghost", "127.0.0.1:1")}, // nobody answers for it
		{"self", entry("self", "n0", nodes[1].Addr)},      // "n0" at n1's own address
		{"wild", entry("wild", "n0", "0.0.0.0:61920")},    // no address to dial
		{"mine", entry("mine", "n1", "127.0.0.1:1")},      // n1 itself
		{"copy", entry("cam", "n0", nodes[0].Addr)},       // under another channel's key
	} {
		if _, err := kv.PutString(ctxT(t), "c."+enc("fier")+"."+enc(r.channel), r.value); err != nil {
			t.Fatalf("put %s: %v", r.channel, err)
		}
		before := nodes[1].ClusterStats(t).PullFailures
		_, st := servertest.DialHandshake(t, nodes[1].Addr, "watch,user=fier,channel="+r.channel)
		// The watcher waits a second for a pull retried after 100 ms,
		// 200 ms, 400 ms...: a handful of attempts, never a tight loop.
		if n := nodes[1].ClusterStats(t).PullFailures - before; n > 8 {
			t.Errorf("bad entry %q: %d pull attempts failed while one watcher waited a second", r.channel, n)
		}
		if st == "ok" || !strings.HasPrefix(st, "error,") {
			t.Errorf("watcher of the bad entry %q: status %q, want a refusal", r.channel, st)
		}
		t.Logf("bad entry %q: %s", r.channel, st)
	}
	b := servertest.MustHandshake(t, nodes[0].Addr, broadcast)
	defer b.Close()
	servertest.MustHandshake(t, nodes[1].Addr, watch) // still serving
}
