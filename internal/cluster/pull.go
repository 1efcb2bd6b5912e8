package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// A node with watchers for a channel it does not ingest pulls it: one
// upstream fstream watch connection, fanned out locally. To keep the
// origin from serving every node, pulls form a tree: PickUpstream sends a
// node to the origin while the origin has fewer than MaxPulls direct
// pullers, and otherwise to the shallowest node already carrying the
// channel that still has room. Each pulling node records
// p.<user>.<channel>.<node> = {upstream}, heartbeated like everything
// else, so the tree heals itself as nodes come and go. MaxPulls is a soft
// bound: two nodes picking at the same instant may both take the last
// place.

// PickUpstream chooses where this node should pull k from and returns that
// node's advertise address and name. It fails with ErrNotFound when k is
// not live, and when this node is the origin.
func (n *Node) PickUpstream(ctx context.Context, k Key) (addr, node string, err error) {
	e, err := n.Lookup(ctx, k)
	if err != nil {
		return "", "", err
	}
	if e.Origin == n.cfg.NodeName {
		return "", "", fmt.Errorf("%w: %s is ingested by this node", ErrNotFound, k)
	}
	pulls, err := n.Pulls(ctx, k)
	if err != nil {
		return "", "", err
	}
	nodes, err := n.Nodes(ctx)
	if err != nil {
		return "", "", err
	}
	addrs := make(map[string]string, len(nodes))
	for _, ni := range nodes {
		addrs[ni.Name] = ni.Addr
	}
	name := pickUpstream(e.Origin, n.cfg.NodeName, pulls, addrs, n.cfg.MaxPulls)
	if name == e.Origin {
		return e.OriginAddr, e.Origin, nil
	}
	return addrs[name], name, nil
}

// pickUpstream is PickUpstream's choice, on plain data: origin while it
// has room, else the carrying node with room that is closest to the origin
// (then least loaded, then by name), never self or a node below self. When
// every node is full it returns the origin.
func pickUpstream(origin, self string, pulls []Pull, addrs map[string]string, maxPulls int) string {
	up := make(map[string]string, len(pulls))
	direct := make(map[string]int)
	for _, p := range pulls {
		// This node's own record (a re-pick after its upstream went) is
		// not a place taken; leaving it out also breaks every chain
		// through this node, so nothing below it is picked.
		if p.Node == self {
			continue
		}
		up[p.Node] = p.Upstream
		direct[p.Upstream]++
	}
	if direct[origin] < maxPulls {
		return origin
	}
	type cand struct {
		name         string
		depth, count int
	}
	var cands []cand
	for _, p := range pulls {
		if p.Node == self || addrs[p.Node] == "" || direct[p.Node] >= maxPulls {
			continue
		}
		if d, ok := depth(p.Node, origin, self, up); ok {
			cands = append(cands, cand{p.Node, d, direct[p.Node]})
		}
	}
	if len(cands) == 0 {
		return origin
	}
	best := slices.MinFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.depth, b.depth), cmp.Compare(a.count, b.count), cmp.Compare(a.name, b.name))
	})
	return best.name
}

// depth follows node's upstreams to origin and returns how many hops it
// took. It fails when the chain passes through self (pulling from there
// would make a loop), breaks, or loops.
func depth(node, origin, self string, up map[string]string) (int, bool) {
	for d := 1; d <= len(up)+1; d++ {
		next, ok := up[node]
		switch {
		case !ok || next == self:
			return 0, false
		case next == origin:
			return d, true
		}
		node = next
	}
	return 0, false
}

// Pulls lists the live pull records of k.
func (n *Node) Pulls(ctx context.Context, k Key) ([]Pull, error) {
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("cluster: pulls: %w", err)
	}
	var out []Pull
	err := n.list(ctx, pullFilter(k), func(key string, rev uint64, val []byte) {
		p, err := decodePull(k, key, val)
		if err != nil {
			n.malformed(key, rev, err)
			return
		}
		out = append(out, p)
	})
	return out, err
}

// RegisterPull records that this node now pulls k from upstream (a node
// name from PickUpstream). The record is heartbeated until UnregisterPull;
// OnUpstreamChanged reports when k gets a new origin or leaves.
func (n *Node) RegisterPull(ctx context.Context, k Key, upstream string) error {
	if upstream == n.cfg.NodeName {
		return fmt.Errorf("cluster: register pull of %s: upstream is this node", k)
	}
	e, err := n.Lookup(ctx, k)
	if err != nil {
		return err
	}
	if e.Origin == n.cfg.NodeName {
		return fmt.Errorf("cluster: register pull of %s: this node is its origin", k)
	}
	n.mu.Lock()
	p := &pullState{upstream: upstream, origin: e.Session, start: e.Start}
	if old, ok := n.pulling[k]; ok {
		p.watchers = old.watchers
	}
	n.pulling[k] = p
	st := *p
	n.mu.Unlock()
	return n.putPull(ctx, k, st)
}

// UnregisterPull forgets that this node pulls k and deletes its record.
func (n *Node) UnregisterPull(ctx context.Context, k Key) error {
	n.mu.Lock()
	_, ok := n.pulling[k]
	delete(n.pulling, k)
	n.mu.Unlock()
	if !ok {
		return nil
	}
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return err // the record expires within the TTL
	}
	defer cancel()
	if err := n.kv.Delete(ctx, pullKey(k, n.cfg.NodeName)); err != nil {
		return n.fail("unregister pull "+k.String(), err)
	}
	return nil
}

// Pulling reports whether this node has registered a pull of k.
func (n *Node) Pulling(k Key) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.pulling[k]
	return ok
}

// carries reports whether this node ingests or pulls k, and so may mint
// pull tokens for it.
func (n *Node) carries(k Key) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, claimed := n.claims[k]
	_, pulled := n.pulling[k]
	return claimed || pulled || n.claiming[k] > 0
}

func (n *Node) putPull(ctx context.Context, k Key, p pullState) error {
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := n.kv.Put(ctx, pullKey(k, n.cfg.NodeName), encodePull(n.cfg.NodeName, n.session, p.upstream, p.watchers)); err != nil {
		return n.fail("write pull "+k.String(), err)
	}
	return nil
}

// SetWatchers records how many watchers this node serves k to, whether it
// ingests or pulls k; the next heartbeat writes it into the channel entry
// or the pull record, so that every node can list each node's watchers of
// a channel. It costs no write of its own.
func (n *Node) SetWatchers(k Key, watchers int64) {
	watchers = max(watchers, 0)
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.claims[k]; ok {
		c.entry.Watchers = watchers
	}
	if p, ok := n.pulling[k]; ok {
		p.watchers = watchers
	}
}

// AllPulls lists the live pull records of every channel.
func (n *Node) AllPulls(ctx context.Context) (map[Key][]Pull, error) {
	out := make(map[Key][]Pull)
	err := n.list(ctx, allPulls, func(key string, rev uint64, val []byte) {
		kind, names, err := parseKey(key)
		if err != nil || kind != kindPull {
			n.malformed(key, rev, err)
			return
		}
		k := Key{names[0], names[1]}
		p, err := decodePull(k, key, val)
		if err != nil {
			n.malformed(key, rev, err)
			return
		}
		out[k] = append(out[k], p)
	})
	return out, err
}
