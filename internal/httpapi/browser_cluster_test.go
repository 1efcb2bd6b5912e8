package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fstream/fstream/internal/cluster/natstest"
	"github.com/fstream/fstream/internal/server/clustertest"
	"github.com/fstream/fstream/internal/server/servertest"
)

// clusterSectionJS reads what the status page's cluster section shows.
const clusterSectionJS = `JSON.stringify({
  hidden: document.getElementById('cluster').hidden,
  nodes: [...document.querySelectorAll('#nodes tbody tr')].map((tr) => [...tr.cells].slice(0, 2).map((td) => td.textContent)),
  channels: [...document.querySelectorAll('#cluster-channels tbody tr')].map((tr) => [...tr.cells].map((td) => td.textContent)),
  pulls: [...document.querySelectorAll('#pulls li')].map((li) => li.textContent),
  markup: document.querySelectorAll('main i, main script').length,
})`

// TestBrowserClusterSection: the status page of a node that pulls a
// channel shows the nodes, the cluster's channels with the nodes that carry
// them, and what it pulls from where; names with markup in them (node and
// channel names are any UTF-8 but '/', '\' and control characters) show as
// text.
func TestBrowserClusterSection(t *testing.T) {
	browser := startBrowser(t)
	ns := natstest.Start(t)
	const edgeName, channel = `edge<i>&"`, `<i>cam&'"`
	origin := clustertest.StartNode(t, ns, "origin", nil)
	edge := clustertest.StartNode(t, ns, edgeName, nil)
	e := apiOn(t, edge)
	servertest.MustHandshake(t, origin.Addr, "broadcast,user=fier,user-password=123,channel="+channel)
	servertest.MustHandshake(t, edge.Addr, "watch,user=fier,channel="+channel)

	ctx := newTab(t, browser, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	// The edge's watcher reaches the directory with its next heartbeat.
	pollJS(t, ctx, "the cluster section with the edge's watcher",
		`!document.getElementById('cluster').hidden &&
		 document.querySelectorAll('#nodes tbody tr').length === 2 &&
		 document.querySelectorAll('#pulls li[data-channel]').length === 1 &&
		 document.querySelector('#cluster-channels tbody td.carriers').textContent.endsWith(': 1')`,
		clusterSectionJS)
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](clusterSectionJS))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Hidden   bool
		Nodes    [][]string
		Channels [][]string
		Pulls    []string
		Markup   int
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	want := [][]string{{edgeName + " (this node)", edge.Addr}, {"origin", origin.Addr}}
	if len(got.Nodes) != 2 || got.Nodes[0][0] != want[0][0] || got.Nodes[0][1] != want[0][1] ||
		got.Nodes[1][0] != want[1][0] || got.Nodes[1][1] != want[1][1] {
		t.Errorf("nodes %q, want %q", got.Nodes, want)
	}
	wantChan := []string{"fier/" + channel, "origin", "origin: 0, " + edgeName + " ← origin: 1", "1"}
	if len(got.Channels) != 1 || len(got.Channels[0]) != 4 || got.Channels[0][0] != wantChan[0] ||
		got.Channels[0][1] != wantChan[1] || got.Channels[0][2] != wantChan[2] || got.Channels[0][3] != wantChan[3] {
		t.Errorf("channels %q, want [%q]", got.Channels, wantChan)
	}
	if wantPull := "fier/" + channel + " from origin (the origin)"; len(got.Pulls) != 1 || got.Pulls[0] != wantPull {
		t.Errorf("pulls %q, want [%q]", got.Pulls, wantPull)
	}
	if got.Markup != 0 {
		t.Errorf("%d elements made from names: markup not escaped", got.Markup)
	}
}

// TestBrowserStandaloneNoCluster: a server outside any cluster keeps the
// cluster section hidden.
func TestBrowserStandaloneNoCluster(t *testing.T) {
	browser := startBrowser(t)
	e := startEnv(t, envOptions{})
	ctx := newTab(t, browser, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	pollJS(t, ctx, "the page to learn it is not in a cluster",
		`document.getElementById('cluster').dataset.state === 'standalone'`, `document.body.innerHTML`)
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('cluster').hidden && document.getElementById('nodes-link').hidden`))
	if err != nil || !hidden {
		t.Errorf("cluster section shown on a standalone server (%v)", err)
	}
}
