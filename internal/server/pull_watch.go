package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/cluster"
)

// Upstream liveness. The client wire protocol has no heartbeat, and a
// pulling node only reads, so an origin that vanishes without a FIN or an
// RST (a partition, a frozen host) would leave the pull waiting on a silent
// socket. A pull notices in three ways:
//
//  1. The socket: keepalive probes every third of the directory TTL (at
//     least a second) and, on Linux, TCP_USER_TIMEOUT, so that a peer gone
//     from the network fails the read within four probe periods instead of
//     the kernel's minutes.
//  2. The directory, pushed: the channel claimed by another origin
//     process cuts the upstream at once (upstreamChanged); its entry
//     expired (the origin's heartbeat stopped) while the upstream is quiet
//     makes the pull check at once, as in 3.
//  3. The directory, asked: after a read silence of one TTL the pull asks
//     whether the channel still has the origin it connected under, and,
//     when it pulls from a relay, whether the relay is still in the
//     directory; a record that vanished (perhaps a late heartbeat) is
//     followed by a ping of its node over NATS, and only silence there
//     gives the upstream up. For a media channel the directory holds (its broadcaster
//     is live there) a silence of mediaSilenceGOPs GOPs is a broken path:
//     the pull cuts and connects again. A generic stream may be silent by
//     nature, so for it silence alone never cuts.
//
// When NATS is unreachable the directory cannot tell, and running pulls go
// on unchanged (docs/CLUSTER.md, "When NATS fails").

const (
	// keepAliveProbes is how many unanswered keepalive probes end an
	// upstream connection.
	keepAliveProbes = 3
	// mediaSilenceGOPs is how many GOPs of silence from the upstream of a
	// live media channel make a broken path.
	mediaSilenceGOPs = 4
)

// errUpstreamLost wraps why a pull gave up an upstream connection that
// had not ended by itself.
var errUpstreamLost = errors.New("server: upstream lost")

func upstreamLost(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUpstreamLost, fmt.Sprintf(format, args...))
}

// upstream is one upstream connection of a pull.
type upstream struct {
	conn    net.Conn
	node    string        // the node it comes from
	origin  string        // the origin node it carries; guarded by mu
	session string        // the origin process it carries; guarded by mu
	period  time.Duration // the silence that makes the pull ask the directory
	last    atomic.Int64  // when the last byte arrived, in Unix nanoseconds

	// mu is a leaf lock: it orders the read deadline's changes, so that a
	// cut (a deadline in the past) is never undone by the reader pushing
	// the deadline on.
	// It guards origin and session too.
	mu    sync.Mutex
	cause error // why the pull cut the connection; nil while it is wanted
	poked bool  // the directory asks for a check now: the deadline is past
}

// silencePeriod is how long a pull reads nothing before it asks the
// directory about its upstream: the directory's TTL, at least a second.
func silencePeriod(ttl time.Duration) time.Duration { return max(ttl, time.Second) }

func newUpstream(conn net.Conn, node, origin, session string, period time.Duration) *upstream {
	u := &upstream{conn: conn, node: node, origin: origin, session: session, period: period}
	u.last.Store(time.Now().UnixNano())
	return u
}

// silentFor is how long the upstream has sent nothing.
func (u *upstream) silentFor() time.Duration { return time.Since(time.Unix(0, u.last.Load())) }

// cut makes the reader return cause at once. The first cause wins.
func (u *upstream) cut(cause error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cause == nil {
		u.cause = cause
	}
	u.conn.SetReadDeadline(aLongTimeAgo)
}

// poke makes the reader check the upstream with the directory now.
func (u *upstream) poke() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cause == nil {
		u.poked = true
		u.conn.SetReadDeadline(aLongTimeAgo)
	}
}

// arm sets the read deadline to t, unless the connection was cut or a
// check is due.
func (u *upstream) arm(t time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cause == nil && !u.poked {
		u.conn.SetReadDeadline(t)
	}
}

// timedOut is called when a read passed its deadline: it returns why the
// connection was cut, or nil (and clears a poke) when a check is due.
func (u *upstream) timedOut() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.poked = false
	return u.cause
}

