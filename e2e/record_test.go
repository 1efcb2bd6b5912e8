package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBinaryRecord runs "fstream serve --record" and broadcasts an
// MPEG-TS file: the recording is listed by the JSON API, downloads as the
// bytes broadcast, and is in the directory the flags name.
func TestBinaryRecord(t *testing.T) {
	dir := t.TempDir()
	srv := serve(t, "--http", "127.0.0.1:0", "--record", dir, "--record-channels", "fier/*", "--record-keep", "7d")
	web := "http://" + srv.httpAddr(t)
	data, err := os.ReadFile(filepath.Join("..", "internal", "media", "testdata", "h264.ts"))
	if err != nil {
		t.Fatal(err)
	}
	data = data[:len(data)/188*188]
	g := newGate(t, data)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, errs, code := fstream(t, g, "broadcast", srv.addr, "--user", "fier", "--user-password", "123", "--channel", "cam"); code != 0 {
			t.Errorf("broadcast exit %d: %s", code, errs)
		}
	}()
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(web + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
		}
		return b
	}
	waitLive(t, srv.addr, "fier", "cam")
	// The recorder is a watcher: wait until it is one, so that it gets the
	// stream from its first byte.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var ch struct {
			WatcherList []struct{ Via string } `json:"watcher_list"`
		}
		if err := json.Unmarshal(get("/api/v1/channels/fier/cam"), &ch); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(ch.WatcherList, func(w struct{ Via string }) bool { return w.Via == "record" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recorder did not join")
		}
	}
	g.release()
	<-done

	var list struct {
		Recordings []struct{ User, Channel, File, URL, State string }
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := json.Unmarshal(get("/api/v1/recordings"), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Recordings) == 1 && list.Recordings[0].State == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recordings: %+v", list.Recordings)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec := list.Recordings[0]
	if got := get(rec.URL); !bytes.Equal(got, data) {
		t.Errorf("download %s: %d bytes, want the %d broadcast", rec.URL, len(got), len(data))
	}
	if _, err := os.Stat(filepath.Join(dir, "fier", "cam", rec.File)); err != nil {
		t.Errorf("not in --record DIR: %v", err)
	}
	if m := string(get("/metrics")); !strings.Contains(m, `fstream_recording_files_total{channel="cam",user="fier"} 1`) {
		t.Error("metrics lack the recording")
	}
}
