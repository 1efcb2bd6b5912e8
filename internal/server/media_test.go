package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/media/mediatest"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// Real streams made by ffmpeg go through the real server at real-time pace;
// watchers join at several moments with each policy and ffmpeg decodes
// what each one got.

const (
	mediaSeconds = 9 // stream length
	mediaGOP     = 2 // seconds between keyframes (-g 60 at 30 fps)
	// continuitySeconds of each TS join are checked for continuity
	// counter jumps.
	continuitySeconds = 3
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (CI installs it): %v", tool, err)
		}
	}
}

// makeStream encodes a test picture (and tone, for TS) in format f.
func makeStream(t *testing.T, f string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "stream."+f)
	args := []string{"-v", "error", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x180:rate=30:duration=%d", mediaSeconds)}
	switch f {
	case "ts":
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=duration=%d", mediaSeconds),
			"-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-c:a", "aac", "-f", "mpegts", out)
	case "h264":
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-f", "h264", out)
	case "h265":
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=60:min-keyint=60", "-f", "hevc", out)
	}
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// joinResult is what one late watcher got.
type joinResult struct {
	policy    string
	at        time.Duration // join time, since the broadcast began
	data      []byte
	arrivals  []arrival
	connected time.Time
}

type arrival struct {
	end int // bytes received so far
	at  time.Time
}

// firstFrame returns the first decoded video frame's kind, and the byte
// offset where the first keyframe's packet ends (the moment a player can show
// a clean picture).
func firstFrame(t *testing.T, data []byte) (key bool, pict string, keyEnd int, ok bool) {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "quiet", "-select_streams", "v:0", "-show_frames",
		"-show_entries", "frame=key_frame,pict_type,pkt_pos,pkt_size", "-read_intervals", "%+#150", "-of", "json", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		return false, "", 0, false
	}
	var v struct {
		Frames []struct {
			KeyFrame int    `json:"key_frame"`
			PictType string `json:"pict_type"`
			PktPos   string `json:"pkt_pos"`
			PktSize  string `json:"pkt_size"`
		} `json:"frames"`
	}
	if json.Unmarshal(out, &v) != nil || len(v.Frames) == 0 {
		return false, "", 0, false
	}
	for _, fr := range v.Frames {
		if fr.KeyFrame == 1 {
			var pos, size int
			fmt.Sscan(fr.PktPos, &pos)
			fmt.Sscan(fr.PktSize, &size)
			keyEnd = pos + size
			break
		}
	}
	return v.Frames[0].KeyFrame == 1, v.Frames[0].PictType, keyEnd, keyEnd > 0
}

// firstFrameDelay is the time from connecting until the bytes of the first
// decodable frame had arrived.
func (r *joinResult) firstFrameDelay(end int) time.Duration {
	for _, a := range r.arrivals {
		if a.end >= end {
			return a.at.Sub(r.connected)
		}
	}
	return -1
}

func TestJoinPolicies(t *testing.T) {
	needFFmpeg(t)
	for _, format := range []string{"ts", "h264", "h265"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			testJoins(t, format)
		})
	}
}

