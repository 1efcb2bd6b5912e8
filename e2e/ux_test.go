package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestBinaryWatchWait: "fstream watch --wait" started before the broadcast
// says once that it waits, gets the stream as soon as it starts, and says
// how it ended; without --wait the refusal names the flag.
func TestBinaryWatchWait(t *testing.T) {
	srv := serve(t)
	_, errs, code := fstream(t, nil, "watch", srv.addr, "--user", "fier", "--channel", "cam")
	if code != 3 || !strings.HasSuffix(errs, "is not live; add --wait to wait for it\n") {
		t.Fatalf("watch without --wait: exit %d, %q", code, errs)
	}

	w := startWatch(t, "watch", srv.addr, "--user", "fier", "--channel", "cam", "--wait")
	srv.waitLog(t, `msg="watcher waiting for the channel to go live"`, 1)
	data := payload(1 << 20)
	_, berrs, bcode := fstream(t, bytes.NewReader(data), "broadcast", srv.addr, "--user", "fier", "--user-password", "123", "--channel", "cam")
	if bcode != 0 {
		t.Fatalf("broadcast: exit %d, %q", bcode, berrs)
	}
	out, errs, code := w()
	if code != 0 || !bytes.Equal(out, data) {
		t.Fatalf("watch --wait: exit %d, %d of %d bytes; stderr %q", code, len(out), len(data), errs)
	}
	want := "fstream: waiting for fier/cam to go live…\n" +
		"fstream: the stream of fier/cam ended after 1.0 MiB in "
	if !strings.HasPrefix(errs, want) || strings.Count(errs, "\n") != 2 {
		t.Errorf("stderr %q, want two lines starting %q", errs, want)
	}
}

// TestBinaryBroadcastTakenOver: a broadcaster taken over by another one is
// told so, and exits 4.
func TestBinaryBroadcastTakenOver(t *testing.T) {
	srv := serve(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close() // the first broadcaster's input stays open and idle
	w.WriteString("first broadcaster")
	type result struct {
		errs string
		code int
	}
	first := make(chan result, 1)
	go func() {
		_, errs, code := fstream(t, r, "broadcast", srv.addr, "--user", "fier", "--user-password", "123", "--channel", "cam")
		first <- result{errs, code}
	}()
	waitLive(t, srv.addr, "fier", "cam")
	_, errs, code := fstream(t, strings.NewReader("second broadcaster"), "broadcast", srv.addr, "--user", "fier", "--user-password", "123", "--channel", "cam")
	if code != 0 {
		t.Fatalf("second broadcaster: exit %d, %q", code, errs)
	}
	got := <-first
	if got.code != 4 || got.errs != "fstream: taken over by a new broadcaster of fier/cam\n" {
		t.Fatalf("first broadcaster: exit %d, stderr %q", got.code, got.errs)
	}
}

// TestBinaryPortMixUps: fstream watch on the HTTP port is told at once to
// use the /watch URL or the stream port; a browser (or curl) on the stream
// port gets a page naming the HTTP side.
func TestBinaryPortMixUps(t *testing.T) {
	srv := serve(t, "--http", "127.0.0.1:0")
	web := srv.httpAddr(t)
	_, errs, code := fstream(t, nil, "watch", web, "--user", "fier", "--channel", "cam", "--connect-timeout", "1m")
	want := "this is an HTTP port: use http://" + web + "/watch/fier/cam or the stream port"
	if code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("watch on the HTTP port: exit %d, %q; want %q", code, errs, want)
	}

	resp, err := http.Get("http://" + srv.addr + "/")
	if err != nil {
		t.Fatalf("GET on the stream port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(web)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "http://127.0.0.1:"+port+"/watch/USER/CHANNEL") {
		t.Fatalf("GET on the stream port: %s %q", resp.Status, body)
	}
}
