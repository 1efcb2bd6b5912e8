package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/cluster"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

// A pull carries a channel ingested on another node: one upstream watch
// connection, published into the local hub as the channel's broadcaster.
// Its goroutine (run) connects, feeds the hub until the connection ends,
// and connects again with backoff, for as long as local watchers (or nodes
// pulling from this one) want the channel and a little longer (Linger).
// Between two upstream connections the local channel is in its grace
// period, so watchers stay; a new origin in the directory wakes the pull at
// once.

const (
	// Backoff between upstream attempts: from minBackoff, doubling up to
	// maxBackoff, with jitter, so that a refused pull never loops tightly
	// and pullers of a failed origin do not come back in step.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// pullDialTimeout bounds dialling a node and its handshake.
	pullDialTimeout = 5 * time.Second
	// viaPull is how a pull connection of another node shows among a
	// channel's watchers.
	viaPull = "pull"
)

// errPullEnded tells a waiting watcher that the pull it waited for ended
// without a verdict on the channel (it lingered out, or a local broadcaster
// took the channel over): look again.
var errPullEnded = errors.New("server: pull ended")

// errNewOrigin cuts a pull from an origin that was taken over.
var errNewOrigin = errors.New("server: the channel has a new origin")

type pull struct {
	cs     *clusterSide
	key    hub.Key
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{} // a new origin: try again now
	done   chan struct{} // closed when run has returned

	mu          sync.Mutex
	live        chan struct{} // closed while an upstream feeds the hub
	err         error         // why the pull ended
	entry       cluster.Entry // the channel's directory entry, for passwords
	hasEntry    bool
	upstream    string    // the node pulled from now
	up          *upstream // the upstream connection, while there is one
	repick      bool      // the origin changed: reconnect without backoff
	established bool      // an upstream has fed the hub at least once
	closing     bool      // lingered out or ended: takes no more watchers
	linger      *time.Timer
	lingerGen   uint64 // tells a linger timer that fired from a stopped one
}

// startPull starts pulling key for the watchers it has already: a channel
// taken over from a local broadcaster keeps them.
func (cs *clusterSide) startPull(key hub.Key) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, err := cs.pullLocked(key); err == nil {
		cs.interestLocked(key)
	}
}

// interestLocked tells the pull of key, if any, whether anyone wants the
// channel: local watchers (joined or waiting to) and nodes pulling it from
// this one. Expects cs.mu.
func (cs *clusterSide) interestLocked(key hub.Key) {
	p := cs.pulls[key]
	if p == nil {
		return
	}
	if cs.local[key]+cs.served[key] > 0 {
		p.busy()
	} else {
		p.idle()
	}
}

