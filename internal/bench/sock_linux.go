package bench

import (
	"net"

	"golang.org/x/sys/unix"
)

// canTellPeerGone says whether peerGone works here.
const canTellPeerGone = true

// tcpState returns the kernel's TCP state of c (or of the TCP connection
// under its TLS), one of the BPF_TCP_* values, which are the kernel's
// own numbering.
func tcpState(c net.Conn) (uint8, error) {
	tc := tcpOf(c)
	if tc == nil {
		return 0, net.UnknownNetworkError("not TCP")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var info *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return 0, err
	}
	if gerr != nil {
		return 0, gerr
	}
	return info.State, nil
}

// peerGone reports whether the peer of c has closed or reset the
// connection, without reading from it: a stalled watcher must leave its
// bytes unread, so it asks the kernel for the TCP state instead. A FIN
// from the peer makes the state CLOSE_WAIT, a reset CLOSE; a connection
// closed here counts as gone.
func peerGone(c net.Conn) bool {
	st, err := tcpState(c)
	if err != nil {
		return tcpOf(c) != nil // closed, rather than not TCP
	}
	return st != unix.BPF_TCP_ESTABLISHED
}
