//go:build !linux

package bench

import "net"

// canTellPeerGone says whether peerGone works here.
const canTellPeerGone = false

// peerGone cannot tell without reading on this system; stalled watchers'
// evictions are not detected.
func peerGone(net.Conn) bool { return false }
