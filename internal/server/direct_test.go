package server_test

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// A TCP watcher is written by its channel's writers while its socket has
// room, handed back to its own goroutine when the socket fills (the reader
// pauses), and written by the writers again once it has caught up: byte for
// byte throughout, over real sockets.
func TestDirectWritesHandBack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("direct writes are built for Linux only")
	}
	ts := servertest.Start(t, func(c *server.Config) {
		c.WatcherSendBuffer = 16 << 10 // fills at once when the reader pauses
		c.StallTimeout = time.Minute   // the pauses are not stalls
		c.BroadcasterGrace = 0
		c.MaxLag = 0
	})
	b := servertest.Dial(t, ts.Addr)
	b.Write(servertest.Frame("broadcast,ack=1,user=fier,user-password=123"))
	if st, err := servertest.ReadStatus(b); st != "ok" {
		t.Fatalf("broadcaster: %q %v", st, err)
	}
	w := servertest.DialSlow(t, ts.Addr, 16<<10)
	w.Write(servertest.Frame("watch,ack=1,user=fier"))
	if st, err := servertest.ReadStatus(w); st != "ok" {
		t.Fatalf("watcher: %q %v", st, err)
	}
	servertest.WaitFor(t, "the watcher", func() bool { return ts.Watchers("fier", "default") == 1 })

	// Small pieces, each read before the next is sent: the watcher is
	// caught up at every publish, so the channel's writers write them.
	const piece, pieces = 4 << 10, 64
	data := servertest.Payload(5, piece*pieces+4<<20)
	got := make([]byte, 0, len(data))
	buf := make([]byte, piece)
	w.SetReadDeadline(time.Now().Add(time.Minute))
	for i := range pieces {
		if _, err := b.Write(data[i*piece : (i+1)*piece]); err != nil {
			t.Fatalf("broadcast piece %d: %v", i, err)
		}
		if _, err := io.ReadFull(w, buf); err != nil {
			t.Fatalf("watch piece %d: %v", i, err)
		}
		got = append(got, buf...)
	}
	if n := ts.Hub().Counters().DirectBytes; n == 0 {
		t.Fatal("no byte was written by the channel's writers to a caught-up TCP watcher")
	}

	// Then the rest at full speed to a reader that pauses every 256 KiB:
	// its socket fills, and its own goroutine takes over until it catches
	// up again.
	go func() {
		servertest.WriteInPieces(b, data[piece*pieces:], 5)
		b.CloseWrite()
	}()
	for {
		n, err := w.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
		if len(got)%(256<<10) < n {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("the watcher got %d bytes, not the %d sent byte for byte", len(got), len(data))
	}
	cnt := ts.Hub().Counters()
	if cnt.HandBacks == 0 {
		t.Fatal("the pausing watcher was never handed back to its own goroutine")
	}
	t.Logf("%d of %d bytes written directly, %d hand-backs", cnt.DirectBytes, cnt.BytesOut, cnt.HandBacks)
}
