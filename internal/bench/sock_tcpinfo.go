//go:build linux && !386

package bench

import (
	"net"
	"syscall"
	"unsafe"
)

// canTellPeerGone says whether peerGone works here.
const canTellPeerGone = true

// peerGone reports whether the peer of c has closed or reset the
// connection, without reading from it: a stalled watcher must leave its
// bytes unread, so it asks the kernel for the TCP state instead. (Not on
// linux/386, where getsockopt is a socketcall.)
func peerGone(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true // closed
	}
	var info syscall.TCPInfo
	var gerr error
	err = rc.Control(func(fd uintptr) {
		size := uint32(unsafe.Sizeof(info))
		_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
		if errno != 0 {
			gerr = errno
		}
	})
	if err != nil {
		return true
	}
	if gerr != nil {
		return false
	}
	// ESTABLISHED is 1; a FIN from the peer makes it CLOSE_WAIT, a reset
	// CLOSE.
	return info.State != 1
}