// pullLocked returns the pull of key, starting one if there is none.
// Expects cs.mu.
func (cs *clusterSide) pullLocked(key hub.Key) (*pull, error) {
	if p := cs.pulls[key]; p != nil {
		return p, nil
	}
	if cs.closed {
		return nil, joinRefusal(protocol.ReasonBusy, "server is shutting down", hub.ErrHubClosed)
	}
	if max := cs.s.cfg.MaxChannels; max > 0 && len(cs.pulls) >= max {
		return nil, joinRefusal(protocol.ReasonBusy, fmt.Sprintf("server pulls its maximum of %d channels", max), hub.ErrTooManyChannels)
	}
	p := &pull{cs: cs, key: key, wake: make(chan struct{}, 1), done: make(chan struct{}), live: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(cs.ctx)
	cs.pulls[key] = p
	cs.wg.Add(1)
	go p.run()
	return p, nil
}

// admit decides whether a watcher (not a pull) may join key on this node
// and, for a channel ingested elsewhere, makes sure this node pulls it and
// checks the channel password against the directory's hash. It returns a
// function to call when the watcher leaves.
func (cs *clusterSide) admit(ctx context.Context, key hub.Key, password string) (leave func(), err error) {
	for range 3 {
		leave, err = cs.tryAdmit(ctx, key, password)
		if !errors.Is(err, errPullEnded) {
			return leave, err
		}
	}
	return nil, notLive(key)
}

func (cs *clusterSide) tryAdmit(ctx context.Context, key hub.Key, password string) (func(), error) {
	leave := func() { cs.countWatcher(key, -1) }
	cs.mu.Lock()
	p := cs.pulls[key]
	if p == nil && cs.ingests[key] != nil {
		cs.local[key]++
		cs.mu.Unlock()
		return leave, nil // a local broadcaster: the hub checks the password
	}
	cs.mu.Unlock()
	if p == nil {
		if ch := cs.s.hub.Channel(key); ch != nil && ch.Stats().Live {
			cs.countWatcher(key, 1)
			return leave, nil // fed here: the hub decides
		}
	}
	cs.mu.Lock()
	p, err := cs.pullLocked(key)
	if err != nil {
		cs.mu.Unlock()
		return nil, err
	}
	if p.isClosing() {
		cs.mu.Unlock()
		select { // a pull lingering out: wait for it to go, then start anew
		case <-p.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, errPullEnded
	}
	cs.local[key]++
	cs.interestLocked(key)
	cs.mu.Unlock()
	if err := p.waitLive(ctx); err != nil {
		leave()
		return nil, err
	}
	e, ok := p.currentEntry()
	if ok && !cs.node.CheckPassword(e, password) {
		leave()
		return nil, joinRefusal(protocol.ReasonForbidden, "wrong channel password", hub.ErrWrongPassword)
	}
	return leave, nil
}

// admitPull redeems a watch handshake's pull token: another node pulls key
// from this one. It returns what the connection shows as in status output.
func (cs *clusterSide) admitPull(key hub.Key, token string) (leave func(), from string, err error) {
	from, ok := cs.node.RedeemPullToken(token, cluster.Key(key))
	if !ok {
		return nil, "", joinRefusal(protocol.ReasonForbidden, "invalid pull token", ErrPullToken)
	}
	cs.mu.Lock()
	cs.served[key]++ // on a relay, the downstream node keeps our pull
	cs.interestLocked(key)
	cs.mu.Unlock()
	return func() {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.served[key]--; cs.served[key] <= 0 {
			delete(cs.served, key)
		}
		cs.interestLocked(key)
	}, from, nil
}

// busy stops the linger time: someone wants the channel.
func (p *pull) busy() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.linger != nil {
		p.linger.Stop()
		p.linger = nil
		p.lingerGen++
	}
}

// idle starts the linger time of an established pull that nobody wants
// any more, and ends one that never connected at once.
func (p *pull) idle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closing || p.linger != nil:
	case !p.established:
		p.stopLocked()
	default:
		gen := p.lingerGen
		p.linger = time.AfterFunc(p.cs.node.Linger(), func() { p.lingerExpired(gen) })
	}
}

func (p *pull) isClosing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing
}

func (p *pull) lingerExpired(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen == p.lingerGen && p.linger != nil && !p.closing { // not stopped by busy meanwhile
		p.stopLocked()
	}
}

// end stops the pull for good (a local broadcaster took the channel, or
// shutdown).
func (p *pull) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
}

// stopLocked makes the pull end: its goroutine's calls are cancelled and a
// read from the upstream returns at once. Expects p.mu.
func (p *pull) stopLocked() {
	p.closing = true
	if p.up != nil {
		p.up.cut(errPullEnded)
	}
	p.cancel()
}

// waitLive waits until an upstream feeds the local channel, the pull
// fails, or the watcher's patience (the handshake timeout) runs out.
func (p *pull) waitLive(ctx context.Context) error {
	p.mu.Lock()
	live := p.live
	p.mu.Unlock()
	select {
	case <-p.done:
		return p.result()
	default:
	}
	t := time.NewTimer(p.cs.s.cfg.HandshakeTimeout)
	defer t.Stop()
	select {
	case <-live:
		return nil
	case <-p.done:
		return p.result()
	case <-ctx.Done():
		return ctx.Err()
	case <-p.cs.s.done:
		return joinRefusal(protocol.ReasonBusy, "server is shutting down", hub.ErrHubClosed)
	case <-t.C:
		return joinRefusal(protocol.ReasonBusy, "the node that carries this channel did not answer in time; try again", ErrUpstream)
	}
}

// result is why the pull ended, for a waiting watcher.
func (p *pull) result() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		return errPullEnded
	}
	return p.err
}

func (p *pull) currentEntry() (cluster.Entry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.entry, p.hasEntry
}

