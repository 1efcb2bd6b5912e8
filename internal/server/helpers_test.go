package server_test

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The servers, the test users and the raw-protocol helpers come from
// package servertest; what is here only these tests need.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

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

// drain reads c to EOF in the background and reports the bytes' hash and
// count. Owned by the test through wait.
type drain struct {
	wg   sync.WaitGroup
	sum  [32]byte
	n    int64
	err  error
	conn net.Conn
}

func startDrain(c net.Conn) *drain {
	d := &drain{conn: c}
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
