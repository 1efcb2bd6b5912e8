package record

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/hub/hubtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor polls cond until it holds, failing the test after a generous
// real-time limit (a hang, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRecorderRecordsMatchingChannels runs a hub and a recorder on a fake
// clock: a matching channel is recorded into files that roll over at
// keyframes and together hold the stream byte for byte; List and Open see
// them; a channel that does not match is not recorded.
func TestRecorderRecordsMatchingChannels(t *testing.T) {
	needTool(t, "ffprobe")
	stream := fixture(t, "h264.ts")
	clock := hubtest.NewClock()
	h := hub.New(hub.Config{Buffer: 4 << 20, GOPCache: 2 << 20, StallTimeout: time.Hour, Clock: clock})
	defer h.Close()
	alice := hub.Key{User: "alice", Channel: "cam"}
	bob := hub.Key{User: "bob", Channel: "cam"}
	pub, err := h.Publish(alice, hub.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := h.Publish(bob, hub.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	dir := t.TempDir()
	var log logBuffer
	r, err := New(Config{Dir: dir, Channels: []string{"alice/*"}, Segment: 4 * time.Second,
		Clock: clock, Logger: newLogger(&log)}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "the recorder to watch alice/cam", func() bool { return h.Channel(alice).Stats().Watchers == 1 })

	pr, pw := io.Pipe()
	published := make(chan error, 1)
	go func() {
		_, err := pub.ReadFrom(pr)
		pub.Close()
		published <- err
	}()
	st := r.statsFor(alice)
	perByte := float64(20*time.Second) / float64(len(stream)) // ten times slower than real: the segment is 4 s
	for off := 0; off < len(stream); off += 1316 {
		piece := stream[off:min(off+1316, len(stream))]
		if _, err := pw.Write(piece); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the recorder to take the piece", func() bool { return st.received.Load() == int64(off+len(piece)) })
		clock.Advance(time.Duration(perByte * float64(len(piece))))
	}
	pw.Close()
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the recording to end", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.active) == 0
	})

	recs, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 3 || len(recs) > 4 {
		t.Fatalf("%d recordings %+v, want 3 or 4", len(recs), recs)
	}
	var joined []byte
	for i, rec := range recs {
		if rec.User != "alice" || rec.Channel != "cam" || rec.Recording || rec.Bytes == 0 {
			t.Errorf("recording %+v", rec)
		}
		f, err := r.Open(rec.User, rec.Channel, rec.File)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil || int64(len(b)) != rec.Bytes {
			t.Fatalf("read %s: %d bytes, %v; listed %d", rec.File, len(b), err, rec.Bytes)
		}
		if stderr, packets, key := probe(t, filepath.Join(dir, "alice", "cam", rec.File)); stderr != "" || packets == 0 || !key {
			t.Errorf("%s: ffprobe said %q; %d video packets, first a keyframe: %v", rec.File, stderr, packets, key)
		}
		if i > 0 {
			b = b[2*tsPacket:]
		}
		joined = append(joined, b...)
	}
	if want := stream[:len(stream)/tsPacket*tsPacket]; !bytes.Equal(joined, want) {
		t.Errorf("the files hold %d bytes; want the %d sent", len(joined), len(want))
	}
	if _, err := os.Stat(filepath.Join(dir, "bob")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bob/cam was recorded: %v", err)
	}
	stats := r.Stats()
	if len(stats) != 1 || stats[0].Key != alice || stats[0].State != StateIdle || stats[0].Files != int64(len(recs)) || stats[0].Gaps != 0 {
		t.Errorf("stats %+v", stats)
	}
}

// statsFor returns a channel's counters once its recording started.
func (r *Recorder) statsFor(k hub.Key) *chanStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats[k]
}

