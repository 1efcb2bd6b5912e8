package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fstream/fstream/internal/cluster"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
)

// When the server is a node of a cluster, the channel list shows every live
// channel of the cluster, each with its origin and the watchers of every
// node that carries it, from the directory; /api/v1/nodes lists the nodes;
// a kick reaches the node that holds the connection; /metrics adds the
// node's cluster counters.

// clusterTimeout bounds the directory reads of one API request.
const clusterTimeout = 3 * time.Second

// nodeWatchersJSON is one node carrying a channel, in the cluster.
type nodeWatchersJSON struct {
	Node     string `json:"node"`
	Upstream string `json:"upstream,omitempty"` // the node it pulls from; "" for the origin
	Watchers int64  `json:"watchers"`
}

// nodeJSON is one node of the cluster in /api/v1/nodes.
type nodeJSON struct {
	Name     string    `json:"name"`
	Addr     string    `json:"addr"`
	Self     bool      `json:"self"`
	Since    time.Time `json:"since"`
	Watchers int64     `json:"watchers"`
	Channels int       `json:"channels"`
	Pulls    int       `json:"pulls"`
}

type nodeListJSON struct {
	Nodes []nodeJSON `json:"nodes"`
}

// clusterChannels adds the cluster's view to the list of local channels:
// the origin and each node's watchers of the local ones, and the channels
// live only on other nodes. A directory that cannot be read leaves the
// local list as it is and says so in the list's cluster_error.
func (a *API) clusterChannels(ctx context.Context, list *channelListJSON) {
	node := a.srv.ClusterNode()
	if node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	entries, err := node.Channels(ctx)
	var pulls map[cluster.Key][]cluster.Pull
	if err == nil {
		pulls, err = node.AllPulls(ctx)
	}
	if err != nil {
		list.ClusterError = err.Error()
		return
	}
	local := make(map[hub.Key]int, len(list.Channels))
	for i, c := range list.Channels {
		local[hub.Key{User: c.User, Channel: c.Channel}] = i
	}
	for _, e := range entries {
		k := hub.Key(e.Key)
		i, ok := local[k]
		if !ok {
			list.Channels = append(list.Channels, remoteView(e))
			i = len(list.Channels) - 1
		}
		c := &list.Channels[i]
		c.Origin = e.Origin
		c.Nodes = append(c.Nodes, nodeWatchersJSON{Node: e.Origin, Watchers: e.Watchers})
		for _, p := range pulls[e.Key] {
			c.Nodes = append(c.Nodes, nodeWatchersJSON{Node: p.Node, Upstream: p.Upstream, Watchers: p.Watchers})
		}
		for _, n := range c.Nodes {
			c.ClusterWatchers += n.Watchers
		}
	}
}

// remoteView is a channel live on another node only: what the directory
// knows of it.
func remoteView(e cluster.Entry) channelJSON {
	k := hub.Key(e.Key)
	return channelJSON{
		User:        k.User,
		Channel:     k.Channel,
		WatchURL:    channelPath("/watch/", k),
		PlayURL:     channelPath("/play/", k),
		Format:      e.Format,
		Protected:   e.HasPassword(),
		Live:        true,
		Created:     e.Start.UTC(),
		WatcherList: []watcherJSON{},
	}
}

