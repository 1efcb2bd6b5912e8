// Package cluster lets fstream servers form a cluster through NATS: any
// node accepts broadcasters and watchers, and a node with watchers for a
// channel it does not ingest pulls the channel from another node. The
// package talks to NATS only; it knows nothing of client sockets or of the
// hub. The server wires it in: docs/CLUSTER.md has the design.
//
// # A node's life
//
// Open connects (reconnecting forever), creates the buckets if missing,
// checks that no live process holds the node name, subscribes to its
// control subjects and starts two goroutines: the heartbeat, which
// rewrites every record the node owns every TTL/3, and the watcher, which
// reads every change of a channel entry. Close stops both and waits;
// Leave first deletes the node's records so that others see it gone at
// once.
//
// # The directory
//
// One KV bucket holds three kinds of records, all with the bucket's
// MaxAge as their TTL, so that a dead node's records vanish on their own:
//
//	n.<node>                  a live node: address, session, load
//	c.<user>.<channel>        a live channel: origin node, address, session,
//	                          start, format, argon2id hash of its password
//	p.<user>.<channel>.<node> node pulls the channel from an upstream node
//
// Names are unpadded base64url in keys. Claim writes a channel entry by
// compare-and-set on the revision it read, so the latest claim wins and
// a stale node can never overwrite a newer entry; the node that lost hears
// of it from the watcher (OnTakenOver) or, at the latest, from its next
// heartbeat, whose compare-and-set fails.
//
// # Calls and failures
//
// Every call that reaches NATS is bounded by Config.OpTimeout and fails at
// once, with an error wrapping ErrDirectoryUnreachable, while the node is
// not connected. Hooks (OnTakenOver, OnUpstreamChanged, OnKick) run on the
// node's own goroutines and must not block.
package cluster
