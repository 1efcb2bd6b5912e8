package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/cluster"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

// A server joined to a cluster (JoinCluster) is one node of it; package
// cluster keeps the directory in NATS, this file and pull.go wire it to
// the hub (docs/CLUSTER.md, "What the server does"):
//
//   - a broadcaster claims its channel in the directory; the claim is
//     released one grace period after the broadcaster left, so that
//     pulling nodes keep their connections through the grace, as local
//     watchers do;
//   - a claim taken over by another node stops the local broadcaster with
//     "taken-over"; watchers that remain pull from the new origin;
//   - a watcher of a channel ingested elsewhere starts (or joins) a pull:
//     one upstream watch connection to another node, published into the
//     local hub, so local watchers get the same joins and policies as
//     watchers of a local broadcaster;
//   - a watch with a pull token is another node pulling: no channel
//     password, counted as a pull, not a watcher.
//
// Locks: clusterSide.mu before pull.mu before the hub's locks. Hooks from
// the cluster node run on its goroutines and never block.

// ClusterConfig configures a server's part in a cluster.
type ClusterConfig struct {
	// Cluster configures the directory node; JoinCluster sets its hooks.
	Cluster cluster.Config
	// PullTLS, if set, makes pulls dial other nodes with TLS, with this
	// configuration (the server name is taken from the node's address).
	PullTLS *tls.Config
	// TokenTTL is the lifetime of the cluster-wide one-time broadcast
	// tokens that replace Config.Tokens; zero means the auth default.
	TokenTTL time.Duration
}

// loadInterval is how often the node's load and per-channel watcher counts
// are handed to the directory node, which writes them with its heartbeat.
const loadInterval = time.Second

// clusterSide is the server's part in a cluster.
type clusterSide struct {
	s       *Server
	node    *cluster.Node
	name    string // this node's name (known before node is set)
	log     *slog.Logger
	pullTLS *tls.Config

	pullBytesIn   atomic.Int64 // bytes read from upstream nodes
	pullBytesOut  atomic.Int64 // bytes written to pulling nodes, by connections that ended
	pullsServed   atomic.Int64 // pull connections of other nodes served now
	pullConnects  atomic.Int64 // upstream connections made
	pullFailures  atomic.Int64 // upstream attempts that failed or ended, then retried
	pullsLost     atomic.Int64 // upstream connections given up as dead (directory, silence)
	lookupRefused atomic.Int64 // watchers refused because the directory could not be read

	ctx    context.Context // cancelled by shutdown; parent of every pull
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu      sync.Mutex
	ingests map[hub.Key]*ingest // channels a local broadcaster feeds; guarded by mu
	pulls   map[hub.Key]*pull   // channels pulled from another node; guarded by mu
	local   map[hub.Key]int64   // local watchers (not pulls) by channel; guarded by mu
	served  map[hub.Key]int64   // pull connections served, by channel; guarded by mu
	closed  bool                // guarded by mu
}

// ingest is a local broadcaster's hold on its channel in the directory.
// Its fields are guarded by clusterSide.mu.
type ingest struct {
	key     hub.Key
	pub     *hub.Publisher // set once published
	claim   cluster.Claim
	claimed bool
}

// JoinCluster makes the server a node of a cluster: it opens the directory
// node with cfg (its hooks set to this server), and from then on
// broadcasters claim their channels cluster-wide, watchers of channels
// ingested on other nodes are served by pulling them, and one-time
// broadcast tokens (if Config.Tokens is set) work on every node. Call it
// once, before Serve. Shutdown leaves the cluster (other nodes see this
// one gone at once); Close only disconnects (its records expire within the
// directory's TTL, as a crashed node's would).
func (s *Server) JoinCluster(ctx context.Context, cfg ClusterConfig) error {
	if s.cluster != nil {
		return errors.New("server: already in a cluster")
	}
	cs := &clusterSide{
		s:       s,
		name:    cfg.Cluster.NodeName,
		log:     s.log.With("node", cfg.Cluster.NodeName),
		pullTLS: cfg.PullTLS,
		ingests: make(map[hub.Key]*ingest),
		pulls:   make(map[hub.Key]*pull),
		local:   make(map[hub.Key]int64),
		served:  make(map[hub.Key]int64),
	}
	cs.ctx, cs.cancel = context.WithCancel(context.Background())
	cc := cfg.Cluster
	if cc.Logger == nil {
		cc.Logger = s.log
	}
	cc.OnTakenOver = cs.takenOver
	cc.OnUpstreamChanged = cs.upstreamChanged
	cc.OnKick = cs.kicked
	node, err := cluster.Open(ctx, cc)
	if err != nil {
		cs.cancel()
		return err
	}
	cs.node = node
	if s.cfg.Tokens != nil {
		s.cfg.Tokens = node.Tokens(cfg.TokenTTL)
	}
	s.cluster = cs
	cs.wg.Add(1)
	go cs.reportLoad()
	return nil
}

