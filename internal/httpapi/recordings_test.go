package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/record"
	"github.com/fstream/fstream/internal/server/servertest"
)

// startRecordingEnv is a relay with a recorder of fier/* in a temporary
// directory (returned) and the API serving its recordings.
func startRecordingEnv(t *testing.T) (*env, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rec")
	var rec *record.Recorder
	e := startEnv(t, envOptions{api: func(c *Config) {
		var err error
		rec, err = record.New(record.Config{Dir: dir, Channels: []string{"fier/*"}, ScanInterval: 10 * time.Millisecond}, c.Server.Hub())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rec.Close)
		c.Recordings = rec
	}})
	return e, dir
}

// TestRecordingsAPI records a broadcast: the API lists the file as being
// recorded, then as done; the download is what the broadcaster sent; the
// metrics report the channel.
func TestRecordingsAPI(t *testing.T) {
	e, _ := startRecordingEnv(t)
	stream, err := os.ReadFile(filepath.Join("..", "media", "testdata", "h264.ts"))
	if err != nil {
		t.Fatal(err)
	}
	stream = stream[:len(stream)/tsPacket*tsPacket]
	b := e.broadcast(t, "fier", "cam", "")
	servertest.WaitFor(t, "the recorder to watch", func() bool { return e.srv.Watchers("fier", "cam") == 1 })
	if _, err := b.Write(stream); err != nil {
		t.Fatal(err)
	}
	var list recordingsJSON
	servertest.WaitFor(t, "the file being recorded", func() bool {
		e.getJSON(t, "/api/v1/recordings", &list)
		return len(list.Recordings) == 1 && list.Recordings[0].State == "recording" &&
			len(list.Channels) == 1 && list.Channels[0].State == "recording"
	})
	b.Close()
	servertest.WaitFor(t, "the recording to end", func() bool {
		e.getJSON(t, "/api/v1/recordings", &list)
		return len(list.Recordings) == 1 && list.Recordings[0].State == "done" && list.Channels[0].State == "idle"
	})
	r := list.Recordings[0]
	if r.User != "fier" || r.Channel != "cam" || !strings.HasSuffix(r.File, ".ts") || r.Bytes != int64(len(stream)) ||
		r.URL != "/recordings/fier/cam/"+r.File || r.Start.IsZero() {
		t.Errorf("recording %+v, want fier/cam, %d bytes", r, len(stream))
	}
	if c := list.Channels[0]; c.Bytes != int64(len(stream)) || c.Files != 1 || c.Gaps != 0 || c.Errors["disk-full"] != 0 {
		t.Errorf("channel %+v", c)
	}
	resp, body := e.do(t, "GET", r.URL, nil)
	if resp.StatusCode != 200 || !bytes.Equal([]byte(body), stream) {
		t.Fatalf("download: %d, %d bytes; want 200 and the %d bytes sent", resp.StatusCode, len(body), len(stream))
	}
	if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "video/mp2t" || !strings.Contains(cd, "attachment") {
		t.Errorf("Content-Type %q, Content-Disposition %q", ct, cd)
	}
	_, metrics := e.do(t, "GET", "/metrics", nil)
	for _, want := range []string{
		`fstream_recording_state{channel="cam",state="idle",user="fier"} 1`,
		`fstream_recording_written_bytes_total{channel="cam",user="fier"} ` + strconv.Itoa(len(stream)),
		`fstream_recording_errors_total{channel="cam",kind="disk-full",user="fier"} 0`,
		`fstream_recording_gaps_total{channel="cam",user="fier"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestRecordingDownloadsStayInTheDirectory asks for files outside the
// recording directory every way a path can say it: none is served.
func TestRecordingDownloadsStayInTheDirectory(t *testing.T) {
	e, dir := startRecordingEnv(t)
	const secret = "top secret"
	const name = "20261203T094512.345Z.ts"
	for _, p := range []string{
		filepath.Join(dir, "..", "secret.ts"),
		filepath.Join(dir, "..", name),
		filepath.Join(dir, "fier", name),
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(secret), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "..", name), filepath.Join(dir, "fier", "cam")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/recordings/fier/cam/" + name, // cam is a link to a file outside
		"/recordings/fier/../" + name,
		"/recordings/fier/%2e%2e/" + name,
		"/recordings/%2e%2e/%2e%2e/" + name,
		"/recordings/fier/cam/..%2f..%2f..%2fsecret.ts",
		"/recordings/fier/cam/..%5c..%5csecret.ts",
		"/recordings/..%2f..%2f/x/" + name,
		"/recordings/fier/cam/%2fetc%2fpasswd",
		"/recordings/fier/cam/secret.ts",
		"/recordings/fier/" + name,
	} {
		resp, body := e.do(t, "GET", path, nil)
		if resp.StatusCode == 200 || strings.Contains(body, secret) {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, body)
		}
	}
	// As the status page: not for remote clients unless remote reads are on.
	for _, path := range []string{"/api/v1/recordings", "/recordings/fier/cam/" + name} {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = "192.0.2.1:5000"
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("GET %s from a remote address: %d, want 403", path, rec.Code)
		}
	}
}

// TestRecordingsOff: a server that does not record says how to make it.
func TestRecordingsOff(t *testing.T) {
	e := startEnv(t, envOptions{})
	for _, path := range []string{"/api/v1/recordings", "/recordings/fier/cam/20261203T094512.345Z.ts"} {
		resp, body := e.do(t, "GET", path, nil)
		if resp.StatusCode != 404 || !strings.Contains(body, "--record") {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, body)
		}
	}
}
