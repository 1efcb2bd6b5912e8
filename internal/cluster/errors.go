package cluster

import "errors"

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrDirectoryUnreachable means NATS (or its JetStream) did not answer
	// within the call's bound, or the node is not connected right now. The
	// server refuses remote lookups with "cluster directory unreachable"
	// and keeps serving its local channels.
	ErrDirectoryUnreachable = errors.New("cluster: directory unreachable")
	// ErrNotFound means the directory has no live entry for the channel.
	ErrNotFound = errors.New("cluster: channel not in directory")
	// ErrNotOwner means a release or update found the entry owned by
	// another node (it was taken over).
	ErrNotOwner = errors.New("cluster: entry owned by another node")
	// ErrMalformed means a directory record could not be decoded or does
	// not match its key. Such records are logged and ignored.
	ErrMalformed = errors.New("cluster: malformed record")
	// ErrNodeNameInUse means another live process answers for this node
	// name.
	ErrNodeNameInUse = errors.New("cluster: node name in use by a live node")
	// ErrNotCarried means a pull token was asked of a node that neither
	// ingests nor pulls the channel.
	ErrNotCarried = errors.New("cluster: channel not carried by that node")
	// ErrAdvertiseRequired means the node has no address other nodes can
	// dial: --listen is a wildcard and no advertise address was given.
	ErrAdvertiseRequired = errors.New("cluster: advertise address required")
	// ErrNoAnswer means a node did not answer a ping: it is dead, or cut
	// off from NATS.
	ErrNoAnswer = errors.New("cluster: node does not answer")
	// ErrClosed means the Node was closed.
	ErrClosed = errors.New("cluster: node closed")
)
