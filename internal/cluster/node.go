package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Node is this process's membership in the cluster: its NATS connection,
// its records in the directory and the goroutines that keep them alive.
// It is safe for concurrent use. Open starts it; Close stops it and waits
// for its goroutines.
type Node struct {
	cfg     Config
	log     *slog.Logger
	session string
	since   time.Time
	ttl     time.Duration // the bucket's TTL, which may differ from cfg.TTL

	nc    *nats.Conn
	js    jetstream.JetStream
	kv    jetstream.KeyValue // the directory
	tokKV jetstream.KeyValue // one-time broadcast tokens

	pw      *passwordChecker
	tokens  *PullTokens
	metrics Metrics

	watchers atomic.Int64 // reported by ReportLoad
	channels atomic.Int64

	// beatMu is held for a whole heartbeat and while Leave deletes, so
	// that no beat rewrites a record Leave just deleted. Lock order:
	// beatMu, then mu. OnTakenOver may run under it: hooks must not
	// call Leave.
	beatMu sync.Mutex

	mu      sync.Mutex
	claims  map[Key]*claimState // guarded by mu
	pulling map[Key]*pullState  // guarded by mu
	// claiming counts claims being written: a node told of the new
	// entry may ask for a pull token before Claim has returned.
	claiming map[Key]int       // guarded by mu
	nextID   uint64            // guarded by mu
	closed   bool              // guarded by mu
	leaving  bool              // Leave is deleting our records; guarded by mu
	beatErr  error             // the last heartbeat's failure; guarded by mu
	badSeen  map[string]uint64 // malformed records logged: key -> revision; guarded by mu

	beatNow  chan struct{} // asks the heartbeat loop for a beat at once
	rewatchC chan struct{} // asks the watch loop for a new watcher
	stop     chan struct{}
	wg       sync.WaitGroup
	subs     []*nats.Subscription
}

// claimState is a channel this node ingests, as last written.
type claimState struct {
	id    uint64 // the Claim handle's id
	entry Entry  // as written, Revision included
	// pending marks a claim made while the directory was unreachable:
	// the heartbeat writes it as a new claim once NATS is back.
	pending bool
}

// pullState is a channel this node pulls.
type pullState struct {
	upstream string
	origin   string    // the origin's session when the pull was registered
	start    time.Time // and its broadcaster's start: a new broadcast is news too
	watchers int64     // as last reported by SetWatchers
}

// controlBuffer bounds control messages (kicks, token requests, pings)
// waiting for the control goroutine; beyond it NATS drops them and
// reports a slow consumer.
const controlBuffer = 256

// maxBadSeen bounds the malformed records remembered as already logged.
const maxBadSeen = 1024

// Open connects to NATS, creates the buckets if missing, registers this
// node and starts its heartbeat. ctx bounds the setup.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		log:      cfg.Logger,
		session:  newSession(),
		since:    time.Now(),
		pw:       newPasswordChecker(),
		claims:   make(map[Key]*claimState),
		pulling:  make(map[Key]*pullState),
		claiming: make(map[Key]int),
		badSeen:  make(map[string]uint64),
		beatNow:  make(chan struct{}, 1),
		rewatchC: make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("node", cfg.NodeName)
	n.tokens = NewPullTokens(0, nil)
	if err := n.connect(); err != nil {
		return nil, err
	}
	if err := n.setup(ctx); err != nil {
		n.shutdown()
		return nil, err
	}
	n.log.Info("joined cluster", "nats", n.nc.ConnectedUrlRedacted(), "bucket", cfg.Bucket,
		"ttl", n.ttl, "advertise", cfg.Advertise, "session", n.session)
	return n, nil
}

func newSession() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (n *Node) connect() error {
	cfg := &n.cfg
	opts := []nats.Option{
		nats.Name("fstream " + cfg.NodeName),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(cfg.OpTimeout),
		// No buffering while disconnected: a write then fails at once
		// instead of landing later, stale, after the reconnect.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // our own Close
			}
			n.metrics.Disconnects.Add(1)
			n.log.Warn("lost NATS", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			n.metrics.Reconnects.Add(1)
			n.log.Info("regained NATS", "nats", nc.ConnectedUrlRedacted())
			n.kickHeartbeat()
			select {
			case n.rewatchC <- struct{}{}:
			default:
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			n.log.Warn("NATS error", "subject", subj, "err", err)
		}),
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.TLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), opts...)
	if err != nil {
		return fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	n.nc = nc
	return nil
}

