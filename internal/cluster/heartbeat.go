package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The heartbeat rewrites every record this node owns every TTL/3: its node
// record, its channel entries and its pull records. The directory bucket's
// MaxAge is the TTL, so the records of a node that stops writing (killed,
// or cut from NATS) are removed by NATS itself within the TTL, and the
// limit markers NATS leaves tell every watcher.

// heartbeatLoop runs until Close.
func (n *Node) heartbeatLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		case <-n.beatNow:
		}
		n.beat()
	}
}

// kickHeartbeat asks for a beat at once (after a reconnect).
func (n *Node) kickHeartbeat() {
	select {
	case n.beatNow <- struct{}{}:
	default:
	}
}

// beat writes every owned record once. Healthy reports the beat's failure
// when NATS could not be reached; other failures (a contended claim) are
// logged and retried at the next beat.
func (n *Node) beat() {
	n.beatMu.Lock()
	err := n.writeAll()
	n.beatMu.Unlock()
	if err != nil {
		n.metrics.HeartbeatErrors.Add(1)
	}
	var unreachable error
	if errors.Is(err, ErrDirectoryUnreachable) {
		unreachable = err
	}
	n.mu.Lock()
	was := n.beatErr
	n.beatErr = unreachable
	n.mu.Unlock()
	switch {
	case err != nil && (was == nil || unreachable == nil):
		n.log.Warn("cluster heartbeat failed", "err", err)
	case err == nil && was != nil:
		n.log.Info("cluster heartbeat restored")
	}
}

func (n *Node) writeAll() error {
	n.mu.Lock()
	leaving := n.leaving
	n.mu.Unlock()
	if leaving {
		return nil
	}
	if err := n.putNode(context.Background()); err != nil {
		return err
	}
	n.mu.Lock()
	writes := make([]func() error, 0, len(n.claims)+len(n.pulling))
	for _, c := range n.claims {
		c := *c
		writes = append(writes, func() error { return n.refreshClaim(c) })
	}
	for k, p := range n.pulling {
		p := *p
		writes = append(writes, func() error { return n.putPull(context.Background(), k, p) })
	}
	n.mu.Unlock()
	return runBounded(writes, beatParallel)
}

// beatParallel bounds the writes of one heartbeat in flight at once: one
// at a time, a beat of thousands of records over a link with some
// milliseconds of round trip would outlast the TTL.
const beatParallel = 16

// runBounded runs fns with at most limit at a time, waits for all, and
// returns the first error with a count of the others (a beat during an
// outage fails once per record).
func runBounded(fns []func() error, limit int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, limit)
	)
	for _, fn := range fns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%w (and %d more)", errs[0], len(errs)-1)
}

// putNode writes this node's record.
func (n *Node) putNode(ctx context.Context) error {
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	n.mu.Lock()
	pulls := len(n.pulling)
	n.mu.Unlock()
	rec := encodeNode(NodeInfo{Name: n.cfg.NodeName, Addr: n.cfg.Advertise, Session: n.session,
		Since: n.since, Watchers: n.watchers.Load(), Channels: int(n.channels.Load()), Pulls: pulls})
	if _, err := n.kv.Put(ctx, nodeKey(n.cfg.NodeName), rec); err != nil {
		return n.fail("write node record", err)
	}
	return nil
}

// refreshClaim rewrites one claimed entry by compare-and-set on the
// revision this node last wrote. A mismatch means someone else wrote the
// key: resolveClaim finds out who.
func (n *Node) refreshClaim(c claimState) error {
	ctx, cancel, err := n.begin(context.Background())
	if err != nil {
		return err
	}
	defer cancel()
	if c.pending {
		rev, err := n.writeClaim(ctx, c.entry)
		if err != nil {
			return err
		}
		n.setClaimRevision(c.id, c.entry.Key, rev)
		n.log.Info("claim made during the outage written", "channel", c.entry.Key.String(), "revision", rev)
		return nil
	}
	rev, err := n.kv.Update(ctx, channelKey(c.entry.Key), encodeEntry(c.entry), c.entry.Revision)
	switch {
	case err == nil:
		n.setClaimRevision(c.id, c.entry.Key, rev)
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists):
		return n.resolveClaim(ctx, c)
	}
	return n.fail("refresh claim "+c.entry.Key.String(), err)
}

