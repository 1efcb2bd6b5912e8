package clustertest_test

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

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
func startCluster(t *testing.T, nodes int, mutate func(*server.Config, *server.ClusterConfig)) (*clustertest.NATS, []*clustertest.Node) {
	t.Helper()
	ns := clustertest.StartNATS(t)
	var all []*clustertest.Node
	for i := range nodes {
		all = append(all, clustertest.StartNode(t, ns, "n"+string(rune('0'+i)), mutate))
	}
	return ns, all
}

// noGrace ends channels at once when their broadcaster leaves, so that a
// watcher's stream ends with the broadcaster's.
func noGrace(c *server.Config, _ *server.ClusterConfig) { c.BroadcasterGrace = 0 }

// payload returns n deterministic pseudo-random bytes.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeInPieces writes b in pseudo-random pieces, as a real encoder would.
func writeInPieces(w io.Writer, b []byte, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 1))
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(256<<10))
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// drain reads a connection to EOF in the background and reports the
// bytes' hash and count. Owned by the test through wait.
type drain struct {
	wg  sync.WaitGroup
	sum [32]byte
	n   int64
	err error
}

func startDrain(c net.Conn) *drain {
	d := &drain{}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		h := sha256.New()
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		d.n, d.err = io.Copy(h, c)
		copy(d.sum[:], h.Sum(nil))
	}()
	return d
}

func (d *drain) wait() *drain { d.wg.Wait(); return d }

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
