package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/user"
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

// HTTP watchers that join mid-stream or hang up: the same watcher path as
// TCP (server.ServeWatcher), seen from an HTTP client.

const (
	// httpHangUps is how many HTTP watchers hang up at once.
	httpHangUps = 300
	// hangUpNoticed bounds the time the server may take to let go of them
	// (the "within a second", with room for a busy machine).
	hangUpNoticed = 2 * time.Second
	// continuitySeconds of each TS join are checked for continuity jumps.
	continuitySeconds = 3
)

// openFDs counts the process's open descriptors, or -1 without /proc.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestWatchHangUps: HTTP watchers to which nothing is written (of a silent
// channel, whose response has not even started; or waiting for a keyframe)
// hang up. net/http's background read cancels each request's context, and
// the server lets go of them within hangUpNoticed.
func TestWatchHangUps(t *testing.T) {
	e := startEnv(t, envOptions{server: func(c *server.Config) { c.JoinTimeout = time.Hour }})
	e.broadcast(t, "fier", "silent", "")
	nokey := e.broadcast(t, "fier", "nokey", "")
	if _, err := nokey.Write(tsPayload(64)); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "the format of channel nokey", func() bool {
		return e.srv.Channel("fier", "nokey").Stats().Media.Format == "mpegts"
	})
	for _, path := range []string{"/watch/fier/silent", "/watch/fier/nokey?join=keyframe"} {
		t.Run(path, func(t *testing.T) { testHTTPHangUps(t, e, path) })
	}
}

