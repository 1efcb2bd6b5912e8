package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

func TestContentType(t *testing.T) {
	for format, want := range map[string]string{
		"mpegts":  "video/mp2t",
		"h264":    "video/h264",
		"h265":    "video/h265",
		"generic": "application/octet-stream",
		"":        "application/octet-stream",
	} {
		if got := contentType(format); got != want {
			t.Errorf("contentType(%q) = %q, want %q", format, got, want)
		}
	}
}

func TestLooksLikeTS(t *testing.T) {
	ts := tsPayload(4)
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"aligned", ts, true},
		{"joined mid-packet", ts[100:], true},
		{"last offset of a packet", ts[1:], true},
		{"two packets only", ts[:2*tsPacket+1], true},
		{"too short", ts[:2*tsPacket], false},
		{"empty", nil, false},
		{"no sync pattern", bytes.Repeat([]byte{0x47, 0, 0}, 400), false},
		{"zeros", make([]byte, 1000), false},
	}
	for _, tt := range tests {
		if got := looksLikeTS(tt.b); got != tt.want {
			t.Errorf("%s: looksLikeTS = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestChannelPassword(t *testing.T) {
	tests := []struct {
		name      string
		url       string
		basic     []string // user, password
		password  string
		fromQuery bool
	}{
		{"none", "/watch/a/b", nil, "", false},
		{"query", "/watch/a/b?password=x%2Cy", nil, "x,y", true},
		{"empty query", "/watch/a/b?password=", nil, "", true},
		{"basic", "/watch/a/b", []string{"anyone", "pw"}, "pw", false},
		{"query wins", "/watch/a/b?password=q", []string{"u", "b"}, "q", true},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "http://127.0.0.1"+tt.url, nil)
		if tt.basic != nil {
			r.SetBasicAuth(tt.basic[0], tt.basic[1])
		}
		pw, q := channelPassword(r)
		if pw != tt.password || q != tt.fromQuery {
			t.Errorf("%s: channelPassword = %q, %v; want %q, %v", tt.name, pw, q, tt.password, tt.fromQuery)
		}
	}
}

// TestWatchStream proves the HTTP watcher gets exactly the broadcast bytes,
// with the headers, and a clean end when the channel ends.
func TestWatchStream(t *testing.T) {
	e := startEnv(t, envOptions{})
	tests := []struct {
		name    string
		channel string
		chanPW  string
		path    string
		hdr     http.Header
	}{
		{"open", "cam", "", "/watch/fier/cam?join=live", nil},
		{"query password", "q", "pw&1 ü", "/watch/fier/q?join=live&password=" + url.QueryEscape("pw&1 ü"), nil},
		{"basic auth password", "basic", "pw", "/watch/fier/basic?join=live", http.Header{"Authorization": {"Basic " + basic("vlc", "pw")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.broadcast(t, "fier", tt.channel, tt.chanPW)
			hw := e.startHTTPWatch(t, tt.path, tt.hdr)
			servertest.WaitFor(t, "the HTTP watcher", func() bool { return e.srv.Watchers("fier", tt.channel) == 1 })
			payload := tsPayload(3000) // 564 KB: more than one batch
			if _, err := b.Write(payload); err != nil {
				t.Fatal(err)
			}
			b.Close() // no grace period: the channel ends after the last byte
			hw.wait(t)
			if hw.err != nil {
				t.Fatalf("watch: %v", hw.err)
			}
			if hw.resp.StatusCode != 200 {
				t.Fatalf("status %d", hw.resp.StatusCode)
			}
			if ct := hw.resp.Header.Get("Content-Type"); ct != "video/mp2t" {
				t.Errorf("Content-Type %q, want video/mp2t", ct)
			}
			if cc := hw.resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			if !bytes.Equal(hw.body, payload) {
				t.Errorf("got %d bytes, want the %d broadcast (equal: false)", len(hw.body), len(payload))
			}
		})
	}
}

func basic(user, pw string) string {
	r, _ := http.NewRequest("GET", "http://127.0.0.1/", nil)
	r.SetBasicAuth(user, pw)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestWatchFull(t *testing.T) {
	e := startEnv(t, envOptions{server: func(c *server.Config) { c.MaxWatchersPerChannel = 1 }})
	e.broadcast(t, "fier", "cam", "")
	e.watchTCP(t, "fier", "cam", "")
	resp, body := e.do(t, "GET", "/watch/fier/cam", nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "too") && !strings.Contains(body, "as many watchers") {
		t.Fatalf("watching a full channel: %d %v %q", resp.StatusCode, resp.Header, body)
	}
}

func TestWatchShuttingDown(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.broadcast(t, "fier", "cam", "")
	e.srv.Close()
	resp, body := e.do(t, "GET", "/watch/fier/cam", nil)
	if resp.StatusCode != 503 || !strings.Contains(body, "shutting down") {
		t.Fatalf("watching a closed server: %d %q", resp.StatusCode, body)
	}
	var metrics string
	_, metrics = e.do(t, "GET", "/metrics", nil)
	if !strings.Contains(metrics, `fstream_http_watch_requests_total{code="503"} 1`) {
		t.Errorf("the refusal is not counted:\n%s", grepLines(metrics, "fstream_http_watch_requests_total"))
	}
}

// TestWatchCurl fetches a whole channel with curl.
func TestWatchCurl(t *testing.T) {
	curl := needTool(t, "curl")
	e := startEnv(t, envOptions{})
	b := e.broadcast(t, "fier", "cam", "")
	dir := t.TempDir()
	out, hdr := filepath.Join(dir, "body"), filepath.Join(dir, "headers")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "-sS", "--fail", "-D", hdr, "-o", out, e.url+"/watch/fier/cam?join=live")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, "curl to join", func() bool { return e.srv.Watchers("fier", "cam") == 1 })
	payload := tsPayload(2000)
	if _, err := b.Write(payload); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("curl: %v: %s", err, stderr.String())
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, payload) {
		t.Errorf("curl got %d bytes, want the %d broadcast", len(got), len(payload))
	}
	h, _ := os.ReadFile(hdr)
	if !strings.Contains(strings.ToLower(string(h)), "content-type: video/mp2t") {
		t.Errorf("curl's headers lack the MPEG-TS Content-Type:\n%s", h)
	}

	// curl asks for a protected channel without a password.
	e.broadcast(t, "fier", "locked", "pw")
	cmd = exec.CommandContext(ctx, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", e.url+"/watch/fier/locked")
	code, err := cmd.Output()
	if err != nil || string(code) != "401" {
		t.Errorf("curl without a password: %s (%v), want 401", code, err)
	}
}

// TestWatchFFmpeg plays a live ffmpeg-made channel over HTTP with ffprobe,
// ffmpeg and a Go client, giving the password each way a player would.
func TestWatchFFmpeg(t *testing.T) {
	ffprobe := needTool(t, "ffprobe")
	ffmpeg := needTool(t, "ffmpeg")
	e := startEnv(t, envOptions{})
	e.ffmpegLive(t, "fier", "live", "pw")
	u, _ := url.Parse(e.url)

	t.Run("content type", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/watch/fier/live?password=pw", nil)
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp2t" {
			t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		buf := make([]byte, 3*tsPacket)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || !looksLikeTS(buf) {
			t.Fatalf("first bytes are not MPEG-TS (%v)", err)
		}
	})

	t.Run("ffprobe", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-analyzeduration", "1000000", "-show_entries", "stream=codec_type,codec_name",
			"-of", "json", e.url+"/watch/fier/live?password=pw").Output()
		if err != nil {
			t.Fatalf("ffprobe: %v: %s", err, stderrOf(err))
		}
		var probe struct {
			Streams []struct {
				CodecType string `json:"codec_type"`
				CodecName string `json:"codec_name"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(out, &probe); err != nil {
			t.Fatalf("ffprobe output: %v\n%s", err, out)
		}
		got := map[string]string{}
		for _, s := range probe.Streams {
			got[s.CodecType] = s.CodecName
		}
		if got["video"] != "h264" || got["audio"] != "aac" {
			t.Errorf("ffprobe found %v, want h264 video and aac audio", got)
		}
	})

	t.Run("ffmpeg with basic auth", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		auth := *u
		auth.User = url.UserPassword("mpv", "pw")
		auth.Path = "/watch/fier/live"
		// 25 frames are one second of the stream; decoding them proves
		// the bytes are a playable stream, not just bytes.
		out, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-nostdin", "-v", "error",
			"-analyzeduration", "1000000", "-i", auth.String(), "-frames:v", "25", "-f", "null", "-").CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
	})

	t.Run("ffprobe wrong password", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", e.url+"/watch/fier/live?password=nope").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "401") {
			t.Errorf("ffprobe with a wrong password: %v\n%s", err, out)
		}
	})
}

func stderrOf(err error) string {
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// grepLines returns the lines of s that contain substr.
func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// FuzzLooksLikeTS checks the sniffer against the plain definition on
// arbitrary stream starts.
func FuzzLooksLikeTS(f *testing.F) {
	f.Add(tsPayload(3))
	f.Add(tsPayload(4)[57:])
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{tsSync}, 2*tsPacket+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := false
		for off := 0; off < tsPacket; off++ {
			if off+2*tsPacket < len(b) && b[off] == tsSync && b[off+tsPacket] == tsSync && b[off+2*tsPacket] == tsSync {
				want = true
			}
		}
		if got := looksLikeTS(b); got != want {
			t.Fatalf("looksLikeTS = %v, want %v", got, want)
		}
	})
}

// TestRefusalStatus: every reason the protocol knows has an HTTP status of
// its own kind, not a server error.
func TestRefusalStatus(t *testing.T) {
	want := map[protocol.Reason]int{
		protocol.ReasonBadRequest:   http.StatusBadRequest,
		protocol.ReasonUnauthorized: http.StatusUnauthorized,
		protocol.ReasonNotFound:     http.StatusNotFound,
		protocol.ReasonForbidden:    http.StatusUnauthorized,
		protocol.ReasonBusy:         http.StatusServiceUnavailable,
		protocol.ReasonTooLarge:     http.StatusRequestEntityTooLarge,
	}
	for _, r := range protocol.Reasons {
		if got := refusalStatus(r); got != want[r] {
			t.Errorf("refusalStatus(%s) = %d, want %d", r, got, want[r])
		}
	}
	if got := refusalStatus(""); got != http.StatusInternalServerError {
		t.Errorf("refusalStatus(\"\") = %d, want 500", got)
	}
}

// TestWatchPasswordAnswers: a protected channel answers 401 saying whether
// a password was missing or wrong; it asks the client for HTTP basic auth
// (WWW-Authenticate, for VLC and mpv) only when the request did not use
// ?password=, the player's way, so that the browser never asks on top of
// the player's page. HEAD does the same without joining.
func TestWatchPasswordAnswers(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.broadcast(t, "other", "locked", "pw")
	tests := []struct {
		method, path string
		challenge    bool
		msg          string
	}{
		{http.MethodGet, "/watch/other/locked", true, "channel is protected: give its password"},
		{http.MethodGet, "/watch/other/locked?password=", false, "channel is protected: give its password"},
		{http.MethodGet, "/watch/other/locked?password=guess", false, "wrong channel password"},
		{http.MethodHead, "/watch/other/locked?password=", false, ""},
		{http.MethodHead, "/watch/other/locked", false, ""},
	}
	for _, tt := range tests {
		resp, body := e.do(t, tt.method, tt.path, nil)
		got := resp.Header.Get("WWW-Authenticate") != ""
		if resp.StatusCode != http.StatusUnauthorized || got != tt.challenge || !strings.Contains(body, tt.msg) {
			t.Errorf("%s %s: %d, WWW-Authenticate %v, body %q; want 401, %v, %q", tt.method, tt.path, resp.StatusCode, got, body, tt.challenge, tt.msg)
		}
	}
}
