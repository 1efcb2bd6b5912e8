package clustertest_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/cluster/natstest"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/clustertest"
	"github.com/fstream/fstream/internal/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	broadcast = "broadcast,user=fier,user-password=123,channel=cam"
	watch     = "watch,user=fier,channel=cam"
)

// startCluster starts NATS and nodes named n0, n1, ... with mutate applied
// to each.
func startCluster(t *testing.T, nodes int, mutate func(*server.Config, *server.ClusterConfig)) (*natstest.NATS, []*clustertest.Node) {
	t.Helper()
	ns := natstest.Start(t)
	var all []*clustertest.Node
	for i := range nodes {
		all = append(all, clustertest.StartNode(t, ns, "n"+string(rune('0'+i)), mutate))
	}
	return ns, all
}

// noGrace ends channels at once when their broadcaster leaves, so that a
// watcher's stream ends with the broadcaster's.
func noGrace(c *server.Config, _ *server.ClusterConfig) { c.BroadcasterGrace = 0 }

// readUntil reads c until what arrived contains marker, and fails the
// test if it does not within servertest.WaitTimeout or c ends first.
func readUntil(t testing.TB, c net.Conn, marker string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(servertest.WaitTimeout))
	defer c.SetReadDeadline(time.Time{})
	var tail []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		tail = append(tail, buf[:n]...)
		if strings.Contains(string(tail), marker) {
			return
		}
		if len(tail) > len(marker) {
			tail = tail[len(tail)-len(marker):]
		}
		if err != nil {
			t.Fatalf("connection ended before %q arrived: %v", marker, err)
		}
	}
}

// repeat writes marker to c, in 1 KiB chunks every few milliseconds, until
// stop is closed (the chunks let the hub see soon that the stream is
// generic); the test owns the goroutine through the returned wait
// function.
func repeat(c net.Conn, marker string, stop <-chan struct{}) (wait func()) {
	chunk := []byte(strings.Repeat(marker+" ", 1024/(len(marker)+1)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}
	}()
	return func() { <-done }
}