func testHTTPHangUps(t *testing.T, e *env, path string) {
	base := openFDs()
	tr := &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range httpHangUps {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+path, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				return // cancelled before the response started (silent channel)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	servertest.WaitFor(t, "every HTTP watcher in the hub", func() bool { return e.srv.Counters().Watchers == httpHangUps })
	cancel() // every client closes its connection
	wg.Wait()
	closed := time.Now()
	for {
		fds, watchers := openFDs(), e.srv.Counters().Watchers
		if watchers == 0 && fds <= base {
			t.Logf("%d HTTP watchers hung up; the server let go of them in %v (descriptors %d, before %d)",
				httpHangUps, time.Since(closed).Round(time.Millisecond), fds, base)
			return
		}
		if time.Since(closed) > hangUpNoticed {
			t.Fatalf("%v after %d HTTP watchers hung up the server still has %d of them and %d descriptors (%d before)",
				hangUpNoticed, httpHangUps, watchers, fds, base)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readFor reads an HTTP watch of path for d (or until it ends) and returns
// the bytes and the time from the request to the first of them.
func (e *env) readFor(t *testing.T, path string, d time.Duration) (data []byte, firstByte time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+path, nil)
	sent := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return nil, 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", path, resp.Status)
		return nil, 0
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 && len(data) == 0 {
			firstByte = time.Since(sent)
		}
		data = append(data, buf[:n]...)
		if err != nil {
			return data, firstByte
		}
	}
}

// TestWatchContinuity: HTTP watchers of a live ffmpeg channel join at
// random moments with each join policy; the first seconds each gets start
// with the PAT and carry no continuity counter jump.
func TestWatchContinuity(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.ffmpegLive(t, "fier", "live", "")
	r := rand.New(rand.NewPCG(9, 4))
	var wg sync.WaitGroup
	for i := range 4 {
		for _, pol := range []string{"gop", "keyframe"} {
			at := time.Duration(r.IntN(2000)) * time.Millisecond
			wg.Go(func() {
				time.Sleep(at)
				data, _ := e.readFor(t, "/watch/fier/live?join="+pol, continuitySeconds*time.Second)
				if len(data) < 188 || data[0] != tsSync || data[1]&0x1f != 0 || data[2] != 0 {
					t.Errorf("join %d (%s): %d bytes, not starting with the PAT", i, pol, len(data))
					return
				}
				if err := mediatest.CheckContinuity(data); err != nil {
					t.Errorf("join %d (%s) after %v: %v", i, pol, at, err)
				}
			})
		}
	}
	wg.Wait()
}

// ffmpegTS runs ffmpeg with args and returns the MPEG-TS it wrote.
func ffmpegTS(t *testing.T, args ...string) []byte {
	t.Helper()
	ffmpeg := needTool(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "stream.ts")
	args = append(append([]string{"-v", "error"}, args...), "-f", "mpegts", out)
	if b, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestWatchAudioOnly: audio-only MPEG-TS (AAC, MP2) broadcast at real-time
// pace; HTTP watchers joining mid-stream get bytes that ffmpeg decodes
// without an error. The time to the first bytes is reported, not asserted.
func TestWatchAudioOnly(t *testing.T) {
	const seconds = 6
	for _, codec := range []string{"aac", "mp2"} {
		t.Run(codec, func(t *testing.T) {
			stream := ffmpegTS(t, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", seconds),
				"-c:a", codec, "-b:a", "128k")
			e := startEnv(t, envOptions{})
			b := e.broadcast(t, "fier", "radio", "")
			start := time.Now()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var firstBytes []time.Duration
			for _, at := range []time.Duration{1200 * time.Millisecond, 2500 * time.Millisecond, 3700 * time.Millisecond} {
				wg.Go(func() {
					time.Sleep(time.Until(start.Add(at)))
					data, first := e.readFor(t, "/watch/fier/radio", time.Minute)
					if errs := decodeErrorLines(t, data); len(data) == 0 || len(errs) > 0 {
						t.Errorf("join at %v: %d bytes, %d decoder errors %q", at, len(data), len(errs), errs)
					}
					if err := mediatest.CheckContinuity(data); err != nil {
						t.Errorf("join at %v: %v", at, err)
					}
					mu.Lock()
					firstBytes = append(firstBytes, first)
					mu.Unlock()
				})
			}
			rate := len(stream) / seconds
			for off := 0; off < len(stream); {
				n := min(len(stream)-off, rate/20)
				b.Write(stream[off : off+n])
				off += n
				time.Sleep(time.Until(start.Add(time.Duration(off) * time.Second / time.Duration(rate))))
			}
			b.CloseWrite()
			wg.Wait()
			slices.Sort(firstBytes)
			t.Logf("%s audio-only TS over HTTP: first bytes after %v (%d joins)", codec, firstBytes, len(firstBytes))
		})
	}
}

// decodeErrorLines returns ffmpeg's error lines for a stream.
func decodeErrorLines(t *testing.T, data []byte) []string {
	t.Helper()
	cmd := exec.Command(needTool(t, "ffmpeg"), "-v", "error", "-i", "-", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, _ := cmd.CombinedOutput()
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestWatchVLC plays /watch of a live ffmpeg channel with VLC for a few
// seconds: its MPEG-TS demuxer must report no "TS discontinuity" (a
// continuity counter jump at the join). VLC refuses to run as root, so as
// root it runs as nobody. Skipped when cvlc is not installed.
func TestWatchVLC(t *testing.T) {
	cvlc := needTool(t, "cvlc")
	e := startEnv(t, envOptions{})
	e.ffmpegLive(t, "fier", "live", "")
	for _, pol := range []string{"gop", "keyframe"} {
		t.Run(pol, func(t *testing.T) {
			args := []string{"-I", "dummy", "--no-one-instance", "--vout", "dummy", "--aout", "dummy", "-vv",
				"--run-time", "4", "--play-and-exit", e.url + "/watch/fier/live?join=" + pol}
			name := cvlc
			if u, err := user.Current(); err == nil && u.Uid == "0" {
				name, args = "runuser", append([]string{"-u", "nobody", "--", cvlc}, args...)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("cvlc: %v\n%s", err, out)
			}
			// VLC logs "TS discontinuity (received 3, expected 2) for PID
			// 0" for tables and "discontinuity received 0xe instead of
			// 0xd (pid=256)" for streams.
			log := string(out)
			if !strings.Contains(log, `using demux module "ts"`) || !strings.Contains(log, "has now es fcc=h264") {
				t.Fatalf("VLC's log shows no MPEG-TS demuxing of the stream:\n%s", log)
			}
			if d := grepLines(log, "discontinuity"); d != "" {
				t.Errorf("VLC saw discontinuities:\n%s", d)
			}
		})
	}
}