// setup creates or binds the buckets, checks the node name, subscribes
// and starts the goroutines.
func (n *Node) setup(ctx context.Context) error {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return fmt.Errorf("cluster: JetStream: %w", err)
	}
	n.js = js
	ctx, cancel := context.WithTimeout(ctx, 4*n.cfg.OpTimeout)
	defer cancel()
	if err := n.openBuckets(ctx); err != nil {
		return err
	}
	if err := n.checkName(ctx); err != nil {
		return err
	}
	if err := n.subscribe(); err != nil {
		return err
	}
	w, err := n.newWatcher()
	if err != nil {
		return err
	}
	n.wg.Add(1)
	go n.watchLoop(w)
	if err := n.putNode(ctx); err != nil {
		return err
	}
	n.wg.Add(1)
	go n.heartbeatLoop()
	return nil
}

// openBuckets creates the directory and token buckets, or binds to them
// when another node created them first. The directory's TTL is the
// bucket's: a node configured otherwise follows the bucket and says so.
func (n *Node) openBuckets(ctx context.Context) error {
	dir := jetstream.KeyValueConfig{
		Bucket:         n.cfg.Bucket,
		Description:    "fstream cluster directory: nodes, channel origins, pulls",
		History:        1,
		TTL:            n.cfg.TTL,
		LimitMarkerTTL: n.cfg.TTL,
		Replicas:       n.cfg.Replicas,
		MaxValueSize:   maxRecord,
	}
	kv, err := n.createOrBind(ctx, dir)
	if err != nil {
		return err
	}
	n.kv = kv
	n.ttl = n.cfg.TTL
	st, err := kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("cluster: bucket %s: %w", dir.Bucket, n.unreachable(err))
	}
	if st.TTL() != n.cfg.TTL {
		if st.TTL() < MinTTL {
			return fmt.Errorf("cluster: bucket %s has TTL %v; it must expire records (at least %v)", dir.Bucket, st.TTL(), MinTTL)
		}
		n.log.Warn("cluster bucket has another TTL; following the bucket", "bucket", dir.Bucket, "bucket_ttl", st.TTL(), "configured_ttl", n.cfg.TTL)
		n.ttl = st.TTL()
	}
	tok := jetstream.KeyValueConfig{
		Bucket:      n.cfg.tokenBucket(),
		Description: "fstream cluster: one-time broadcast tokens (SHA-256 digests)",
		History:     1,
		// Tokens expire by per-message TTL (set by the node that mints
		// each one), which needs limit markers on the bucket.
		LimitMarkerTTL: MinTTL,
		Replicas:       n.cfg.Replicas,
		MaxValueSize:   maxRecord,
	}
	if n.tokKV, err = n.createOrBind(ctx, tok); err != nil {
		return err
	}
	return nil
}

func (n *Node) createOrBind(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := n.js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = n.js.KeyValue(ctx, cfg.Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: bucket %s: %w", cfg.Bucket, n.unreachable(err))
	}
	return kv, nil
}

// checkName refuses to start when another live process answers for our
// node name. A record left by a dead process (a restart within the TTL)
// does not answer the ping and is overwritten.
func (n *Node) checkName(ctx context.Context) error {
	e, err := n.kv.Get(ctx, nodeKey(n.cfg.NodeName))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster: read own node record: %w", n.unreachable(err))
	}
	old, err := decodeNode(e.Key(), e.Value())
	if err != nil {
		return nil // not a record we could trust; ours replaces it
	}
	pctx, cancel := context.WithTimeout(ctx, min(n.cfg.OpTimeout, time.Second))
	defer cancel()
	msg, err := n.nc.RequestWithContext(pctx, n.subject("ping", n.cfg.NodeName), nil)
	if err != nil {
		return nil // nobody answers: the old process is gone
	}
	return fmt.Errorf("%w: %q (session %s, since %v, answers as %q)", ErrNodeNameInUse,
		n.cfg.NodeName, old.Session, old.Since.Format(time.RFC3339), string(msg.Data))
}

// subject returns "fstream.<bucket>.<verb>.<node>" (node encoded), or
// "fstream.<bucket>.<verb>" when node is empty.
func (n *Node) subject(verb, node string) string {
	s := n.cfg.subjectPrefix() + "." + verb
	if node != "" {
		s += "." + enc(node)
	}
	return s
}

