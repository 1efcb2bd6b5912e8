// Package e2e tests the built fstream binary end to end: serve, broadcast and
// watch as separate processes over real TCP on 127.0.0.1, as users run them.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var fstreamBin string // the fstream binary under test

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fstream-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fstreamBin = filepath.Join(dir, "fstream")
	build := exec.Command("go", "build", "-o", fstreamBin, "../cmd/fstream")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build fstream: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// server is a running "fstream serve" process.
type server struct {
	addr string
	pid  int
	mu   sync.Mutex
	logs bytes.Buffer
}

// waitLog waits until the server's log has n lines containing substr.
func (s *server) waitLog(t *testing.T, substr string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		got := strings.Count(s.logs.String(), substr)
		s.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server log has %d lines with %q, want %d", got, substr, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serve starts "fstream serve" on an ephemeral port with one user, fier/123.
// The server is stopped when the test ends.
func serve(t *testing.T, extra ...string) *server {
	t.Helper()
	users := t.TempDir()
	os.WriteFile(filepath.Join(users, "fier.ini"), []byte("[DEFAULT]\npassword=123\n"), 0o600)
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--users", users, "--broadcaster-grace", "0s"}, extra...)
	cmd := exec.Command(fstreamBin, args...)
	dieWithTest(cmd)
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	srv := &server{pid: cmd.Process.Pid}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			srv.mu.Lock()
			srv.logs.WriteString(sc.Text() + "\n")
			srv.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		<-done
		if t.Failed() {
			srv.mu.Lock()
			t.Logf("server log:\n%s", srv.logs.String())
			srv.mu.Unlock()
		}
	})
	select {
	case srv.addr = <-addrc:
		return srv
	case <-time.After(20 * time.Second):
		t.Fatal("server did not report its address")
		return nil
	}
}

// fstream runs the binary with stdin and returns stdout, stderr and the
// exit code.
func fstream(t *testing.T, stdin io.Reader, args ...string) (stdout []byte, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fstreamBin, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Errorf("fstream %v: %v", args, err) // may run off the test goroutine
	}
	return out.Bytes(), errb.String(), code
}

// startWatch runs "fstream watch" (or the legacy form) in the background;
// the returned function waits for it and returns what it wrote.
func startWatch(t *testing.T, args ...string) func() ([]byte, string, int) {
	t.Helper()
	type result struct {
		out  []byte
		err  string
		code int
	}
	ch := make(chan result, 1)
	go func() {
		out, errs, code := fstream(t, nil, args...)
		ch <- result{out, errs, code}
	}()
	return func() ([]byte, string, int) {
		r := <-ch
		return r.out, r.err, r.code
	}
}

// waitLive polls the server with raw handshakes (built by hand from the
// spec) until the channel is live.
func waitLive(t *testing.T, addr, user, channel string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			text := fmt.Sprintf("watch,ack=1,user=%s,channel=%s,join=live", user, channel)
			frame := binary.BigEndian.AppendUint32(nil, uint32(len(text)))
			frame = append(append(frame, 0), text...)
			c.Write(frame)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			hdr := make([]byte, 5)
			if _, err := io.ReadFull(c, hdr); err == nil {
				st := make([]byte, binary.BigEndian.Uint32(hdr))
				io.ReadFull(c, st)
				c.Close()
				// A protected channel refuses the probe, but it is live.
				if string(st) == "ok" || strings.HasPrefix(string(st), "error,reason=forbidden,") {
					return
				}
			}
			c.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("channel %s/%s never went live", user, channel)
}

