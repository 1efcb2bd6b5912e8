package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fstream/fstream/internal/hls"
	"github.com/fstream/fstream/internal/server/servertest"
)

// hlsGOP is the GOP of the HLS test streams: 50 frames at 25 fps.
const (
	hlsFPS       = 25
	hlsGOPFrames = 50
)

// startHLSEnv is startEnv with HLS on.
func startHLSEnv(t *testing.T, adjust func(*hls.Config)) *env {
	t.Helper()
	return startEnv(t, envOptions{api: func(c *Config) {
		h := hls.DefaultConfig()
		if adjust != nil {
			adjust(&h)
		}
		c.HLS = &h
		c.HLSCORS = "*"
	}})
}

// hlsSource broadcasts an ffmpeg-made real-time stream in format ("mpegts":
// H.264 and AAC in TS; "h264", "h265": raw Annex B without B-frames) to
// user/channel until stop is called or the test ends.
func (e *env) hlsSource(t *testing.T, user, channel, password, format string, extra ...string) (stop func()) {
	t.Helper()
	var before int64
	if ch := e.srv.Channel(user, channel); ch != nil {
		before = ch.Stats().BytesIn
	}
	ffmpeg := needTool(t, "ffmpeg")
	conn := e.broadcast(t, user, channel, password)
	g := strconv.Itoa(hlsGOPFrames)
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=160x120:rate=%d", hlsFPS)}
	x264 := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", g, "-keyint_min", g, "-sc_threshold", "0"}
	switch format {
	case "mpegts":
		args = append(args, "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000")
		args = append(args, x264...)
		args = append(args, "-c:a", "aac", "-b:a", "32k", "-f", "mpegts")
	case "h264":
		args = append(args, x264...)
		args = append(args, "-bf", "0", "-f", "h264")
	case "h265":
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
			"-x265-params", "log-level=error:bframes=0:no-open-gop=1:keyint="+g+":min-keyint="+g+":scenecut=0", "-f", "hevc")
	}
	args = append(args, extra...)
	cmd := exec.Command(ffmpeg, append(args, "pipe:1")...)
	cmd.Stdout = conn
	stderr := new(servertest.LogBuffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			conn.Close()
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	servertest.WaitFor(t, "ffmpeg's first bytes", func() bool {
		ch := e.srv.Channel(user, channel)
		return ch != nil && ch.Stats().BytesIn > before
	})
	return stop
}

// playlist fetches a playlist and requires 200.
func (e *env) playlist(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, body := e.do(t, http.MethodGet, path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return resp, body
}

// segmentURIs returns the segment lines of a playlist.
func segmentURIs(body string) []string {
	var uris []string
	for _, l := range strings.Split(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			uris = append(uris, l)
		}
	}
	return uris
}

// waitSegments polls the playlist until it lists at least n segments.
func (e *env) waitSegments(t *testing.T, path string, n int) string {
	t.Helper()
	var body string
	servertest.WaitFor(t, fmt.Sprintf("%d segments in %s", n, path), func() bool {
		_, body = e.playlist(t, path)
		return len(segmentURIs(body)) >= n
	})
	return body
}

// probeOut runs ffprobe and returns its first line of output.
func probeOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(needTool(t, "ffprobe"), append([]string{"-v", "error"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ffprobe %v: %v", args, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSuffix(strings.TrimSpace(first), ",")
}

// TestHLSFormats plays each input format as HLS with ffmpeg, and checks
// the segments ffprobe sees and the playlist's and segments' headers.
func TestHLSFormats(t *testing.T) {
	e := startHLSEnv(t, nil)
	for _, format := range []string{"mpegts", "h264", "h265"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			e.hlsSource(t, "fier", "hls-"+format, "", format)
			path := "/hls/fier/hls-" + format + "/index.m3u8"
			body := e.waitSegments(t, path, 3)
			checkPlaylist(t, e, path, body)

			// A reader that joins mid-stream decodes without errors.
			cmd := exec.Command(needTool(t, "ffmpeg"), "-nostdin", "-v", "error", "-i", e.url+path, "-t", "10", "-f", "null", "-")
			out, err := cmd.CombinedOutput()
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("ffmpeg reading the HLS stream: %v\n%s", err, out)
			}
		})
	}
}