// ClusterNode returns the server's directory node, nil when the server is
// not in a cluster. The HTTP side lists channels and nodes through it.
func (s *Server) ClusterNode() *cluster.Node {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.node
}

// ClusterKick kicks a connection from key on whichever node holds it:
// with connID 0 the broadcaster and every watcher on every node, else
// connection connID of node (this node when empty).
func (s *Server) ClusterKick(ctx context.Context, key hub.Key, node string, connID uint64) error {
	cs := s.cluster
	if cs == nil {
		return errors.New("server: not in a cluster")
	}
	id := ""
	if connID != 0 {
		if node == "" {
			node = cs.name
		}
		id = node + "/" + strconv.FormatUint(connID, 10)
	}
	return cs.node.Kick(ctx, cluster.Key(key), id)
}

// kicked is the OnKick hook: id is "" (everyone on the channel) or
// "<node>/<connection id>".
func (cs *clusterSide) kicked(k cluster.Key, id string) {
	ch := cs.s.hub.Channel(hub.Key(k))
	if ch == nil {
		return
	}
	var conn uint64
	if id != "" {
		node, num, ok := strings.Cut(id, "/")
		n, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil || n == 0 || node != cs.name {
			return
		}
		conn = n
	}
	kicked := ch.Kick(conn)
	cs.log.Info("cluster kick", "user", k.User, "channel", k.Channel, "id", conn, "kicked", kicked)
}

// ClusterCounters is a snapshot of a node's cluster counters.
type ClusterCounters struct {
	Node string
	// Healthy is nil while the directory is reachable.
	Healthy error
	// Pulls is how many channels this node pulls now (connected or
	// retrying); PullsServed how many pull connections of other nodes it
	// serves.
	Pulls       int
	PullsServed int64
	// PullBytesIn counts bytes read from upstream nodes; PullBytesOut
	// bytes written to pulling nodes (by connections that ended, plus
	// those still open).
	PullBytesIn, PullBytesOut int64
	// PullConnects counts upstream connections made, PullFailures upstream
	// attempts that failed or connections that broke and were retried.
	PullConnects, PullFailures int64
	// PullsLost counts upstream connections the node gave up as dead
	// without their ending: the directory said the channel or the relay
	// was gone, or a media stream fell silent (see pull_watch.go).
	PullsLost int64
	// LookupsRefused counts watchers refused because the directory could
	// not be read.
	LookupsRefused int64
	// Directory is the directory node's own counters.
	Directory *cluster.Metrics
}

// ClusterCounters returns the cluster counters; ok is false when the
// server is not in a cluster.
func (s *Server) ClusterCounters() (c ClusterCounters, ok bool) {
	cs := s.cluster
	if cs == nil {
		return c, false
	}
	cs.mu.Lock()
	pulls := len(cs.pulls)
	var servedKeys []hub.Key
	for k, n := range cs.served {
		if n > 0 {
			servedKeys = append(servedKeys, k)
		}
	}
	cs.mu.Unlock()
	out := cs.pullBytesOut.Load()
	for _, k := range servedKeys {
		if ch := s.hub.Channel(k); ch != nil {
			for _, w := range ch.Info().Watchers {
				if w.Via == viaPull {
					out += w.Sent
				}
			}
		}
	}
	return ClusterCounters{
		Node:           cs.name,
		Healthy:        cs.node.Healthy(),
		Pulls:          pulls,
		PullsServed:    cs.pullsServed.Load(),
		PullBytesIn:    cs.pullBytesIn.Load(),
		PullBytesOut:   out,
		PullConnects:   cs.pullConnects.Load(),
		PullFailures:   cs.pullFailures.Load(),
		PullsLost:      cs.pullsLost.Load(),
		LookupsRefused: cs.lookupRefused.Load(),
		Directory:      cs.node.Metrics(),
	}, true
}