// Healthy returns nil when the node is connected to NATS and its last
// heartbeat was written, and an error wrapping ErrDirectoryUnreachable
// otherwise.
func (n *Node) Healthy() error {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if !n.nc.IsConnected() {
		return fmt.Errorf("%w: not connected to NATS (%v)", ErrDirectoryUnreachable, n.nc.Status())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.beatErr
}

// Name returns this node's name.
func (n *Node) Name() string { return n.cfg.NodeName }

// Session returns this process's session id, new at every Open.
func (n *Node) Session() string { return n.session }

// Addr returns this node's advertise address.
func (n *Node) Addr() string { return n.cfg.Advertise }

// TTL returns the directory's TTL in force (the bucket's).
func (n *Node) TTL() time.Duration { return n.ttl }

// Linger returns the configured linger of pulled channels.
func (n *Node) Linger() time.Duration { return n.cfg.Linger }

// Metrics returns the node's counters.
func (n *Node) Metrics() *Metrics { return &n.metrics }

// PullTokens returns the store of pull tokens this node minted for other
// nodes; the server redeems a watch handshake's pull-token= in it.
func (n *Node) PullTokens() *PullTokens { return n.tokens }

// ReportLoad sets the watcher and channel counts published in this node's
// record (Nodes shows them).
func (n *Node) ReportLoad(watchers int64, channels int) {
	n.watchers.Store(max(watchers, 0))
	n.channels.Store(int64(max(channels, 0)))
}

// Leave deletes this node's records (its claims, pulls and node record)
// so that other nodes see it gone at once rather than within the TTL, then
// closes the node. A graceful shutdown calls it instead of Close.
func (n *Node) Leave(ctx context.Context) error {
	n.beatMu.Lock()
	n.mu.Lock()
	n.leaving = true
	claims := make([]Claim, 0, len(n.claims))
	for k, c := range n.claims {
		claims = append(claims, Claim{Key: k, Revision: c.entry.Revision, id: c.id})
	}
	pulls := make([]Key, 0, len(n.pulling))
	for k := range n.pulling {
		pulls = append(pulls, k)
	}
	n.mu.Unlock()
	n.beatMu.Unlock() // leaving is set: no beat writes any more
	var errs []error
	for _, c := range claims {
		errs = append(errs, n.Release(ctx, c))
	}
	for _, k := range pulls {
		errs = append(errs, n.UnregisterPull(ctx, k))
	}
	if ctx, cancel, err := n.begin(ctx); err != nil {
		errs = append(errs, err)
	} else {
		if err := n.kv.Delete(ctx, nodeKey(n.cfg.NodeName)); err != nil {
			errs = append(errs, n.fail("delete node record", err))
		}
		cancel()
	}
	errs = append(errs, n.Close())
	return errors.Join(errs...)
}

// Close leaves the cluster: it stops the goroutines and closes the NATS
// connection. It does not release claims or pulls (they expire within the
// TTL; call Release first for a prompt hand-over). Close is idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.shutdown()
	n.log.Info("left cluster")
	return nil
}

// shutdown stops what setup started, waits for it and closes the
// connection.
func (n *Node) shutdown() {
	n.unsubscribe()
	close(n.stop)
	n.wg.Wait()
	n.nc.Close()
}

func (n *Node) unsubscribe() {
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
}

// begin starts a directory call: it fails fast when the node is closed or
// not connected, and bounds the call by OpTimeout.
func (n *Node) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return nil, nil, ErrClosed
	}
	if !n.nc.IsConnected() {
		n.metrics.DirectoryErrors.Add(1)
		return nil, nil, fmt.Errorf("%w: not connected to NATS", ErrDirectoryUnreachable)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.OpTimeout)
	return ctx, cancel, nil
}

// unreachable classifies err: a timeout, a missing responder or a lost
// connection wraps ErrDirectoryUnreachable; other errors pass unchanged.
func (n *Node) unreachable(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, nats.ErrJetStreamNotEnabled):
		return fmt.Errorf("%w: %w", ErrDirectoryUnreachable, err)
	}
	return err
}

// fail counts a failed directory call and classifies its error.
func (n *Node) fail(what string, err error) error {
	n.metrics.DirectoryErrors.Add(1)
	return fmt.Errorf("cluster: %s: %w", what, n.unreachable(err))
}