// resolveClaim handles a claim whose entry changed under us. Another
// node's entry means the claim was taken over; a missing entry means it
// expired while this node could not write (or a stale node deleted it),
// and this node, still ingesting, writes it anew.
func (n *Node) resolveClaim(ctx context.Context, c claimState) error {
	k := c.entry.Key
	got, err := n.kv.Get(ctx, channelKey(k))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		rev, err := n.kv.Create(ctx, channelKey(k), encodeEntry(c.entry))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil // someone claimed it in between: the next beat sees whom
		}
		if err != nil {
			return n.fail("re-claim "+k.String(), err)
		}
		if n.setClaimRevision(c.id, k, rev) {
			n.metrics.Reclaims.Add(1)
			n.log.Warn("cluster entry had expired; claimed again", "channel", k.String(), "revision", rev)
		}
		return nil
	case err != nil:
		return n.fail("read claim "+k.String(), err)
	}
	e, err := decodeEntry(got.Key(), got.Revision(), got.Value())
	if err != nil {
		// Garbage is no claim: overwrite it, by compare-and-set on its
		// revision so that a real claim landing meanwhile still wins.
		n.malformed(got.Key(), got.Revision(), err)
		rev, err := n.kv.Update(ctx, channelKey(k), encodeEntry(c.entry), got.Revision())
		if err != nil {
			return n.fail("overwrite malformed entry "+k.String(), err)
		}
		n.setClaimRevision(c.id, k, rev)
		return nil
	}
	if e.Session == n.session {
		// Our own newer write (a Claim racing the heartbeat).
		n.setClaimRevision(c.id, k, e.Revision)
		return nil
	}
	n.lostClaim(c.id, k, e)
	return nil
}

// setClaimRevision records the revision written for claim id; it reports
// false when the claim is gone or was replaced meanwhile.
func (n *Node) setClaimRevision(id uint64, k Key, rev uint64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, ok := n.claims[k]
	if !ok || c.id != id || rev < c.entry.Revision {
		return false
	}
	c.entry.Revision = rev
	c.pending = false
	return true
}

// lostClaim drops the claim id on k, taken over by the entry by, and tells
// OnTakenOver once.
func (n *Node) lostClaim(id uint64, k Key, by Entry) {
	n.mu.Lock()
	c, ok := n.claims[k]
	// A pending claim is newer than anything in the directory: it is
	// written over it once NATS is back.
	if !ok || (id != 0 && c.id != id) || c.pending || c.entry.Revision >= by.Revision {
		n.mu.Unlock()
		return
	}
	delete(n.claims, k)
	n.mu.Unlock()
	n.metrics.TakenOver.Add(1)
	n.log.Info("channel taken over by another node", "channel", k.String(), "by", by.Origin,
		"revision", by.Revision, "ours", c.entry.Revision)
	if n.cfg.OnTakenOver != nil {
		n.cfg.OnTakenOver(k, by)
	}
}

// malformed logs and counts a record that cannot be used, once per key
// and revision: listings meet the same foreign record again and again.
func (n *Node) malformed(key string, rev uint64, err error) {
	n.mu.Lock()
	seen := n.badSeen[key] == rev && rev != 0
	if !seen {
		if len(n.badSeen) >= maxBadSeen {
			clear(n.badSeen)
		}
		n.badSeen[key] = rev
	}
	n.mu.Unlock()
	if seen {
		return
	}
	n.metrics.Malformed.Add(1)
	n.log.Warn("ignoring malformed cluster record", "key", fmt.Sprintf("%.80s", key), "revision", rev, "err", err)
}
