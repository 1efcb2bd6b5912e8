package cluster

import "sync/atomic"

// Metrics counts what a Node did. Read the fields with Load; the server
// exports them to Prometheus.
type Metrics struct {
	// DirectoryErrors counts directory calls that failed, unreachable
	// or otherwise.
	DirectoryErrors atomic.Uint64
	// Malformed counts records that were ignored because they could not
	// be decoded or did not match their key.
	Malformed atomic.Uint64
	// Claims counts successful claims; TakenOver counts claims this node
	// lost to another node; Reclaims counts claims re-created after they
	// had expired (the node was cut from NATS for longer than the TTL).
	Claims    atomic.Uint64
	TakenOver atomic.Uint64
	Reclaims  atomic.Uint64
	// HeartbeatErrors counts heartbeats that could not be written.
	HeartbeatErrors atomic.Uint64
	// Disconnects and Reconnects count NATS connection losses and returns.
	Disconnects atomic.Uint64
	Reconnects  atomic.Uint64
	// Pull tokens this node minted for other nodes, redeemed, and refused
	// (unknown, used, expired, or for another channel).
	PullTokensMinted   atomic.Uint64
	PullTokensRedeemed atomic.Uint64
	PullTokensRefused  atomic.Uint64
	// Broadcast tokens redeemed through the cluster store, and refused.
	TokensRedeemed atomic.Uint64
	TokensRefused  atomic.Uint64
	// KicksReceived counts kicks delivered to OnKick.
	KicksReceived atomic.Uint64
}