// checkPlaylist checks a live playlist's tags and headers and its
// segments: each starts with a keyframe and lasts a GOP.
func checkPlaylist(t *testing.T, e *env, path, body string) {
	t.Helper()
	resp, _ := e.playlist(t, path)
	if ct := resp.Header.Get("Content-Type"); ct != playlistType {
		t.Errorf("playlist Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=1" {
		t.Errorf("playlist Cache-Control %q", cc)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("playlist has no CORS header")
	}
	for _, tag := range []string{"#EXTM3U", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:", "#EXT-X-PROGRAM-DATE-TIME:", "#EXTINF:"} {
		if !strings.Contains(body, tag) {
			t.Errorf("playlist lacks %s:\n%s", tag, body)
		}
	}
	dir := t.TempDir()
	gop := float64(hlsGOPFrames)
	uris := segmentURIs(body)
	for i, u := range uris[:len(uris)-1] { // the newest may be cut short by a restart
		sp := strings.TrimSuffix(path, "index.m3u8") + u
		resp, data := e.do(t, http.MethodGet, sp, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", sp, resp.StatusCode)
		}
		if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != segmentType || !strings.Contains(cc, "immutable") {
			t.Errorf("segment %s: Content-Type %q, Cache-Control %q", u, ct, cc)
		}
		tag := resp.Header.Get("ETag")
		if r, _ := e.do(t, http.MethodGet, sp, http.Header{"If-None-Match": {tag}}); tag == "" || r.StatusCode != http.StatusNotModified {
			t.Errorf("segment %s: ETag %q, revalidation %d", u, tag, r.StatusCode)
		}
		f := filepath.Join(dir, fmt.Sprintf("%d.ts", i))
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if key := probeOut(t, "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_entries", "frame=key_frame", "-of", "csv=p=0", f); key != "1" {
			t.Errorf("segment %d (%s): first frame key_frame=%q", i, u, key)
		}
		n, _ := strconv.Atoi(probeOut(t, "-select_streams", "v:0", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", f))
		if d := float64(n) - gop; d > gop/10 || d < -gop/10 {
			t.Errorf("segment %d (%s): %d frames, GOP %d", i, u, n, hlsGOPFrames)
		}
	}
	if m := regexp.MustCompile(`#EXTINF:([0-9.]+),`).FindAllStringSubmatch(body, -1); len(m) > 0 {
		d, _ := strconv.ParseFloat(m[0][1], 64)
		if want := gop / hlsFPS; d < want*0.9 || d > want*1.1 {
			t.Errorf("EXTINF %v, GOP %v s", d, want)
		}
	}
}

// A protected channel's playlist needs the password and lists signed
// segment URLs; a segment without a valid signature is refused.
func TestHLSProtected(t *testing.T) {
	e := startHLSEnv(t, nil)
	e.hlsSource(t, "fier", "secret", "pw1", "mpegts")
	path := "/hls/fier/secret/index.m3u8"
	for _, tc := range []struct {
		query string
		hdr   http.Header
		code  int
		auth  bool // WWW-Authenticate expected
	}{
		{"", nil, http.StatusUnauthorized, true},
		{"?password=", nil, http.StatusUnauthorized, false},
		{"?password=wrong", nil, http.StatusUnauthorized, false},
		{"", http.Header{"Authorization": {"Basic " + basic("x", "wrong")}}, http.StatusUnauthorized, true},
	} {
		resp, _ := e.do(t, http.MethodGet, path+tc.query, tc.hdr)
		if resp.StatusCode != tc.code || (resp.Header.Get("WWW-Authenticate") != "") != tc.auth {
			t.Errorf("%q: %d, WWW-Authenticate %q", tc.query, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	var body string
	servertest.WaitFor(t, "a signed segment", func() bool {
		resp, b := e.do(t, http.MethodGet, path, http.Header{"Authorization": {"Basic " + basic("x", "pw1")}})
		body = b
		return resp.StatusCode == http.StatusOK && len(segmentURIs(b)) > 0
	})
	resp, _ := e.do(t, http.MethodGet, path+"?password=pw1", nil)
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
		t.Errorf("protected playlist Cache-Control %q", cc)
	}
	u := segmentURIs(body)[0]
	if strings.Contains(u, "pw1") || !strings.Contains(u, "sig=") {
		t.Fatalf("segment URI %q", u)
	}
	base := strings.TrimSuffix(path, "index.m3u8")
	name, _, _ := strings.Cut(u, "?")
	for _, tc := range []struct {
		uri  string
		code int
	}{
		{u, http.StatusOK},
		{name, http.StatusForbidden},
		{name + "?password=pw1", http.StatusForbidden},
		{strings.Replace(u, "sig=", "sig=0", 1), http.StatusForbidden},
		{strings.Replace(u, "exp=", "exp=1", 1), http.StatusForbidden},
	} {
		if resp, _ := e.do(t, http.MethodGet, base+tc.uri, nil); resp.StatusCode != tc.code {
			t.Errorf("GET %s: %d, want %d", tc.uri, resp.StatusCode, tc.code)
		}
	}
}

// Refusals: HLS off for a channel, a channel that is not live, a generic
// stream, a segment that does not exist.
func TestHLSRefusals(t *testing.T) {
	e := startHLSEnv(t, func(c *hls.Config) { c.Channels = []string{"fier/*"} })
	conn := e.broadcast(t, "fier", "bytes", "")
	if _, err := conn.Write(bytes.Repeat([]byte("not media "), 1000)); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "the generic stream detected", func() bool {
		return e.srv.Channel("fier", "bytes").Stats().Media.Format == "generic"
	})
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/hls/fier/nothing/index.m3u8", http.StatusNotFound},
		{"/hls/other/cam/index.m3u8", http.StatusNotFound},
		{"/hls/fier/bytes/index.m3u8", http.StatusNotFound},
		{"/hls/fier/nothing/0123abcd-0.ts", http.StatusNotFound},
		{"/hls/fier/nothing/evil.ts", http.StatusNotFound},
		{"/hls/fi%5Cer/x/index.m3u8", http.StatusBadRequest},
	} {
		if resp, body := e.do(t, http.MethodGet, tc.path, nil); resp.StatusCode != tc.code {
			t.Errorf("GET %s: %d %s, want %d", tc.path, resp.StatusCode, body, tc.code)
		}
	}
}

// A takeover mid-stream puts a discontinuity tag before the new
// broadcaster's first segment, and an HLS reader goes on without errors.
func TestHLSTakeover(t *testing.T) {
	t.Parallel()
	e := startHLSEnv(t, nil)
	e.hlsSource(t, "fier", "relay", "", "mpegts")
	path := "/hls/fier/relay/index.m3u8"
	e.waitSegments(t, path, 2)

	reader := exec.Command(needTool(t, "ffmpeg"), "-nostdin", "-v", "error", "-i", e.url+path, "-t", "10", "-f", "null", "-")
	out := new(servertest.LogBuffer)
	reader.Stdout, reader.Stderr = out, out
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "the reader's first segment", func() bool {
		return e.api.sessions.count(e.api.now()) > 0 && segmentsServed(t, e) > 0
	})
	// The new encoder's clock runs ahead of the old one: ffmpeg's HLS
	// reader ignores discontinuity tags, so a clock that went back would
	// be reported as non-monotonic timestamps by its muxer (players such
	// as Safari and hls.js reset at the tag).
	e.hlsSource(t, "fier", "relay", "", "mpegts", "-output_ts_offset", "1000")
	body := ""
	servertest.WaitFor(t, "a discontinuity in the playlist", func() bool {
		_, body = e.playlist(t, path)
		return strings.Contains(body, "#EXT-X-DISCONTINUITY\n")
	})
	if err := reader.Wait(); err != nil || strings.TrimSpace(out.String()) != "" {
		t.Errorf("reader across the takeover: %v\n%s", err, out.String())
	}
	if !strings.Contains(body, "#EXT-X-DISCONTINUITY-SEQUENCE:0") {
		t.Errorf("playlist:\n%s", body)
	}
}

// segmentsServed reads fstream_hls_requests_total for segments answered 200.
func segmentsServed(t *testing.T, e *env) float64 {
	t.Helper()
	v, _ := metricValue(e.scrape(t), "fstream_hls_requests_total", "kind", "segment", "code", "200")
	return v
}

// Wrong channel passwords on playlists share the watchers' throttle.
func TestHLSPasswordThrottle(t *testing.T) {
	e := startHLSEnv(t, nil)
	e.broadcast(t, "fier", "vault", "right")
	path := "/hls/fier/vault/index.m3u8?password=wrong"
	for i := 0; ; i++ {
		resp, body := e.do(t, http.MethodGet, path, nil)
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			break
		}
		if resp.StatusCode != http.StatusUnauthorized || i > 100 {
			t.Fatalf("attempt %d: %d %s", i, resp.StatusCode, body)
		}
	}
}