func payload(n int) []byte {
	r := rand.New(rand.NewPCG(42, 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// gate is a stdin for broadcast that holds its data back until opened, so
// that watchers can join first.
type gate struct {
	open chan struct{}
	r    io.Reader
}

func (g *gate) Read(p []byte) (int, error) {
	<-g.open
	return g.r.Read(p)
}

// newGate returns a closed gate over data; a failing test opens it on the
// way out so the broadcaster process ends.
func newGate(t *testing.T, data []byte) *gate {
	g := &gate{open: make(chan struct{}), r: bytes.NewReader(data)}
	t.Cleanup(g.release)
	return g
}

// release opens the gate if it is still closed.
func (g *gate) release() {
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// TestBinaryRelay: the built binary relays tens of MiB byte-exactly from
// "fstream broadcast" to several "fstream watch" processes, one of them in
// the original's command form.
func TestBinaryRelay(t *testing.T) {
	srv := serve(t)
	addr := srv.addr
	data := payload(24 << 20)

	g := newGate(t, data)
	bdone := make(chan int, 1)
	go func() {
		_, errs, code := fstream(t, g, "broadcast", addr, "--user", "fier", "--user-password", "123", "--channel", "cam", "--channel-password", "456")
		if code != 0 {
			t.Errorf("broadcast exit %d: %s", code, errs)
		}
		bdone <- code
	}()
	waitLive(t, addr, "fier", "cam")
	watchers := []func() ([]byte, string, int){
		startWatch(t, "watch", addr, "user=fier,channel=cam,channel-password=456"),
		startWatch(t, "watch", addr, "--user", "fier", "--channel", "cam", "--channel-password", "456"),
		startWatch(t, addr, "watch,user=fier,channel=cam,channel-password=456"), // the original's form
	}
	srv.waitLog(t, `msg="watcher joined"`, len(watchers)) // waitLive's probe was refused: protected
	g.release()
	<-bdone
	want := sha256.Sum256(data)
	for i, w := range watchers {
		out, errs, code := w()
		if code != 0 || sha256.Sum256(out) != want {
			t.Errorf("watcher %d: exit %d, %d of %d bytes, hash match %v; stderr %q", i, code, len(out), len(data), sha256.Sum256(out) == want, errs)
		}
	}
}

// TestBinaryRefusals: refusals print one clear line and exit 3, and a
// refused broadcaster does not consume its input first.
func TestBinaryRefusals(t *testing.T) {
	addr := serve(t).addr
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"not live", []string{"watch", addr, "--user", "fier", "--channel", "nothing"}, "not-found"},
		{"wrong password", []string{"broadcast", addr, "--user", "fier", "--user-password", "nope"}, "unauthorized"},
		{"unknown user", []string{"broadcast", addr, "--user", "mallory", "--user-password", "x"}, "unauthorized"},
		{"legacy not live", []string{addr, "watch,user=fier,channel=nothing"}, "not-found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A pipe, as in a shell: whatever the process does not read
			// stays in it.
			const input = "input that must not be read"
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			w.WriteString(input)
			w.Close()
			_, errs, code := fstream(t, r, tc.args...)
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			if code != 3 || len(lines) != 1 || !strings.Contains(errs, tc.want) || !strings.HasPrefix(errs, "fstream: ") {
				t.Fatalf("exit %d, stderr %q; want exit 3 and one line naming %s", code, errs, tc.want)
			}
			r.SetReadDeadline(time.Now().Add(5 * time.Second))
			if left, _ := io.ReadAll(r); string(left) != input {
				t.Errorf("the refused command consumed its input: %q left of %q", left, input)
			}
		})
	}
	t.Run("usage", func(t *testing.T) {
		_, errs, code := fstream(t, nil, "watch", addr)
		if code != 2 || !strings.Contains(errs, "user") {
			t.Fatalf("watch without a user: exit %d, %q", code, errs)
		}
	})
	t.Run("version", func(t *testing.T) {
		out, _, code := fstream(t, nil, "--version")
		if code != 0 || !strings.HasPrefix(string(out), "fstream ") {
			t.Fatalf("--version: %d %q", code, out)
		}
	})
}

// TestBinaryBroadcastFromFFmpeg: a real MPEG-TS stream from ffmpeg through
// the binaries decodes without errors.
func TestBinaryBroadcastFromFFmpeg(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (CI installs it)")
	}
	srv := serve(t)
	addr := srv.addr
	src := filepath.Join(t.TempDir(), "in.ts")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=3",
		"-f", "lavfi", "-i", "sine=duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac", "-f", "mpegts", src).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	data, _ := os.ReadFile(src)
	g := newGate(t, data)
	go fstream(t, g, "broadcast", addr, "--user", "fier", "--user-password", "123")
	waitLive(t, addr, "fier", "default")
	w := startWatch(t, "watch", addr, "--user", "fier")
	srv.waitLog(t, `msg="watcher joined"`, 2) // waitLive's probe and the watcher
	g.release()
	out, errs, code := w()
	if code != 0 || !bytes.Equal(out, data) {
		t.Fatalf("watch: exit %d, %d of %d bytes, stderr %q", code, len(out), len(data), errs)
	}
	dec := exec.Command("ffmpeg", "-v", "error", "-i", "-", "-f", "null", "-")
	dec.Stdin = bytes.NewReader(out)
	if msg, err := dec.CombinedOutput(); err != nil || len(bytes.TrimSpace(msg)) > 0 {
		t.Fatalf("decoding the relayed stream: %v %s", err, msg)
	}
}

var httpListenRE = regexp.MustCompile(`msg="http listening" addr=(\S+)`)

// TestBinaryHTTP: serve --http gives health, status JSON, metrics and the
// stream itself over HTTP, next to the TCP protocol.
func TestBinaryHTTP(t *testing.T) {
	srv := serve(t, "--http", "127.0.0.1:0")
	web := "http://" + srv.httpAddr(t)
	get := func(path string) (int, string) {
		resp, err := http.Get(web + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, _ := get("/watch/fier/cam"); code != http.StatusNotFound {
		t.Fatalf("/watch of a channel that is not live: %d, want 404", code)
	}

	data := payload(2 << 20)
	g := newGate(t, data)
	go fstream(t, g, "broadcast", srv.addr, "--user", "fier", "--user-password", "123", "--channel", "cam")
	waitLive(t, srv.addr, "fier", "cam")
	// The response header waits for the first bytes (to name the format),
	// so the request runs while the broadcast starts.
	type result struct {
		data []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(web + "/watch/fier/cam")
		if err != nil {
			got <- result{nil, err}
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			got <- result{nil, fmt.Errorf("status %s", resp.Status)}
			return
		}
		b, err := io.ReadAll(resp.Body)
		got <- result{b, err}
	}()
	srv.waitLog(t, `via=http`, 1)
	if code, body := get("/api/v1/channels/fier/cam"); code != 200 || !strings.Contains(body, `"via": "http"`) && !strings.Contains(body, `"via":"http"`) {
		t.Fatalf("channel JSON: %d %s", code, body)
	}
	g.release()
	if r := <-got; r.err != nil || !bytes.Equal(r.data, data) {
		t.Fatalf("HTTP watcher got %d of %d bytes (%v)", len(r.data), len(data), r.err)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "fstream_") {
		t.Fatalf("/metrics: %d", code)
	}
}