// upstreamChanged is the OnUpstreamChanged hook: the channel got a new
// origin or a new broadcast (live), or left the directory. For a new
// origin, a pull from the old origin itself reconnects at once; a pull
// from a relay keeps it, since the relay follows. A pull waiting to retry
// tries at once. A channel whose entry expired (its origin stopped
// heartbeating: dead or cut off) cuts an upstream that has gone quiet at
// once, unless the deletion is older than the entry the pull connected
// under; the local watchers are in their grace period until a new origin
// appears. A released channel ends by itself at the origin.
func (cs *clusterSide) upstreamChanged(k cluster.Key, e cluster.Entry, live bool) {
	cs.mu.Lock()
	p := cs.pulls[hub.Key(k)]
	cs.mu.Unlock()
	if p == nil || (live && e.Origin == cs.name) {
		return // a local broadcaster took the channel: its Publish ends the pull
	}
	p.mu.Lock()
	// A new broadcast on the same origin process continues on the same
	// connection; only a new origin process (a takeover) cuts it.
	direct := live && p.hasEntry && p.upstream == p.entry.Origin && p.entry.Session != e.Session
	// A released channel ends at its origin, and the upstream with it,
	// after the bytes in flight. An expired entry means a dead or cut-off
	// origin, or a late heartbeat: a quiet upstream is checked at once
	// (the reader asks the directory and pings the origin); one whose
	// stream still flows is checked when it falls silent.
	gone := !live && e.Expired && p.up != nil && (e.Revision == 0 || e.Revision > p.entry.Revision) &&
		p.up.silentFor() >= p.up.period/2
	if live {
		p.entry, p.hasEntry = e, true
	}
	switch {
	case p.up == nil:
	case direct:
		p.repick = true
		p.up.cut(fmt.Errorf("%w (%s)", errNewOrigin, e.Origin))
	case gone:
		p.up.poke()
	case live:
		p.up.follow(e.Origin, e.Session) // a relay follows the new origin
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	cs.log.Info("cluster: channel origin changed", "user", k.User, "channel", k.Channel, "live", live, "origin", e.Origin,
		"expired", e.Expired, "reconnect", direct, "check", gone)
}

// run is the pull's goroutine: connect, feed, retry, until it ends.
func (p *pull) run() {
	defer p.cs.wg.Done()
	defer p.finish()
	backoff := minBackoff
	for {
		fed, err := p.feed()
		if p.ctx.Err() != nil {
			p.setErr(errPullEnded)
			return
		}
		var ev *hub.EvictedError
		if errors.As(err, &ev) { // a local broadcaster, a kick, shutdown
			p.setErr(errPullEnded)
			return
		}
		if _, _, ok := hub.ReasonOf(err); ok && !p.isEstablished() {
			p.setErr(err) // a verdict for the waiting watchers
			return
		}
		p.cs.pullFailures.Add(1)
		if errors.Is(err, errUpstreamLost) {
			p.cs.pullsLost.Add(1)
			p.cs.log.Warn("cluster pull: upstream lost; re-resolving", "user", p.key.User, "channel", p.key.Channel, "err", err)
		}
		if fed {
			backoff = minBackoff // it worked: this is a new failure
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, maxBackoff)
		if p.takeRepick() {
			wait = 0
		}
		p.cs.log.Info("cluster pull: upstream ended or failed; retrying", "user", p.key.User, "channel", p.key.Channel,
			"err", err, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-p.ctx.Done():
			t.Stop()
			p.setErr(errPullEnded)
			return
		case <-p.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// feed makes one upstream connection and feeds the hub from it until it
// ends; fed reports that it got that far. Errors before the connection are
// refusals (for waiting watchers) when the channel is not to be had;
// others are worth a retry.
func (p *pull) feed() (fed bool, err error) {
	cs := p.cs
	k := cluster.Key(p.key)
	e, err := cs.node.Lookup(p.ctx, k)
	switch {
	case errors.Is(err, cluster.ErrDirectoryUnreachable):
		cs.lookupRefused.Add(1)
		return false, joinRefusal(protocol.ReasonNotFound, "cluster directory unreachable", err)
	case err != nil:
		return false, notLive(p.key)
	case e.Origin == cs.name:
		return false, notLive(p.key) // ours: in its grace period, or just released
	}
	p.mu.Lock()
	p.entry, p.hasEntry = e, true
	p.mu.Unlock()
	addr, node, err := cs.node.PickUpstream(p.ctx, k)
	if err != nil {
		return false, fmt.Errorf("pick upstream: %w", err)
	}
	if err := cs.checkUpstream(addr, node); err != nil {
		return false, err
	}
	conn, err := cs.dialUpstream(p.ctx, addr, node, k)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	period := silencePeriod(cs.node.TTL())
	if err := keepAliveUpstream(conn, max(period/3, time.Second)); err != nil {
		cs.log.Warn("cluster pull: no keepalive on the upstream connection", "user", k.User, "channel", k.Channel, "err", err)
	}
	u := newUpstream(conn, node, e.Origin, e.Session, period)
	cs.pullConnects.Add(1)
	if err := cs.node.RegisterPull(p.ctx, k, node); err != nil {
		cs.log.Warn("cluster pull not registered in the directory", "user", k.User, "channel", k.Channel, "err", err)
	}
	pub, err := p.publish(u, addr)
	if err != nil {
		return false, err
	}
	cs.log.Info("cluster pull: upstream connected", "user", k.User, "channel", k.Channel, "from", node, "addr", addr, "origin", e.Origin)
	// Whole TS packets only, so that the next upstream's stream follows
	// a whole packet (see tsAligner).
	n, err := pub.ReadFrom(newTSAligner(&countingReader{r: newWatchedReader(u, p.checkSilence), n: &cs.pullBytesIn}))
	pub.Close()
	p.mu.Lock()
	p.up = nil
	p.live = make(chan struct{})
	p.mu.Unlock()
	if err == nil {
		err = io.EOF
	}
	return true, fmt.Errorf("upstream %s ended after %d bytes: %w", node, n, err)
}

// checkUpstream refuses to dial what a directory record names unless it
// is another node's usable address.
func (cs *clusterSide) checkUpstream(addr, node string) error {
	if node == cs.name || addr == cs.node.Addr() {
		return fmt.Errorf("upstream %s (%s) is this node", node, addr)
	}
	if err := cluster.CheckAdvertise(addr); err != nil {
		return fmt.Errorf("upstream %s: %w", node, err)
	}
	return nil
}

// dialUpstream asks node for a pull token over NATS and opens the watch
// connection with it, joining at the latest keyframe.
func (cs *clusterSide) dialUpstream(ctx context.Context, addr, node string, k cluster.Key) (net.Conn, error) {
	tok, err := cs.node.RequestPullToken(ctx, node, k)
	if err != nil {
		return nil, err
	}
	c, err := client.Dial(ctx, client.Options{
		Addr:             addr,
		TLS:              cs.pullTLS,
		DialTimeout:      pullDialTimeout,
		HandshakeTimeout: pullDialTimeout,
		Request: protocol.Request{Command: protocol.CommandWatch, User: k.User, Channel: k.Channel,
			Params: map[string]string{protocol.KeyJoin: string(hub.JoinGOP), protocol.KeyPullToken: tok}},
	})
	if err != nil {
		return nil, fmt.Errorf("pull from %s: %w", node, err)
	}
	return c, nil
}

// publish makes the upstream connection the local channel's broadcaster,
// unless a local broadcaster feeds it or the pull is ending.
func (p *pull) publish(u *upstream, addr string) (*hub.Publisher, error) {
	cs := p.cs
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.ingests[p.key] != nil || cs.pulls[p.key] != p || cs.closed {
		return nil, &hub.EvictedError{Reason: hub.ReasonTakenOver}
	}
	pub, err := cs.s.hub.Publish(p.key, hub.PublishOptions{
		ID:     cs.s.nextID.Add(1),
		Remote: fmt.Sprintf("node %s (%s)", u.node, addr),
		OnStop: func(r hub.CloseReason) { u.cut(&hub.EvictedError{Reason: r}) },
	})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing { // ended while dialling: ReadFrom returns at once
		u.cut(errPullEnded)
	}
	p.up, p.upstream, p.established = u, u.node, true
	close(p.live)
	return pub, nil
}

func (p *pull) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

func (p *pull) isEstablished() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.established
}

func (p *pull) takeRepick() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.repick
	p.repick = false
	return r
}

// finish unregisters the pull and forgets it. Until it is forgotten no new
// pull of the key starts, so that this one's unregistering cannot delete
// the next one's record.
func (p *pull) finish() {
	cs := p.cs
	p.mu.Lock()
	p.closing = true
	if p.linger != nil {
		p.linger.Stop()
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cluster.DefaultOpTimeout)
	if err := cs.node.UnregisterPull(ctx, cluster.Key(p.key)); err != nil {
		cs.log.Info("cluster pull record left to expire", "user", p.key.User, "channel", p.key.Channel, "err", err)
	}
	cancel()
	cs.mu.Lock()
	if cs.pulls[p.key] == p {
		delete(cs.pulls, p.key)
	}
	cs.mu.Unlock()
	p.cancel()
	close(p.done)
	cs.log.Info("cluster pull ended", "user", p.key.User, "channel", p.key.Channel)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
