package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fstream/fstream/internal/protocol"
)

// ClaimInfo describes a channel this node starts to ingest.
type ClaimInfo struct {
	// Start is when the broadcaster started (shown only).
	Start time.Time
	// Format is the detected stream format, if known yet (SetFormat
	// updates it later).
	Format string
	// Password is the channel password watchers must give; empty for
	// none. Only its argon2id hash leaves this process.
	Password string
}

// Claim is this node's hold on a channel, returned by Claim and given back
// to Release.
type Claim struct {
	Key Key
	// Revision is the directory revision the claim was written at.
	Revision uint64
	id       uint64
}

// maxClaimTries bounds the compare-and-set loop of Claim against other
// nodes claiming the same channel at the same moment.
const maxClaimTries = 8

// Claim makes this node the origin of k. A new claim wins over an entry
// of any other node: it is written by compare-and-set on the revision it
// read, so of two nodes claiming at once exactly one write lands on each
// revision and the later revision wins; a node holding an older revision
// can never overwrite a newer entry. The node that loses learns it through
// OnTakenOver. Claiming a channel this node already holds replaces the
// claim (a local takeover); Release of the older Claim is then a no-op.
//
// When the directory is unreachable Claim fails fast with an error
// wrapping ErrDirectoryUnreachable but still returns a Claim, held locally
// and written as a new claim once NATS is back, so that the server can
// keep a local broadcaster going through an outage. A caller that would
// rather refuse the broadcaster releases it.
func (n *Node) Claim(ctx context.Context, k Key, info ClaimInfo) (Claim, error) {
	if err := k.Validate(); err != nil {
		return Claim{}, fmt.Errorf("cluster: claim: %w", err)
	}
	if len(info.Format) > maxFormat {
		return Claim{}, fmt.Errorf("cluster: claim: format %q longer than %d bytes", info.Format, maxFormat)
	}
	e := Entry{Key: k, Origin: n.cfg.NodeName, OriginAddr: n.cfg.Advertise, Session: n.session,
		Start: info.Start, Format: info.Format}
	if info.Password != "" {
		e.passwordHash = hashPassword(info.Password)
	}
	ctx, cancel, err := n.begin(ctx)
	if err == nil {
		defer cancel()
		n.mu.Lock()
		n.claiming[k]++
		n.mu.Unlock()
		e.Revision, err = n.writeClaim(ctx, e)
		n.mu.Lock()
		if n.claiming[k]--; n.claiming[k] <= 0 {
			delete(n.claiming, k)
		}
		n.mu.Unlock()
	}
	switch {
	case errors.Is(err, ErrDirectoryUnreachable):
		return n.recordClaim(e, true), err
	case err != nil:
		return Claim{}, err
	}
	return n.recordClaim(e, false), nil
}

// writeClaim writes e as the entry of its channel, over whatever entry is
// there, by compare-and-set on the revision read; it returns the revision
// written.
func (n *Node) writeClaim(ctx context.Context, e Entry) (uint64, error) {
	rec, key := encodeEntry(e), channelKey(e.Key)
	for range maxClaimTries {
		var rev uint64
		got, err := n.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			rev, err = n.kv.Create(ctx, key, rec)
		case err == nil:
			rev, err = n.kv.Update(ctx, key, rec, got.Revision())
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another write landed between our read and write
		}
		if err != nil {
			return 0, n.fail("claim "+e.Key.String(), err)
		}
		n.metrics.Claims.Add(1)
		return rev, nil
	}
	return 0, n.fail("claim "+e.Key.String(), fmt.Errorf("contended by other nodes %d times", maxClaimTries))
}

// recordClaim holds e locally; pending claims are not written yet.
func (n *Node) recordClaim(e Entry, pending bool) Claim {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nextID++
	n.claims[e.Key] = &claimState{id: n.nextID, entry: e, pending: pending}
	return Claim{Key: e.Key, Revision: e.Revision, id: n.nextID}
}

// Holds reports whether c is still this node's claim (not released,
// replaced or taken over).
func (n *Node) Holds(c Claim) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	s, ok := n.claims[c.Key]
	return ok && s.id == c.id
}

