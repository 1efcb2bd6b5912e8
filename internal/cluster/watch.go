package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watchLoop reads every change of a channel entry, as NATS orders them,
// and turns the ones that concern this node into OnTakenOver and
// OnUpstreamChanged calls: an origin learns of a takeover as soon as the
// new entry is written, well within a second, rather than at its next
// heartbeat. After a reconnect it watches anew (the NATS server may have
// restarted and forgotten the consumer) and reconciles the pulls, whose
// changes it may have missed. It runs until Close.
func (n *Node) watchLoop(w jetstream.KeyWatcher) {
	defer n.wg.Done()
	for {
		stopped := n.consume(w.Updates())
		_ = w.Stop()
		drain(w.Updates())
		if stopped {
			return
		}
		w = n.rewatch()
		if w == nil {
			return
		}
		n.reconcilePulls()
	}
}

// consume handles updates until the watcher ends, a reconnect asks for a
// new one (false), or Close (true).
func (n *Node) consume(updates <-chan jetstream.KeyValueEntry) (stopped bool) {
	for {
		select {
		case e, ok := <-updates:
			if !ok {
				return false
			}
			if e != nil {
				n.handleUpdate(e)
			}
		case <-n.rewatchC:
			return false
		case <-n.stop:
			return true
		}
	}
}

// rewatch creates a new watcher, retrying every heartbeat period until it
// works; nil after Close.
func (n *Node) rewatch() jetstream.KeyWatcher {
	for {
		w, err := n.newWatcher()
		if err == nil {
			return w
		}
		n.log.Debug("cluster directory watch not restored yet", "err", err)
		select {
		case <-n.stop:
			return nil
		case <-n.rewatchC:
		case <-time.After(n.ttl / 3):
		}
	}
}

// newWatcher watches every channel entry from now on. No context: one
// would end the watcher with it.
func (n *Node) newWatcher() (jetstream.KeyWatcher, error) {
	if !n.nc.IsConnected() {
		return nil, fmt.Errorf("%w: not connected to NATS", ErrDirectoryUnreachable)
	}
	w, err := n.kv.Watch(context.Background(), kindChannel+".>", jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("cluster: watch directory: %w", n.unreachable(err))
	}
	return w, nil
}

// reconcilePulls compares each pulled channel's origin with the directory
// and reports the changes the watcher may have missed.
func (n *Node) reconcilePulls() {
	n.mu.Lock()
	keys := make([]Key, 0, len(n.pulling))
	for k := range n.pulling {
		keys = append(keys, k)
	}
	n.mu.Unlock()
	for _, k := range keys {
		e, err := n.Lookup(context.Background(), k)
		switch {
		case errors.Is(err, ErrNotFound):
			n.entryGone(k, 0, false)
		case err == nil:
			n.originSeen(k, e)
		}
	}
}

// drain reads updates until the library closes the channel after Stop, so
// that its delivery goroutine is never left blocked; it gives up after a
// second (closing the connection then ends that goroutine).
func drain(updates <-chan jetstream.KeyValueEntry) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case _, ok := <-updates:
			if !ok {
				return
			}
		case <-t.C:
			return
		}
	}
}

func (n *Node) handleUpdate(kve jetstream.KeyValueEntry) {
	kind, names, err := parseKey(kve.Key())
	if err != nil || kind != kindChannel {
		n.malformed(kve.Key(), kve.Revision(), err)
		return
	}
	k := Key{names[0], names[1]}
	if op := kve.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		// Nodes only delete entries (Release, Leave); a purge is the
		// marker NATS leaves when the TTL removes one.
		n.entryGone(k, kve.Revision(), op == jetstream.KeyValuePurge)
		return
	}
	e, err := decodeEntry(kve.Key(), kve.Revision(), kve.Value())
	if err != nil {
		n.malformed(kve.Key(), kve.Revision(), err)
		return
	}
	if e.Session != n.session {
		n.lostClaim(0, k, e)
	}
	n.originSeen(k, e)
}

// originSeen reports a new origin of a pulled channel, or a new
// broadcast on the same origin (a new claim there: the broadcaster came
// back, or a new one started after the channel had ended).
func (n *Node) originSeen(k Key, e Entry) {
	n.mu.Lock()
	p, ok := n.pulling[k]
	changed := ok && (p.origin != e.Session || !p.start.Equal(e.Start))
	if changed {
		p.origin, p.start = e.Session, e.Start
	}
	n.mu.Unlock()
	if changed && n.cfg.OnUpstreamChanged != nil {
		n.cfg.OnUpstreamChanged(k, e, true)
	}
}

// entryGone handles a released or expired entry; rev is the revision of
// the deletion (0 when a lookup found the entry missing), which tells a
// puller whether it is older than the entry it pulls under.
func (n *Node) entryGone(k Key, rev uint64, expired bool) {
	n.mu.Lock()
	_, claimed := n.claims[k]
	p, pulled := n.pulling[k]
	pulled = pulled && p.origin != "" // tell once, not for every marker
	if pulled {
		p.origin = ""
	}
	n.mu.Unlock()
	if claimed {
		// Our entry expired (we could not write in time) or a stale
		// release removed it: write it again now, not at the next beat.
		n.kickHeartbeat()
	}
	if pulled && n.cfg.OnUpstreamChanged != nil {
		n.cfg.OnUpstreamChanged(k, Entry{Key: k, Revision: rev, Expired: expired}, false)
	}
}