// follow records the origin a relay now pulls from.
func (u *upstream) follow(origin, session string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.origin, u.session = origin, session
}

// carries is the origin node and process the connection carries.
func (u *upstream) carries() (origin, session string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.origin, u.session
}

// watchedReader reads an upstream connection under a read deadline of one
// silence period, pushed on as bytes arrive; when it passes, the pull asks
// the directory (check) whether to go on waiting.
type watchedReader struct {
	u     *upstream
	check func(u *upstream, silent time.Duration) error
	armed time.Time // when the deadline was last pushed on
}

func newWatchedReader(u *upstream, check func(*upstream, time.Duration) error) *watchedReader {
	return &watchedReader{u: u, check: check}
}

func (r *watchedReader) Read(b []byte) (int, error) {
	for {
		// Pushing the deadline on costs a timer update: do it a few
		// times per period, not at every read.
		if now := time.Now(); now.Sub(r.armed) >= r.u.period/4 {
			r.armed = now
			r.u.arm(now.Add(r.u.period))
		}
		n, err := r.u.conn.Read(b)
		if n > 0 {
			r.u.last.Store(time.Now().UnixNano())
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if cause := r.u.timedOut(); cause != nil {
			return n, cause
		}
		if err := r.check(r.u, r.u.silentFor()); err != nil {
			r.u.cut(err)
			return n, err
		}
		r.armed = time.Time{}
		if n > 0 {
			return n, nil
		}
	}
}

// checkSilence asks the directory whether the pull should go on waiting
// on an upstream that has sent nothing for silent (or whose channel's
// entry just expired). A record that vanished may be a late heartbeat, so
// the node it named is pinged before the upstream is given up.
func (p *pull) checkSilence(u *upstream, silent time.Duration) error {
	cs := p.cs
	k := cluster.Key(p.key)
	silent = silent.Round(time.Millisecond)
	origin, session := u.carries()
	e, err := cs.node.Lookup(p.ctx, k)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
		s, err := cs.node.Ping(p.ctx, origin)
		if errors.Is(err, cluster.ErrNoAnswer) || err == nil && s != session {
			return upstreamLost("silent for %v; the channel left the directory and its origin %s does not answer", silent, origin)
		}
		cs.log.Info("cluster pull: the channel's entry is gone but its origin answers, or cannot be asked; waiting on",
			"user", k.User, "channel", k.Channel, "origin", origin, "err", err)
		return nil
	case err != nil:
		cs.log.Debug("cluster pull: silent upstream not checked", "user", k.User, "channel", k.Channel, "err", err)
		return nil // the directory cannot tell: go on as without it
	case e.Session != session:
		return upstreamLost("silent for %v, and the channel has a new origin (%s)", silent, e.Origin)
	}
	if u.node != e.Origin {
		_, err := cs.node.LookupNode(p.ctx, u.node)
		if errors.Is(err, cluster.ErrNotFound) {
			if _, err := cs.node.Ping(p.ctx, u.node); errors.Is(err, cluster.ErrNoAnswer) {
				return upstreamLost("silent for %v; relay %s left the directory and does not answer", silent, u.node)
			}
		}
	}
	if ch := cs.s.hub.Channel(p.key); ch != nil {
		gop := ch.Stats().Media.GOPDuration
		if gop > 0 && silent >= max(mediaSilenceGOPs*gop, u.period) {
			return upstreamLost("no byte for %v (GOP %v) while %s holds the channel", silent, gop.Round(time.Millisecond), e.Origin)
		}
	}
	return nil
}

// keepAliveUpstream has the kernel probe an upstream connection every
// period and give it up after keepAliveProbes unanswered probes, or as
// long with data unacknowledged (TCP_USER_TIMEOUT, Linux only).
func keepAliveUpstream(c net.Conn, period time.Duration) error {
	if cc, ok := c.(*client.Conn); ok {
		c = cc.Conn
	}
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	err := tcp.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: period, Interval: period, Count: keepAliveProbes})
	if err != nil {
		return fmt.Errorf("keepalive: %w", err)
	}
	return setUserTimeout(tcp, (1+keepAliveProbes)*period)
}
