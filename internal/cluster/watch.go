package cluster

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watchLoop reads every change of a channel entry, as NATS orders them,
// and turns the ones that concern this node into OnTakenOver and
// OnUpstreamChanged calls: an origin learns of a takeover as soon as the
// new entry is written, well within a second, rather than at its next
// heartbeat. It runs until Close stops the watcher.
func (n *Node) watchLoop(updates <-chan jetstream.KeyValueEntry) {
	defer n.wg.Done()
	for {
		select {
		case e, ok := <-updates:
			if !ok {
				return
			}
			if e != nil {
				n.handleUpdate(e)
			}
		case <-n.stop:
			n.drain(updates)
			return
		}
	}
}

// drain reads updates until the library closes the channel after Stop, so
// that its delivery goroutine is never left blocked; it gives up after a
// second (the connection's close then ends that goroutine).
func (n *Node) drain(updates <-chan jetstream.KeyValueEntry) {
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
		n.malformed(kve.Key(), err)
		return
	}
	k := Key{names[0], names[1]}
	if op := kve.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		n.entryGone(k)
		return
	}
	e, err := decodeEntry(kve.Key(), kve.Revision(), kve.Value())
	if err != nil {
		n.malformed(kve.Key(), err)
		return
	}
	if e.Session != n.session {
		n.lostClaim(0, k, e)
	}
	n.mu.Lock()
	p, ok := n.pulling[k]
	changed := ok && p.origin != e.Session
	if changed {
		p.origin = e.Session
	}
	n.mu.Unlock()
	if changed && n.cfg.OnUpstreamChanged != nil {
		n.cfg.OnUpstreamChanged(k, e, true)
	}
}

// entryGone handles a released or expired entry.
func (n *Node) entryGone(k Key) {
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
		n.cfg.OnUpstreamChanged(k, Entry{}, false)
	}
}