// beginIngest marks key as fed by a local broadcaster before it publishes,
// so that no pull publishes over it, and ends a pull of key: the local
// broadcaster's Publish takes the channel over from it. The returned
// ingest is nil when the server is not in a cluster; its methods accept
// nil.
func (s *Server) beginIngest(key hub.Key) *ingest {
	cs := s.cluster
	if cs == nil {
		return nil
	}
	in := &ingest{key: key}
	cs.mu.Lock()
	cs.ingests[key] = in
	p := cs.pulls[key]
	cs.mu.Unlock()
	if p != nil {
		p.end()
	}
	return in
}

// claim writes the local broadcaster's claim of its channel. When the
// directory is unreachable the broadcaster is served here anyway; its
// claim is written once NATS is back.
func (s *Server) claim(in *ingest, pub *hub.Publisher, password string) {
	if in == nil {
		return
	}
	cs := s.cluster
	cs.mu.Lock()
	in.pub = pub // from now on a takeover stops it
	cs.mu.Unlock()
	k := cluster.Key(in.key)
	c, err := cs.node.Claim(cs.ctx, k, cluster.ClaimInfo{Start: time.Now(), Password: password})
	log := cs.log.With("user", k.User, "channel", k.Channel)
	switch {
	case errors.Is(err, cluster.ErrDirectoryUnreachable):
		log.Warn("cluster directory unreachable: channel served on this node, claimed when NATS is back", "err", err)
	case err != nil:
		log.Warn("channel not claimed in the cluster directory: served on this node only", "err", err)
		return
	default:
		log.Info("channel claimed in the cluster", "revision", c.Revision)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	in.claim, in.claimed = c, true
}

// endIngest is called when the local broadcaster has left. The claim is
// released after the grace period: a broadcaster back in time, here or on
// another node, makes its own claim, and this one is then a no-op to
// release.
func (s *Server) endIngest(in *ingest) {
	if in == nil {
		return
	}
	cs := s.cluster
	cs.mu.Lock()
	if cs.ingests[in.key] == in {
		delete(cs.ingests, in.key)
	}
	if !in.claimed || cs.closed {
		cs.mu.Unlock()
		return // Leave releases what is left at shutdown
	}
	cs.wg.Add(1)
	cs.mu.Unlock()
	go func() {
		defer cs.wg.Done()
		if g := s.cfg.BroadcasterGrace; g > 0 {
			t := time.NewTimer(g)
			defer t.Stop()
			select {
			case <-t.C:
			case <-cs.ctx.Done():
				return
			}
		}
		if err := cs.node.Release(cs.ctx, in.claim); err != nil {
			cs.log.Info("cluster claim not released; it expires", "user", in.key.User, "channel", in.key.Channel, "err", err)
		}
	}()
}

// takenOver is the OnTakenOver hook: another node claimed a channel a
// local broadcaster feeds. The broadcaster is stopped at once; watchers
// that remain now pull from the new origin.
func (cs *clusterSide) takenOver(k cluster.Key, by cluster.Entry) {
	key := hub.Key(k)
	cs.mu.Lock()
	in := cs.ingests[key]
	var pub *hub.Publisher
	if in != nil && in.pub != nil {
		delete(cs.ingests, key)
		pub = in.pub
	}
	cs.mu.Unlock()
	if pub == nil {
		return
	}
	cs.log.Info("channel taken over by another node; stopping the broadcaster", "user", k.User, "channel", k.Channel, "by", by.Origin)
	pub.Stop(hub.ReasonTakenOver)
	if ch := cs.s.hub.Channel(key); ch != nil && ch.Stats().Watchers > 0 {
		cs.startPull(key)
	}
}

// reportLoad hands the node's load and the watcher count of each channel
// it carries to the directory node, and the detected formats of the
// channels it ingests, until shutdown.
func (cs *clusterSide) reportLoad() {
	defer cs.wg.Done()
	t := time.NewTicker(loadInterval)
	defer t.Stop()
	for {
		select {
		case <-cs.ctx.Done():
			return
		case <-t.C:
		}
		cs.mu.Lock()
		counts := make(map[hub.Key]int64, len(cs.ingests)+len(cs.pulls))
		var claims []*ingest
		for k, in := range cs.ingests {
			counts[k] = cs.local[k]
			if in.claimed {
				claims = append(claims, in)
			}
		}
		for k := range cs.pulls {
			counts[k] = cs.local[k]
		}
		cs.mu.Unlock()
		for k, n := range counts {
			cs.node.SetWatchers(cluster.Key(k), n)
		}
		for _, in := range claims {
			if ch := cs.s.hub.Channel(in.key); ch != nil {
				if f := ch.Stats().Media.Format; f != "" {
					cs.node.SetFormat(in.claim, f)
				}
			}
		}
		cs.node.ReportLoad(cs.s.watchers.Load(), len(cs.s.hub.Channels()))
	}
}

// countWatcher adds d to the local watchers of key.
func (cs *clusterSide) countWatcher(key hub.Key, d int64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.local[key] += d; cs.local[key] <= 0 {
		delete(cs.local, key)
	}
	cs.interestLocked(key)
}

// shutdown stops the pulls and pending releases and waits for them, then
// leaves the cluster (deleting this node's records) or, when leave is
// false, just disconnects. It is idempotent.
func (cs *clusterSide) shutdown(leave bool) {
	cs.once.Do(func() {
		cs.mu.Lock()
		cs.closed = true
		pulls := make([]*pull, 0, len(cs.pulls))
		for _, p := range cs.pulls {
			pulls = append(pulls, p)
		}
		cs.mu.Unlock()
		for _, p := range pulls {
			p.end()
		}
		cs.cancel()
		cs.wg.Wait()
		if !leave {
			_ = cs.node.Close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*cluster.DefaultOpTimeout)
		defer cancel()
		if err := cs.node.Leave(ctx); err != nil {
			cs.log.Warn("leaving the cluster: records left to expire", "err", err)
		}
	})
}

// admission is the cluster's word on a watcher joining.
type admission struct {
	pull  bool          // another node pulling: no channel password
	count *atomic.Int64 // the gauge it counts in: watchers, or pulls served
	leave func()        // when it has left
	sent  func(n int64) // the bytes it was sent
}

// admitWatcher lets a watcher join when the server is in a cluster: a
// watch with a pull token (pull-token= in Params) is a node pulling (the
// token replaces the channel password), any other needs the channel here,
// pulled from another node if it is ingested there. Standalone, it admits
// everyone (the hub decides) and refuses pull tokens.
func (s *Server) admitWatcher(ctx context.Context, req *WatchRequest, key hub.Key) (admission, error) {
	adm := admission{count: &s.watchers, leave: func() {}, sent: func(int64) {}}
	cs := s.cluster
	token, pulling := req.Params[protocol.KeyPullToken]
	switch {
	case pulling && cs == nil:
		return adm, joinRefusal(protocol.ReasonForbidden, "pull tokens are for the nodes of a cluster; this server is in none", ErrPullToken)
	case pulling:
		leave, from, err := cs.admitPull(key, token)
		if err != nil {
			return adm, err
		}
		req.Via, req.Remote = viaPull, fmt.Sprintf("node %s (%s)", from, req.Remote)
		adm.pull, adm.count, adm.leave = true, &cs.pullsServed, leave
		adm.sent = func(n int64) { cs.pullBytesOut.Add(n) }
		return adm, nil
	case cs == nil:
		return adm, nil
	}
	leave, err := cs.admit(ctx, key, req.Password)
	if err != nil {
		return adm, err
	}
	adm.leave = leave
	return adm, nil
}

// refusal builds the hub-style refusal of a watcher, so that TCP and HTTP
// tell the peer the same reason and message.
func joinRefusal(reason protocol.Reason, msg string, err error) error {
	return &hub.JoinError{Reason: reason, Msg: msg, Err: err}
}

// notLive is the refusal of a watcher of a channel live nowhere.
func notLive(key hub.Key) error {
	return joinRefusal(protocol.ReasonNotFound, fmt.Sprintf("channel %q of user %q is not live", key.Channel, key.User), hub.ErrNotLive)
}
