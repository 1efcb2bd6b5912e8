package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fstream/fstream/internal/cluster/natstest"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/clustertest"
	"github.com/fstream/fstream/internal/server/servertest"
)

// apiOn serves the API of a cluster node until the test ends.
func apiOn(t *testing.T, n *clustertest.Node) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	api, err := newAPI(Config{Server: n.Server, AdminToken: testToken, Logger: log, Version: "v0.0.0-test"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Close)
	ts := httptest.NewServer(api)
	tr := &http.Transport{}
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		tr.CloseIdleConnections()
	})
	return &env{srv: &servertest.Server{Server: n.Server, Addr: n.Addr}, api: api, ts: ts, url: ts.URL, client: &http.Client{Transport: tr}}
}

// TestClusterAPI: any node's API lists the cluster's channels with their
// origin and each node's watchers, lists the nodes, kicks a broadcaster on
// another node, and exports the node's cluster counters.
func TestClusterAPI(t *testing.T) {
	ns := natstest.Start(t)
	noGrace := func(c *server.Config, _ *server.ClusterConfig) { c.BroadcasterGrace = 0 }
	origin := clustertest.StartNode(t, ns, "origin", noGrace)
	edge := clustertest.StartNode(t, ns, "edge", noGrace)
	e := apiOn(t, edge)
	b := servertest.MustHandshake(t, origin.Addr, "broadcast,user=fier,user-password=123,channel=cam")
	servertest.MustHandshake(t, origin.Addr, "broadcast,user=other,user-password=456,channel=elsewhere,channel-password=pw")
	servertest.MustHandshake(t, origin.Addr, "watch,user=fier,channel=cam")
	servertest.MustHandshake(t, edge.Addr, "watch,user=fier,channel=cam")
	servertest.MustHandshake(t, edge.Addr, "watch,user=fier,channel=cam")

	var list channelListJSON
	servertest.WaitFor(t, "each node's watchers in the directory", func() bool {
		list = channelListJSON{}
		e.getJSON(t, "/api/v1/channels", &list)
		if len(list.Channels) != 2 || list.ClusterError != "" {
			return false
		}
		c := list.Channels[0]
		return c.Origin == "origin" && c.ClusterWatchers == 3 && len(c.Nodes) == 2 &&
			c.Nodes[0] == (nodeWatchersJSON{Node: "origin", Watchers: 1}) &&
			c.Nodes[1] == (nodeWatchersJSON{Node: "edge", Upstream: "origin", Watchers: 2})
	})
	if c := list.Channels[0]; c.User != "fier" || c.Watchers != 2 || !c.Live {
		t.Errorf("the pulled channel as the edge sees it: %+v", c)
	}
	if c := list.Channels[1]; c.User != "other" || c.Origin != "origin" || !c.Protected || !c.Live ||
		c.WatchURL != "/watch/other/elsewhere" || c.Watchers != 0 {
		t.Errorf("a channel live on the origin only: %+v", c)
	}

	if resp, _ := e.do(t, "HEAD", "/watch/other/elsewhere", nil); resp.StatusCode != 401 {
		t.Errorf("HEAD of a protected channel live elsewhere: %d, want 401", resp.StatusCode)
	}
	if resp, _ := e.do(t, "HEAD", "/watch/other/elsewhere?password=x", nil); resp.StatusCode != 200 {
		t.Errorf("HEAD of a channel live elsewhere: %d, want 200", resp.StatusCode)
	}
	if resp, _ := e.do(t, "HEAD", "/watch/other/nowhere", nil); resp.StatusCode != 404 {
		t.Errorf("HEAD of a channel live nowhere: %d, want 404", resp.StatusCode)
	}
	if _, body := e.do(t, "GET", "/play/other/elsewhere", nil); !strings.Contains(body, `data-protected="true" data-live="true"`) {
		t.Errorf("player page of a protected channel live elsewhere does not ask for a password")
	}

	var nodes nodeListJSON
	e.getJSON(t, "/api/v1/nodes", &nodes)
	if len(nodes.Nodes) != 2 || nodes.Nodes[0].Name != "edge" || !nodes.Nodes[0].Self ||
		nodes.Nodes[1].Name != "origin" || nodes.Nodes[1].Self || nodes.Nodes[1].Addr != origin.Addr {
		t.Errorf("nodes: %+v", nodes)
	}

	_, body := e.do(t, "GET", "/metrics", nil)
	for _, m := range []string{`fstream_cluster_pull_bytes_total{direction="in"}`, "fstream_cluster_pulls 1",
		"fstream_cluster_directory_up 1", `fstream_cluster_pull_tokens_total{result="minted"} 0`, "fstream_cluster_pulls_lost_total 0"} {
		if !strings.Contains(body, m) {
			t.Errorf("metrics lack %s", m)
		}
	}

	auth := http.Header{"Authorization": {"Bearer " + testToken}}
	if resp, body := e.do(t, "POST", "/api/v1/channels/fier/cam/kick?node=x", auth); resp.StatusCode != 400 {
		t.Errorf("kick everyone on one node: %d %s, want 400", resp.StatusCode, body)
	}
	resp, body := e.do(t, "POST", "/api/v1/channels/fier/cam/kick", auth)
	if resp.StatusCode != 202 || !strings.Contains(body, `"cluster": true`) {
		t.Fatalf("kick from the edge: %d %s", resp.StatusCode, body)
	}
	servertest.ExpectClosed(t, b)
}

// TestStandaloneNodes: a server outside any cluster has no nodes to list
// and reports no cluster metrics.
func TestStandaloneNodes(t *testing.T) {
	e := startEnv(t, envOptions{})
	if resp, _ := e.do(t, "GET", "/api/v1/nodes", nil); resp.StatusCode != 404 {
		t.Errorf("/api/v1/nodes: %d, want 404", resp.StatusCode)
	}
	if _, body := e.do(t, "GET", "/metrics", nil); strings.Contains(body, "fstream_cluster_") {
		t.Error("cluster metrics on a standalone server")
	}
}
