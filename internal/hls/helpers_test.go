package hls

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The fixtures are ffmpeg-made streams: 160x90 test pattern at 25 fps
// with a keyframe every gopFrames frames.
const (
	fixtureFPS = 25
	gopFrames  = 25
	fixtureSec = 6
)

var (
	fixtureMu    sync.Mutex
	fixtureCache = map[string][]byte{}
)

func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
}

// makeFixture returns (and caches for the test binary's life) a stream in
// format: "mpegts" (H.264 in TS), "h264" or "h265" (Annex B).
func makeFixture(t testing.TB, format string) []byte {
	t.Helper()
	needFFmpeg(t)
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if b, ok := fixtureCache[format]; ok {
		return b
	}
	args := []string{"-nostdin", "-v", "error", "-f", "lavfi", "-i",
		fmt.Sprintf("testsrc2=size=160x90:rate=%d", fixtureFPS), "-t", strconv.Itoa(fixtureSec)}
	g := strconv.Itoa(gopFrames)
	switch format {
	case "mpegts":
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-g", g, "-keyint_min", g, "-sc_threshold", "0", "-f", "mpegts")
	case "h264":
		// No B-frames here; h264-bframes has them.
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", g, "-keyint_min", g, "-sc_threshold", "0", "-f", "h264")
	case "h264-bframes": // x264's defaults: three B-frames, pyramid
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-g", g, "-keyint_min", g, "-sc_threshold", "0", "-f", "h264")
	case "h265-bframes": // x265's B-frames, closed GOPs
		args = append(args, "-c:v", "libx265", "-preset", "veryfast", "-g", g,
			"-x265-params", "log-level=error:no-open-gop=1:keyint="+g+":min-keyint="+g+":scenecut=0", "-f", "hevc")
	case "h265":
		args = append(args, "-c:v", "libx265", "-preset", "veryfast", "-g", g,
			"-x265-params", "log-level=error:bframes=0:no-open-gop=1:keyint="+g+":min-keyint="+g+":scenecut=0", "-f", "hevc")
	default:
		t.Fatalf("no fixture %q", format)
	}
	cmd := exec.Command("ffmpeg", append(args, "-")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v: %s", format, err, stderr.String())
	}
	fixtureCache[format] = out
	return out
}

// probe runs ffprobe on a file and returns its stdout.
func probe(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("ffprobe", append([]string{"-v", "error"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %v: %v: %s", args, err, stderr.String())
	}
	return string(out)
}

// writeTemp writes b to a new file in dir and returns its path.
func writeTemp(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// firstFrameKey reports whether the first video frame ffprobe decodes from
// the TS file at p is a keyframe.
func firstFrameKey(t testing.TB, p string) bool {
	t.Helper()
	out := probe(t, "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_entries", "frame=key_frame", "-of", "csv=p=0", p)
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(strings.TrimSuffix(first, ",")) == "1"
}

// videoDuration is the span ffprobe reads for the TS file at p: the
// number of video frames over the frame rate.
func videoFrames(t testing.TB, p string) int {
	t.Helper()
	out := probe(t, "-select_streams", "v:0", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", p)
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(first, ",")))
	if err != nil {
		t.Fatalf("ffprobe frame count %q: %v", out, err)
	}
	return n
}

// decodeErrors decodes the file at p with ffmpeg and returns what it
// logged at level error.
func decodeErrors(t testing.TB, p string) string {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", p, "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// ptsSteps returns the differences between the PTS of consecutive video
// frames as ffprobe decodes them from the file at p, in presentation
// order, with how often each occurs.
func ptsSteps(t testing.TB, p string) map[int64]int {
	t.Helper()
	out := probe(t, "-select_streams", "v:0", "-show_entries", "frame=pts", "-of", "csv=p=0", p)
	steps := map[int64]int{}
	prev := int64(-1)
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSuffix(strings.TrimSpace(l), ",")
		if l == "" {
			continue
		}
		v, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			t.Fatalf("ffprobe pts %q: %v", l, err)
		}
		if prev >= 0 {
			steps[v-prev]++
		}
		prev = v
	}
	return steps
}
