package bench

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// startNcat starts "ncat --broker" (path) on a free loopback port for at
// most maxConns clients and waits until it accepts connections. Like a
// child server it lives until stopped, whatever happens to ctx.
func startNcat(ctx context.Context, path string, maxConns int) (*subprocess, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, fmt.Errorf("start ncat: %w", err)
	}
	host, port, _ := net.SplitHostPort(addr) // addr came from a listener
	return startSubprocess(ctx, "ncat", addr,
		[]string{path, "--listen", "--broker", "--max-conns", strconv.Itoa(maxConns), host, port})
}
