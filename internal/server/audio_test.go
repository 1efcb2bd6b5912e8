package server_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/media/mediatest"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// Audio-only streams ("radio") and streams without a keyframe to join at,
// made by ffmpeg and broadcast at real-time pace.

const audioSeconds = 8

// ffmpegTS runs ffmpeg with args (inputs and codecs) and returns the
// MPEG-TS it wrote.
func ffmpegTS(t *testing.T, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "stream.ts")
	args = append(append([]string{"-v", "error"}, args...), "-f", "mpegts", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// broadcastPaced writes stream, seconds long, to b at its own pace in 50 ms
// slices from start on, then half-closes b.
func broadcastPaced(b *net.TCPConn, stream []byte, seconds int, start time.Time) {
	rate := len(stream) / seconds
	for off := 0; off < len(stream); {
		n := min(len(stream)-off, rate/20)
		b.Write(stream[off : off+n])
		off += n
		time.Sleep(time.Until(start.Add(time.Duration(off) * time.Second / time.Duration(rate))))
	}
	b.CloseWrite()
}

// lateWatcher is a watcher that joined a channel mid-stream.
type lateWatcher struct {
	policy    string
	at        time.Duration // when it connected, since the broadcast began
	firstByte time.Duration // from connecting to its first stream byte
	data      []byte
}

// watchLate connects a watcher with join policy at start+at and reads
// until the channel ends.
func watchLate(t *testing.T, addr, channel, policy string, start time.Time, at time.Duration) *lateWatcher {
	time.Sleep(time.Until(start.Add(at)))
	w := &lateWatcher{policy: policy, at: at}
	connected := time.Now()
	c, err := net.DialTimeout("tcp", addr, servertest.IOTimeout)
	if err != nil {
		t.Errorf("dial: %v", err)
		return w
	}
	defer c.Close()
	c.Write(servertest.Frame(fmt.Sprintf("watch,ack=1,user=fier,channel=%s,join=%s", channel, policy)))
	if st, err := servertest.ReadStatus(c); st != "ok" {
		t.Errorf("%s watcher: %q %v", policy, st, err)
		return w
	}
	c.SetReadDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 && len(w.data) == 0 {
			w.firstByte = time.Since(connected)
		}
		w.data = append(w.data, buf[:n]...)
		if err != nil {
			return w
		}
	}
}

// startsWithPAT reports whether ts starts with a packet of PID 0.
func startsWithPAT(ts []byte) bool {
	return len(ts) >= 188 && ts[0] == 0x47 && ts[1]&0x1f == 0 && ts[2] == 0
}

// spread formats durations as "median (min–max)".
func spread(d []time.Duration) string {
	if len(d) == 0 {
		return "none"
	}
	slices.Sort(d)
	return fmt.Sprintf("%v (%v–%v)", d[len(d)/2].Round(time.Millisecond), d[0].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
}

// TestAudioOnlyJoins: audio-only MPEG-TS (AAC, MP2) broadcast at real-time
// pace; watchers joining at random moments get bytes at once (gop) or at
// the next audio join point (keyframe), which ffmpeg decodes without an
// error and whose continuity counters follow on.
func TestAudioOnlyJoins(t *testing.T) {
	needFFmpeg(t)
	for _, codec := range []string{"aac", "mp2"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			testAudioJoins(t, codec)
		})
	}
}

func testAudioJoins(t *testing.T, codec string) {
	stream := ffmpegTS(t, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", audioSeconds),
		"-c:a", codec, "-b:a", "128k")
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=radio")
	r := rand.New(rand.NewPCG(uint64(len(codec)), 15))
	var mu sync.Mutex
	var got []*lateWatcher
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		at := time.Duration(1000+r.IntN((audioSeconds-3)*1000)) * time.Millisecond
		for _, pol := range []string{"gop", "keyframe"} {
			wg.Go(func() {
				w := watchLate(t, ts.Addr, "radio", pol, start, at)
				mu.Lock()
				got = append(got, w)
				mu.Unlock()
			})
		}
	}
	broadcastPaced(b, stream, audioSeconds, start)
	wg.Wait()

	firstBytes := map[string][]time.Duration{}
	for _, w := range got {
		switch {
		case len(w.data) == 0:
			t.Errorf("%s join at %v: no bytes", w.policy, w.at)
			continue
		case !startsWithPAT(w.data):
			t.Errorf("%s join at %v: does not start with the PAT", w.policy, w.at)
		}
		if errs := servertest.DecodeErrors(t, w.data); len(errs) > 0 {
			t.Errorf("%s join at %v: %d decoder errors, first: %s", w.policy, w.at, len(errs), errs[0])
		}
		if err := mediatest.CheckContinuity(w.data); err != nil {
			t.Errorf("%s join at %v: %v", w.policy, w.at, err)
		}
		firstBytes[w.policy] = append(firstBytes[w.policy], w.firstByte)
	}
	if info := ts.Counters().Hub; info.JoinFallbacks != 0 {
		t.Errorf("%d watchers fell back; audio has join points every 250 ms", info.JoinFallbacks)
	}
	for _, pol := range []string{"gop", "keyframe"} {
		t.Logf("%s audio-only TS, join=%s: first bytes after %s, %d joins", codec, pol, spread(firstBytes[pol]), len(firstBytes[pol]))
	}
}

// TestJoinFallback: an H.264 stream whose only keyframe is its first
// picture. Watchers that wait for a keyframe start at the fallback point
// after the join timeout: the PAT and PMT first, counters that follow on.
// The fallbacks are counted, and logged once for the channel.
func TestJoinFallback(t *testing.T) {
	needFFmpeg(t)
	const seconds, timeout = 6, time.Second
	stream := ffmpegTS(t, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x180:rate=30:duration=%d", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=duration=%d", seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "1000", "-c:a", "aac")
	var logs servertest.LogBuffer
	ts := servertest.Start(t, func(c *server.Config) {
		c.BroadcasterGrace = 0
		c.JoinTimeout = timeout
		c.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), &logs), nil))
	})
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=longgop")
	var mu sync.Mutex
	var got []*lateWatcher
	var wg sync.WaitGroup
	start := time.Now()
	for _, at := range []time.Duration{1500 * time.Millisecond, 2500 * time.Millisecond} {
		wg.Go(func() {
			w := watchLate(t, ts.Addr, "longgop", "keyframe", start, at)
			mu.Lock()
			got = append(got, w)
			mu.Unlock()
		})
	}
	broadcastPaced(b, stream, seconds, start)
	wg.Wait()

	var firstBytes []time.Duration
	for _, w := range got {
		if !startsWithPAT(w.data) {
			t.Errorf("join at %v: %d bytes that do not start with the PAT", w.at, len(w.data))
			continue
		}
		if bytes.HasSuffix(stream, w.data) {
			t.Errorf("join at %v: no PAT/PMT prefix before the stream", w.at)
		}
		if err := mediatest.CheckContinuity(w.data); err != nil {
			t.Errorf("join at %v: %v", w.at, err)
		}
		firstBytes = append(firstBytes, w.firstByte)
	}
	if n := ts.Counters().Hub.JoinFallbacks; n != 2 {
		t.Errorf("%d fallbacks counted, want 2", n)
	}
	if n := strings.Count(logs.String(), "no join point within the join timeout"); n != 1 {
		t.Errorf("fallback logged %d times, want once for the channel", n)
	}
	t.Logf("join timeout %v: watchers got their first bytes after %s", timeout, spread(firstBytes))
}
