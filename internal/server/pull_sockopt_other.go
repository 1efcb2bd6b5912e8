//go:build !linux

package server

import (
	"net"
	"time"
)

// setUserTimeout does nothing here: TCP_USER_TIMEOUT is Linux's; the
// keepalive probes and the directory still notice a dead upstream.
func setUserTimeout(*net.TCPConn, time.Duration) error { return nil }
