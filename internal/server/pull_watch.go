package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
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
//  2. The directory, pushed: the channel's entry gone (released, or the
//     origin's heartbeat expired) or claimed by another origin process cuts
//     the upstream at once (upstreamChanged); the pull re-resolves.
//  3. The directory, asked: after a read silence of one TTL the pull asks
//     whether the channel still has the origin it connected under, and,
//     when it pulls from a relay, whether the relay is still in the
//     directory. For a media channel the directory holds (its broadcaster
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
	session string        // the origin process it carries; guarded by mu
	period  time.Duration // the silence that makes the pull ask the directory

	// mu is a leaf lock: it orders the read deadline's changes, so that a
	// cut (a deadline in the past) is never undone by the reader pushing
	// the deadline on.
	// It guards session too.
	mu    sync.Mutex
	cause error // why the pull cut the connection; nil while it is wanted
}

// silencePeriod is how long a pull reads nothing before it asks the
// directory about its upstream: the directory's TTL, at least a second.
func silencePeriod(ttl time.Duration) time.Duration { return max(ttl, time.Second) }

// cut makes the reader return cause at once. The first cause wins.
func (u *upstream) cut(cause error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cause == nil {
		u.cause = cause
	}
	u.conn.SetReadDeadline(aLongTimeAgo)
}

// arm sets the read deadline to t, unless the connection was cut.
func (u *upstream) arm(t time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cause == nil {
		u.conn.SetReadDeadline(t)
	}
}

// follow records the origin process a relay now pulls from.
func (u *upstream) follow(session string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.session = session
}

// originSession is the origin process the connection carries.
func (u *upstream) originSession() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.session
}

func (u *upstream) cutCause() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cause
}

// watchedReader reads an upstream connection under a read deadline of one
// silence period, pushed on as bytes arrive; when it passes, the pull asks
// the directory (check) whether to go on waiting.
type watchedReader struct {
	u     *upstream
	check func(u *upstream, silent time.Duration) error
	armed time.Time // when the deadline was last pushed on
	last  time.Time // when the last byte arrived
}

func newWatchedReader(u *upstream, check func(*upstream, time.Duration) error) *watchedReader {
	return &watchedReader{u: u, check: check, last: time.Now()}
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
			r.last = time.Now()
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if cause := r.u.cutCause(); cause != nil {
			return n, cause
		}
		if err := r.check(r.u, time.Since(r.last)); err != nil {
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
// on an upstream that has sent nothing for silent.
func (p *pull) checkSilence(u *upstream, silent time.Duration) error {
	cs := p.cs
	k := cluster.Key(p.key)
	ctx, cancel := context.WithTimeout(p.ctx, cluster.DefaultOpTimeout)
	defer cancel()
	e, err := cs.node.Lookup(ctx, k)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
		return upstreamLost("silent for %v, and the channel is no longer in the directory", silent.Round(time.Millisecond))
	case err != nil:
		return nil // the directory cannot tell: go on as without it
	case e.Session != u.originSession():
		return upstreamLost("silent for %v, and the channel has a new origin (%s)", silent.Round(time.Millisecond), e.Origin)
	}
	if u.node != e.Origin {
		_, err := cs.node.LookupNode(ctx, u.node)
		if errors.Is(err, cluster.ErrNotFound) {
			return upstreamLost("silent for %v, and relay %s is no longer in the directory", silent.Round(time.Millisecond), u.node)
		}
	}
	if ch := cs.s.hub.Channel(p.key); ch != nil {
		gop := ch.Stats().Media.GOPDuration
		if gop > 0 && silent >= max(mediaSilenceGOPs*gop, u.period) {
			return upstreamLost("no byte for %v (GOP %v) while %s holds the channel", silent.Round(time.Millisecond), gop.Round(time.Millisecond), e.Origin)
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