func testJoins(t *testing.T, format string) {
	stream := makeStream(t, format)
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 0 })
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel="+format)
	early := servertest.StartDrain(servertest.MustHandshake(t, ts.Addr, "watch,user=fier,channel="+format))

	policies := []string{"gop", "keyframe", "live"}
	r := rand.New(rand.NewPCG(uint64(len(format)), 7))
	var joins []time.Duration
	for range 4 {
		// Random moments, away from the very end so each watcher sees
		// at least one more keyframe.
		joins = append(joins, time.Duration(1000+r.IntN((mediaSeconds-mediaGOP-2)*1000))*time.Millisecond)
	}
	slices.Sort(joins)

	var mu sync.Mutex
	var results []*joinResult
	var wg sync.WaitGroup
	start := time.Now()
	for _, at := range joins {
		for _, pol := range policies {
			wg.Go(func() {
				time.Sleep(time.Until(start.Add(at)))
				res := &joinResult{policy: pol, at: at, connected: time.Now()}
				c, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second)
				if err != nil {
					t.Errorf("dial: %v", err)
					return
				}
				defer c.Close()
				c.Write(servertest.Frame(fmt.Sprintf("watch,ack=1,user=fier,channel=%s,join=%s", format, pol)))
				if st, err := servertest.ReadStatus(c); st != "ok" {
					t.Errorf("%s watcher: %q %v", pol, st, err)
					return
				}
				c.SetReadDeadline(time.Now().Add(time.Minute))
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					res.data = append(res.data, buf[:n]...)
					res.arrivals = append(res.arrivals, arrival{len(res.data), time.Now()})
					if err != nil {
						break
					}
				}
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
			})
		}
	}

	// Broadcast at the stream's own pace, in 50 ms slices.
	rate := len(stream) / mediaSeconds
	for off := 0; off < len(stream); {
		n := min(len(stream)-off, rate/20)
		b.Write(stream[off : off+n])
		off += n
		time.Sleep(time.Until(start.Add(time.Duration(off) * time.Second / time.Duration(rate))))
	}
	b.CloseWrite()
	wg.Wait()

	if early.Wait(); early.Sum != sha256.Sum256(stream) {
		t.Errorf("watcher from the start got %d of %d bytes or different bytes", early.N, len(stream))
	}

	delays := map[string][]time.Duration{}
	liveErrors := 0
	for _, res := range results {
		errs := servertest.DecodeErrors(t, res.data)
		key, pict, end, ok := firstFrame(t, res.data)
		switch res.policy {
		case "gop", "keyframe":
			if len(errs) > 0 {
				t.Errorf("%s join at %v: %d decoder errors, first: %s", res.policy, res.at, len(errs), errs[0])
			}
			if !ok || !key {
				t.Errorf("%s join at %v: first frame key=%v type=%s (decoded: %v)", res.policy, res.at, key, pict, ok)
			}
			if format == "ts" {
				// The first seconds, as a strict demuxer (VLC) sees them.
				first := res.data[:min(len(res.data), continuitySeconds*len(stream)/mediaSeconds)]
				if err := mediatest.CheckContinuity(first); err != nil {
					t.Errorf("%s join at %v: %v", res.policy, res.at, err)
				}
			}
		case "live":
			liveErrors += len(errs)
		}
		if ok {
			delays[res.policy] = append(delays[res.policy], res.firstFrameDelay(end))
		}
	}
	// The original's behaviour: joining anywhere gives a broken start.
	t.Logf("%s: live joins gave %d decoder errors in all", format, liveErrors)
	if liveErrors == 0 && format != "ts" {
		t.Errorf("%s: joining live gave no decoder errors; the join tests prove nothing", format)
	}
	for _, pol := range policies {
		d := delays[pol]
		slices.Sort(d)
		if len(d) > 0 {
			t.Logf("%s: %-8s time to first keyframe: median %v (min %v, max %v, %d joins)", format, pol,
				d[len(d)/2].Round(time.Millisecond), d[0].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond), len(d))
		}
	}
}