// TestRecorderGapNeverHoldsBackTheBroadcaster stalls the disk writer: the
// broadcaster still sends everything (the recorder's queue fills, it
// records one gap and lets go of the channel), and once the disk is back
// the recording goes on in a new file that starts at a keyframe.
func TestRecorderGapNeverHoldsBackTheBroadcaster(t *testing.T) {
	needTool(t, "ffprobe")
	one := fixture(t, "h264.ts")
	one = one[:len(one)/tsPacket*tsPacket]
	clock := hubtest.NewClock()
	h := hub.New(hub.Config{Buffer: 4 << 20, GOPCache: 2 << 20, StallTimeout: time.Hour, Clock: clock})
	defer h.Close()
	key := hub.Key{User: "alice", Channel: "cam"}
	pub, err := h.Publish(key, hub.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stall := make(chan struct{})
	stalled := make(chan struct{}, 1)
	var log logBuffer
	dir := t.TempDir()
	r, err := New(Config{Dir: dir, Channels: []string{"alice/cam"}, Buffer: minBuffer, Clock: clock, Logger: newLogger(&log),
		testHookWrite: func() {
			select {
			case stalled <- struct{}{}:
			default:
			}
			<-stall
		}}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "the recorder to watch", func() bool { return h.Channel(key).Stats().Watchers == 1 })

	pr, pw := io.Pipe()
	published := make(chan error, 1)
	go func() {
		_, err := pub.ReadFrom(pr)
		pub.Close()
		published <- err
	}()
	// 100 copies of the 2 s stream (4.7 MB): more than the recorder's 1 MiB
	// queue and the hub's 4 MiB ring. Every write returns although the disk
	// writer is stuck on its first write.
	for range 100 {
		if _, err := pw.Write(one); err != nil {
			t.Fatal(err)
		}
	}
	<-stalled
	st := r.statsFor(key)
	waitFor(t, "the gap", func() bool { return st.gaps.Load() == 1 })
	if n := log.count("recording gap"); n != 1 {
		t.Errorf("%d gap lines, want 1:\n%s", n, log.String())
	}
	waitFor(t, "the recorder to let go", func() bool { return h.Channel(key).Stats().Watchers == 0 })
	close(stall) // the disk is back
	waitFor(t, "the recorder to watch again", func() bool { return h.Channel(key).Stats().Watchers == 1 })
	for range 3 {
		if _, err := pw.Write(one); err != nil {
			t.Fatal(err)
		}
	}
	pw.Close()
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the recording to end", func() bool { return st.state.Load() == int32(StateIdle) && st.files.Load() == 2 })
	recs, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("recordings %+v, want 2: before and after the gap", recs)
	}
	for _, rec := range recs {
		path := filepath.Join(dir, "alice", "cam", rec.File)
		if stderr, packets, key := probe(t, path); packets == 0 || !key {
			t.Errorf("%s: ffprobe said %q; %d video packets, first a keyframe: %v", rec.File, stderr, packets, key)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "alice", "cam", recs[1].File))
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%tsPacket != 0 || b[1]&0x1f != 0 || b[2] != 0 {
		t.Errorf("the file after the gap: %d bytes starting % x: want whole packets, the PAT first", len(b), b[:3])
	}
}

// TestRecorderNewFileAtTakeover: a second broadcaster takes the channel
// over mid-stream; the first stream's file ends at its last whole packet,
// and the new stream starts a new file at its first keyframe with the PAT
// and PMT first.
func TestRecorderNewFileAtTakeover(t *testing.T) {
	needTool(t, "ffprobe")
	stream := fixture(t, "h264.ts")
	stream = stream[:len(stream)/tsPacket*tsPacket]
	clock := hubtest.NewClock()
	h := hub.New(hub.Config{Buffer: 4 << 20, GOPCache: 2 << 20, StallTimeout: time.Hour, Clock: clock})
	defer h.Close()
	key := hub.Key{User: "alice", Channel: "cam"}
	dir := t.TempDir()
	var log logBuffer
	r, err := New(Config{Dir: dir, Channels: []string{"alice/*"}, Clock: clock, Logger: newLogger(&log)}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// broadcast publishes data (closing the pipe when the hub stops it)
	// and returns once it is read.
	published := make(chan error, 2)
	broadcast := func(data []byte, end bool) *io.PipeWriter {
		pr, pw := io.Pipe()
		pub, err := h.Publish(key, hub.PublishOptions{OnStop: func(hub.CloseReason) { pr.Close() }})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			_, err := pub.ReadFrom(pr)
			pub.Close()
			published <- err
		}()
		waitFor(t, "the recorder to watch", func() bool { return h.Channel(key).Stats().Watchers == 1 })
		if _, err := pw.Write(data); err != nil {
			t.Fatal(err)
		}
		if end {
			pw.Close()
		}
		return pw
	}
	half := len(stream) / 2 / tsPacket * tsPacket
	broadcast(stream[:half+100], false) // the old stream ends mid-packet
	st := r.statsFor(key)
	waitFor(t, "the first stream recorded", func() bool { return st.received.Load() >= int64(half) })
	broadcast(stream, true)
	<-published // the first, stopped
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	r.waitIdle(t)

	names := files(t, filepath.Join(dir, "alice", "cam"))
	if len(names) != 2 {
		t.Fatalf("files %v, want 2: one per broadcaster", names)
	}
	first, err := os.ReadFile(filepath.Join(dir, "alice", "cam", names[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, stream[:half]) {
		t.Errorf("first file: %d bytes, want the old stream's %d whole packets' worth", len(first), half)
	}
	second, err := os.ReadFile(filepath.Join(dir, "alice", "cam", names[1]))
	if err != nil {
		t.Fatal(err)
	}
	if len(second) == 0 || second[1]&0x1f != 0 || second[2] != 0 || !bytes.HasSuffix(stream, second[2*tsPacket:]) {
		t.Errorf("second file: %d bytes; want the PAT and PMT, then the new stream from its first keyframe", len(second))
	}
	if stderr, packets, key := probe(t, filepath.Join(dir, "alice", "cam", names[1])); stderr != "" || packets == 0 || !key {
		t.Errorf("second file: ffprobe said %q; %d video packets, the first a keyframe: %v", stderr, packets, key)
	}
}
