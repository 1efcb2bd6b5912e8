package server

import (
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKeepAliveUpstream reads back what keepAliveUpstream set on a real
// socket: keepalive every period, three probes, and a user timeout of
// four periods.
func TestKeepAliveUpstream(t *testing.T) {
	c, _ := tcpPair(t)
	const period = 2 * time.Second
	if err := keepAliveUpstream(c, period); err != nil {
		t.Fatalf("keepAliveUpstream: %v", err)
	}
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		level, opt, val int
	}{
		"SO_KEEPALIVE":     {unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		"TCP_KEEPIDLE":     {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 2},
		"TCP_KEEPINTVL":    {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 2},
		"TCP_KEEPCNT":      {unix.IPPROTO_TCP, unix.TCP_KEEPCNT, keepAliveProbes},
		"TCP_USER_TIMEOUT": {unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int((1 + keepAliveProbes) * period / time.Millisecond)},
	}
	for name, w := range want {
		var got int
		var gerr error
		err := rc.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), w.level, w.opt) })
		if err := errors.Join(err, gerr); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != w.val {
			t.Errorf("%s = %d, want %d", name, got, w.val)
		}
	}
}