// SetFormat records the detected format of a claimed channel; the next
// heartbeat publishes it.
func (n *Node) SetFormat(c Claim, format string) {
	if len(format) > maxFormat {
		format = format[:maxFormat]
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.claims[c.Key]; ok && s.id == c.id {
		s.entry.Format = format
	}
}

// Release gives up a claim: the entry is deleted if it is still this
// node's. A claim that was replaced or taken over is left alone, and so is
// an entry written by another node meanwhile (ErrNotOwner).
func (n *Node) Release(ctx context.Context, c Claim) error {
	n.mu.Lock()
	s, ok := n.claims[c.Key]
	if !ok || s.id != c.id {
		n.mu.Unlock()
		return nil
	}
	delete(n.claims, c.Key)
	n.mu.Unlock()
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return err // the entry expires within the TTL
	}
	defer cancel()
	for range maxClaimTries {
		got, err := n.kv.Get(ctx, channelKey(c.Key))
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return nil
		}
		if err != nil {
			return n.fail("release "+c.Key.String(), err)
		}
		e, err := decodeEntry(got.Key(), got.Revision(), got.Value())
		if err == nil && e.Session != n.session {
			return fmt.Errorf("%w: %s is now ingested by %s", ErrNotOwner, c.Key, e.Origin)
		}
		err = n.kv.Delete(ctx, channelKey(c.Key), jetstream.LastRevision(got.Revision()))
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // a heartbeat of ours in flight, or a takeover: look again
		}
		if err != nil {
			return n.fail("release "+c.Key.String(), err)
		}
		return nil
	}
	return n.fail("release "+c.Key.String(), errors.New("contended"))
}

// Lookup returns the live entry of k, ErrNotFound when there is none, or
// an error wrapping ErrDirectoryUnreachable.
func (n *Node) Lookup(ctx context.Context, k Key) (Entry, error) {
	if err := k.Validate(); err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	got, err := n.get(ctx, channelKey(k), k.String())
	if err != nil {
		return Entry{}, err
	}
	e, err := decodeEntry(got.Key(), got.Revision(), got.Value())
	if err != nil {
		n.malformed(got.Key(), got.Revision(), err)
		return Entry{}, fmt.Errorf("%w: %s: %w", ErrNotFound, k, err)
	}
	return e, nil
}

// CheckPassword reports whether pw opens e: always for a channel without
// a password, otherwise when pw matches the stored hash (in constant time;
// results are cached per entry and password).
func (n *Node) CheckPassword(e Entry, pw string) bool {
	if !e.HasPassword() {
		return true
	}
	return n.pw.check(e.passwordHash, pw)
}

// Channels lists every live entry. Malformed records are logged and left
// out.
func (n *Node) Channels(ctx context.Context) ([]Entry, error) {
	var out []Entry
	err := n.list(ctx, allChannels, func(key string, rev uint64, val []byte) {
		e, err := decodeEntry(key, rev, val)
		if err != nil {
			n.malformed(key, rev, err)
			return
		}
		out = append(out, e)
	})
	return out, err
}

// Nodes lists every live node.
func (n *Node) Nodes(ctx context.Context) ([]NodeInfo, error) {
	var out []NodeInfo
	err := n.list(ctx, allNodes, func(key string, rev uint64, val []byte) {
		ni, err := decodeNode(key, val)
		if err != nil {
			n.malformed(key, rev, err)
			return
		}
		out = append(out, ni)
	})
	return out, err
}

// LookupNode returns the live record of the node name, ErrNotFound when
// there is none (the node left, or its heartbeat expired), or an error
// wrapping ErrDirectoryUnreachable.
func (n *Node) LookupNode(ctx context.Context, name string) (NodeInfo, error) {
	if err := protocol.ValidateName(name); err != nil {
		return NodeInfo{}, fmt.Errorf("%w: node %q: %w", ErrNotFound, name, err)
	}
	got, err := n.get(ctx, nodeKey(name), "node "+name)
	if err != nil {
		return NodeInfo{}, err
	}
	ni, err := decodeNode(got.Key(), got.Value())
	if err != nil {
		n.malformed(got.Key(), got.Revision(), err)
		return NodeInfo{}, fmt.Errorf("%w: node %s: %w", ErrNotFound, name, err)
	}
	return ni, nil
}

// get reads the latest value of key (what names it in errors):
// ErrNotFound when there is none, or an error wrapping
// ErrDirectoryUnreachable.
func (n *Node) get(ctx context.Context, key, what string) (jetstream.KeyValueEntry, error) {
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	got, err := n.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	if err != nil {
		return nil, n.fail("lookup "+what, err)
	}
	return got, nil
}

// list calls fn for the latest live value of every key matching filter.
// It reads through a short-lived watcher: one round trip for all values.
func (n *Node) list(ctx context.Context, filter string, fn func(key string, rev uint64, val []byte)) error {
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	w, err := n.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return n.fail("list "+filter, err)
	}
	// Stop, then drain until the library closes the channel, so that its
	// delivery goroutine is never left blocked on a full channel.
	defer func() {
		_ = w.Stop()
		for range w.Updates() {
		}
	}()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return n.fail("list "+filter, errors.New("watcher closed"))
			}
			if e == nil {
				return nil // every initial value delivered
			}
			fn(e.Key(), e.Revision(), e.Value())
		case <-ctx.Done():
			return n.fail("list "+filter, ctx.Err())
		}
	}
}