// TestSkipKeepsPicture: a watcher reading at half the stream's rate is moved
// to the newest keyframe instead of being disconnected, and counted.
func TestSkipKeepsPicture(t *testing.T) {
	needFFmpeg(t)
	stream := makeStream(t, "ts")
	ts := servertest.Start(t, func(c *server.Config) {
		c.BroadcasterGrace = 0
		c.MaxLag = 1500 * time.Millisecond
		c.WatcherSendBuffer = 16 << 10 // so that lag shows within seconds
	})
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=cam")
	slow := servertest.DialSlow(t, ts.Addr, 8<<10)
	if st := servertest.Handshake(t, slow, "watch,user=fier,channel=cam"); st != "ok" {
		t.Fatalf("slow watcher's handshake: %q", st)
	}
	rate := len(stream) / mediaSeconds
	got := make(chan []byte)
	go func() {
		var all []byte
		buf := make([]byte, 4<<10)
		slow.SetReadDeadline(time.Now().Add(time.Minute))
		start := time.Now()
		for {
			n, err := slow.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				got <- all
				return
			}
			// Half the stream's rate.
			time.Sleep(time.Until(start.Add(time.Duration(len(all)) * time.Second / time.Duration(rate/2))))
		}
	}()
	start := time.Now()
	for off := 0; off < len(stream); {
		n := min(len(stream)-off, rate/20)
		b.Write(stream[off : off+n])
		off += n
		time.Sleep(time.Until(start.Add(time.Duration(off) * time.Second / time.Duration(rate))))
	}
	b.CloseWrite()
	data := <-got
	cs := ts.Counters()
	if cs.Hub.Skips == 0 || cs.Hub.Evictions[hub.ReasonLagging] != 0 {
		t.Fatalf("slow watcher: %d skips, %d lag evictions; want skips and no eviction", cs.Hub.Skips, cs.Hub.Evictions[hub.ReasonLagging])
	}
	errs := servertest.DecodeErrors(t, data)
	if len(errs) > 0 {
		t.Errorf("the skip was not a clean cut: %d decoder errors, first: %s", len(errs), errs[0])
	}
	t.Logf("slow watcher: %d of %d bytes, %d skips (%d bytes skipped), %d decoder errors %q",
		len(data), len(stream), cs.Hub.Skips, cs.Hub.SkippedBytes, len(errs), errs)
}

// TestTakeoverMidGOP: a broadcaster cut in mid-GOP and in the middle of a
// TS packet is taken over by one that starts the stream again. The
// watcher, who stays connected, gets the first stream to its last whole
// packet and then the new one from its first keyframe with PAT and PMT:
// whole packets throughout, and the new stream decodes without an error.
func TestTakeoverMidGOP(t *testing.T) {
	needFFmpeg(t)
	data := makeStream(t, "ts")
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = 5 * time.Second })
	const broadcast = "broadcast,user=fier,user-password=123,channel=cam"
	a := servertest.MustHandshake(t, ts.Addr, broadcast)
	w := servertest.MustHandshake(t, ts.Addr, "watch,user=fier,channel=cam,join=gop")
	cut := len(data)/2/188*188 + 97
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(w) // ends with the channel; the checks below judge the bytes
		got <- b
	}()
	if _, err := a.Write(data[:cut]); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "the first stream relayed", func() bool {
		ch := ts.Hub().Channel(hub.Key{User: "fier", Channel: "cam"})
		return ch != nil && ch.Stats().BytesIn == int64(cut)
	})
	b := servertest.MustHandshake(t, ts.Addr, broadcast)
	servertest.ExpectClosed(t, a)
	if _, err := b.Write(data); err != nil {
		t.Fatal(err)
	}
	b.CloseWrite() // the channel ends after the grace period
	stream := <-got
	whole := cut / 188 * 188
	if len(stream)%188 != 0 || len(stream) < whole || !bytes.Equal(stream[:whole], data[:whole]) {
		t.Fatalf("watcher got %d bytes: want the first stream's %d bytes of whole packets first, and whole packets throughout", len(stream), whole)
	}
	second := stream[whole:]
	if len(second) == 0 || !bytes.HasSuffix(data, second[2*188:]) {
		t.Fatalf("after the takeover the watcher got %d bytes that are not the new stream from a join point", len(second))
	}
	if errs := servertest.DecodeErrors(t, second); len(errs) > 0 {
		t.Errorf("the new stream (%d bytes): %d decode errors, first: %s", len(second), len(errs), errs[0])
	}
	t.Logf("%d bytes of the first stream, %d of the new one; across the switch the decoder conceals the cut picture: %q",
		whole, len(second), servertest.DecodeErrors(t, stream))
}