// remoteEntry returns the directory entry of a channel live on another
// node of the cluster; ok is false when there is none or no cluster.
func (a *API) remoteEntry(ctx context.Context, key hub.Key) (e cluster.Entry, ok bool) {
	node := a.srv.ClusterNode()
	if node == nil {
		return e, false
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	e, err := node.Lookup(ctx, cluster.Key(key))
	return e, err == nil
}

// remoteHead answers HEAD /watch for a channel this node does not carry
// (yet): from the directory, as a GET would start once the pull is made.
func (a *API) remoteHead(w http.ResponseWriter, r *http.Request, key hub.Key, havePassword bool) {
	e, ok := a.remoteEntry(r.Context(), key)
	switch {
	case !ok:
		textError(w, http.StatusNotFound, "")
	case e.HasPassword() && !havePassword:
		textError(w, http.StatusUnauthorized, "")
	default:
		w.Header().Set("Content-Type", contentType(e.Format))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
}

func (a *API) listNodes(w http.ResponseWriter, r *http.Request) {
	node := a.srv.ClusterNode()
	if node == nil {
		textError(w, http.StatusNotFound, "this server is not a node of a cluster")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), clusterTimeout)
	defer cancel()
	nodes, err := node.Nodes(ctx)
	if err != nil {
		textError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	list := nodeListJSON{Nodes: make([]nodeJSON, 0, len(nodes))}
	for _, n := range nodes {
		list.Nodes = append(list.Nodes, nodeJSON{Name: n.Name, Addr: n.Addr, Self: n.Name == node.Name(),
			Since: n.Since.UTC(), Watchers: n.Watchers, Channels: n.Channels, Pulls: n.Pulls})
	}
	slices.SortFunc(list.Nodes, func(x, y nodeJSON) int { return cmp.Compare(x.Name, y.Name) })
	writeJSON(w, http.StatusOK, list)
}

// clusterKick publishes a kick to every node (202: the API cannot know
// whether a connection on another node was there): everyone on the
// channel, or connection {id} of the node named by ?node= (this node when
// absent).
func (a *API) clusterKick(w http.ResponseWriter, r *http.Request, key hub.Key, id uint64) {
	node := r.URL.Query().Get("node")
	if node != "" {
		if err := protocol.ValidateName(node); err != nil {
			textError(w, http.StatusBadRequest, "node: "+err.Error())
			return
		}
	}
	if id == 0 && node != "" {
		textError(w, http.StatusBadRequest, "?node= goes with a connection id: .../kick/{id}?node=NAME")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), clusterTimeout)
	defer cancel()
	if err := a.srv.ClusterKick(ctx, key, node, id); err != nil {
		textError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if node == "" && id != 0 {
		node = a.srv.ClusterNode().Name()
	}
	a.log.Info("operator kick sent to the cluster", "user", key.User, "channel", key.Channel, "node", node, "id", id, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusAccepted, kickJSON{User: key.User, Channel: key.Channel, ID: id, Node: node, Cluster: true})
}

// clusterCollector reports the node's cluster counters; it reports
// nothing while the server is not in a cluster.
type clusterCollector struct {
	srv *server.Server

	up, pulls, pullsServed                           *prometheus.Desc
	pullBytes, pullConnects, pullFailures, refused   *prometheus.Desc
	pullsLost                                        *prometheus.Desc
	dirErrors, malformed, claims, takenOver, reclaim *prometheus.Desc
	beatErrors, natsEvents, pullTokens, tokens, kick *prometheus.Desc
}

func newClusterCollector(srv *server.Server) *clusterCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("fstream_cluster_"+name, help, labels, nil)
	}
	return &clusterCollector{
		srv:          srv,
		up:           d("directory_up", "1 while the cluster directory (NATS) is reachable and the last heartbeat was written."),
		pulls:        d("pulls", "Channels this node pulls from other nodes now (connected or retrying)."),
		pullsServed:  d("pulls_served", "Pull connections of other nodes this node serves now."),
		pullBytes:    d("pull_bytes_total", `Bytes of pulled channels: "in" from upstream nodes, "out" to pulling nodes.`, "direction"),
		pullConnects: d("pull_connects_total", "Upstream connections this node made to pull a channel."),
		pullFailures: d("pull_failures_total", "Upstream attempts that failed, and upstream connections that ended, before a retry."),
		pullsLost:    d("pulls_lost_total", "Upstream connections given up as dead: the directory said the origin or relay was gone, or a live media stream fell silent."),
		refused:      d("lookups_refused_total", "Watchers refused because the directory could not be read."),
		dirErrors:    d("directory_errors_total", "Directory calls that failed."),
		malformed:    d("malformed_records_total", "Directory records ignored as malformed."),
		claims:       d("claims_total", "Channels this node claimed as their origin."),
		takenOver:    d("taken_over_total", "Claims this node lost to another node."),
		reclaim:      d("reclaims_total", "Claims written again after they expired (a partition longer than the TTL)."),
		beatErrors:   d("heartbeat_errors_total", "Heartbeats that could not be written."),
		natsEvents:   d("nats_events_total", "NATS connection losses (disconnect) and returns (reconnect).", "event"),
		pullTokens:   d("pull_tokens_total", "Pull tokens this node minted for other nodes, and redeemed or refused in watch handshakes.", "result"),
		tokens:       d("broadcast_tokens_total", "One-time broadcast tokens redeemed or refused through the cluster.", "result"),
		kick:         d("kicks_received_total", "Kicks received from the cluster (any node's kick endpoint)."),
	}
}

// Describe sends the collector's descriptors.
func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.pulls, c.pullsServed, c.pullBytes, c.pullConnects, c.pullFailures, c.pullsLost,
		c.refused, c.dirErrors, c.malformed, c.claims, c.takenOver, c.reclaim, c.beatErrors, c.natsEvents,
		c.pullTokens, c.tokens, c.kick} {
		ch <- d
	}
}

// Collect reads the cluster counters at scrape time.
func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	cc, ok := c.srv.ClusterCounters()
	if !ok {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	up := 0.0
	if cc.Healthy == nil {
		up = 1
	}
	m := cc.Directory
	gauge(c.up, up)
	gauge(c.pulls, float64(cc.Pulls))
	gauge(c.pullsServed, float64(cc.PullsServed))
	counter(c.pullBytes, uint64(cc.PullBytesIn), "in")
	counter(c.pullBytes, uint64(cc.PullBytesOut), "out")
	counter(c.pullConnects, uint64(cc.PullConnects))
	counter(c.pullFailures, uint64(cc.PullFailures))
	counter(c.pullsLost, uint64(cc.PullsLost))
	counter(c.refused, uint64(cc.LookupsRefused))
	counter(c.dirErrors, m.DirectoryErrors.Load())
	counter(c.malformed, m.Malformed.Load())
	counter(c.claims, m.Claims.Load())
	counter(c.takenOver, m.TakenOver.Load())
	counter(c.reclaim, m.Reclaims.Load())
	counter(c.beatErrors, m.HeartbeatErrors.Load())
	counter(c.natsEvents, m.Disconnects.Load(), "disconnect")
	counter(c.natsEvents, m.Reconnects.Load(), "reconnect")
	counter(c.pullTokens, m.PullTokensMinted.Load(), "minted")
	counter(c.pullTokens, m.PullTokensRedeemed.Load(), "redeemed")
	counter(c.pullTokens, m.PullTokensRefused.Load(), "refused")
	counter(c.tokens, m.TokensRedeemed.Load(), "redeemed")
	counter(c.tokens, m.TokensRefused.Load(), "refused")
	counter(c.kick, m.KicksReceived.Load())
}

// parseConnID parses a kick's connection id; "" is 0 (everyone).
func parseConnID(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("connection id %q is not a positive integer", s)
	}
	return id, nil
}
