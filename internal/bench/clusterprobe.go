package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

// The cluster scenario's probes time single events rather than streams:
// a cold pull (a node's first watcher of a channel until its first byte)
// and a failover (the origin killed, a new broadcaster on another node,
// until a watcher on a third node has the new stream). Their broadcasters
// send one byte value over and over at 5 Mbit/s, so that a watcher tells
// the new stream from the old by any byte.

// probeBroadcaster sends fill bytes on channel at node n until stopped.
type probeBroadcaster struct {
	conn net.Conn
	wg   sync.WaitGroup
	stop chan struct{}
}

func startProbeBroadcaster(ctx context.Context, n *clusterNode, channel string, fill byte) (*probeBroadcaster, error) {
	c, err := client.Dial(ctx, client.Options{Addr: n.proc.addr, DialTimeout: ioTimeout, HandshakeTimeout: ioTimeout,
		Request: protocol.Request{Command: protocol.CommandBroadcast, User: DefaultUser, UserPassword: n.pass, Channel: channel}})
	if err != nil {
		return nil, fmt.Errorf("broadcast %s on %s: %w", channel, n.name, err)
	}
	b := &probeBroadcaster{conn: c, stop: make(chan struct{})}
	b.wg.Add(1)
	go b.send(bytes.Repeat([]byte{fill}, tsSize)) // owned by b: close waits
	return b, nil
}

// send writes one tsSize write every tsSize/latencyRate seconds (2 ms).
func (b *probeBroadcaster) send(p []byte) {
	defer b.wg.Done()
	t := time.NewTicker(time.Second * tsSize / latencyRate)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		_ = b.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := b.conn.Write(p); err != nil {
			return // its node was killed, or close
		}
	}
}

func (b *probeBroadcaster) close() {
	close(b.stop)
	abort(b.conn)
	b.wg.Wait()
}

// watchUntil connects a watcher of channel at addr and returns the time
// from the dial until it reads a byte equal to want, or an error after
// limit.
func watchUntil(ctx context.Context, addr, channel string, want byte, limit time.Duration) (time.Duration, net.Conn, error) {
	t0 := time.Now()
	c, err := client.Dial(ctx, client.Options{Addr: addr, DialTimeout: ioTimeout, HandshakeTimeout: ioTimeout,
		Request: protocol.Request{Command: protocol.CommandWatch, User: DefaultUser, Channel: channel}})
	if err != nil {
		return 0, nil, fmt.Errorf("watch %s at %s: %w", channel, addr, err)
	}
	d, err := readUntil(c, t0, want, limit)
	if err != nil {
		abort(c)
		return 0, nil, err
	}
	return d, c, nil
}

// readUntil reads c until a byte equal to want and returns the time since
// t0.
func readUntil(c net.Conn, t0 time.Time, want byte, limit time.Duration) (time.Duration, error) {
	_ = c.SetReadDeadline(t0.Add(limit))
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if bytes.IndexByte(buf[:n], want) >= 0 {
			return time.Since(t0), nil
		}
		if err != nil {
			return 0, fmt.Errorf("waiting for the stream: %w", err)
		}
	}
}

// quantiles returns the p50 and p99 of vs (nearest rank).
func quantiles(vs []float64) (p50, p99 float64) {
	if len(vs) == 0 {
		return 0, 0
	}
	s := slices.Sorted(slices.Values(vs))
	at := func(q float64) float64 { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99)
}

// coldPulls measures n first bytes of a channel broadcast on node 0: on
// the other nodes in turn, each time once the node no longer pulls it
// (linger 0), and, for comparison, on node 0 itself.
func (cl *benchCluster) coldPulls(ctx context.Context, n int) (cold, local []time.Duration, err error) {
	const channel = "bench-cold"
	b, err := startProbeBroadcaster(ctx, cl.nodes[0], channel, 'c')
	if err != nil {
		return nil, nil, err
	}
	defer b.close()
	for i := range n {
		node := cl.nodes[1+i%(len(cl.nodes)-1)]
		if err := node.waitNoPulls(ctx); err != nil {
			return nil, nil, err
		}
		d, c, err := watchUntil(ctx, node.proc.addr, channel, 'c', ioTimeout)
		if err != nil {
			return nil, nil, fmt.Errorf("cold pull on %s: %w", node.name, err)
		}
		abort(c)
		cold = append(cold, d)
		d, c, err = watchUntil(ctx, cl.nodes[0].proc.addr, channel, 'c', ioTimeout)
		if err != nil {
			return nil, nil, fmt.Errorf("watch on the origin: %w", err)
		}
		abort(c)
		local = append(local, d)
	}
	return cold, local, nil
}

// waitNoPulls polls until node n pulls nothing.
func (n *clusterNode) waitNoPulls(ctx context.Context) error {
	deadline := time.Now().Add(ioTimeout)
	for {
		v, err := n.metric(ctx, "fstream_cluster_pulls")
		if err != nil {
			return err
		}
		if v == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s still pulls after %v", n.name, ioTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(readyPoll):
		}
	}
}

// failover kills node 0 while it ingests a channel that a watcher on node
// 2 pulls, starts a broadcaster of the channel on node 1 at once, and
// returns the time from the kill until that watcher reads the new stream.
// It leaves node 0 dead.
func (cl *benchCluster) failover(ctx context.Context) (time.Duration, error) {
	const channel = "bench-failover"
	old, err := startProbeBroadcaster(ctx, cl.nodes[0], channel, 'o')
	if err != nil {
		return 0, err
	}
	defer old.close()
	_, w, err := watchUntil(ctx, cl.nodes[2].proc.addr, channel, 'o', ioTimeout)
	if err != nil {
		return 0, fmt.Errorf("failover watcher: %w", err)
	}
	defer abort(w)
	t0 := time.Now()
	if err := cl.kill(cl.nodes[0]); err != nil {
		return 0, fmt.Errorf("kill the origin: %w", err)
	}
	nb, err := startProbeBroadcaster(ctx, cl.nodes[1], channel, 'n')
	if err != nil {
		return 0, err
	}
	defer nb.close()
	d, err := readUntil(w, t0, 'n', clusterTTL+ioTimeout)
	if err != nil {
		return 0, fmt.Errorf("failover watcher on %s: %w", cl.nodes[2].name, err)
	}
	return d, nil
}
