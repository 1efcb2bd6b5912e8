package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testToken = "s3cret-admin-token"

// envOptions adjust a test environment.
type envOptions struct {
	server  func(*server.Config) // adjusts the relay's config
	api     func(*Config)        // adjusts the API's config
	sampler time.Duration        // bitrate sampler interval; 0: none (tests call sample)
}

// env is a relay on 127.0.0.1:0 with the API in front of it on another
// ephemeral port.
type env struct {
	srv    *servertest.Server // the relay
	api    *API
	ts     *httptest.Server
	url    string // API base URL
	client *http.Client
}

// startEnv starts a relay and its API until the test ends. Channels end as
// soon as their broadcaster leaves (no grace period) unless opts say so.
func startEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := servertest.Start(t, func(c *server.Config) {
		c.Logger = log
		c.BroadcasterGrace = 0
		if opts.server != nil {
			opts.server(c)
		}
	})

	acfg := Config{Server: srv.Server, AdminToken: testToken, Logger: log, Version: "v0.0.0-test"}
	if opts.api != nil {
		opts.api(&acfg)
	}
	api, err := newAPI(acfg, opts.sampler)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	t.Cleanup(api.Close)

	ts := httptest.NewServer(api)
	tr := &http.Transport{}
	t.Cleanup(func() {
		// Streams still being served would keep Close waiting.
		ts.CloseClientConnections()
		ts.Close()
		tr.CloseIdleConnections()
	})
	return &env{srv: srv, api: api, ts: ts, url: ts.URL, client: &http.Client{Transport: tr}}
}

// handshake sends req (with ack) on a new relay connection and requires ok.
func (e *env) handshake(t *testing.T, req protocol.Request) *net.TCPConn {
	t.Helper()
	text, err := req.Text()
	if err != nil {
		t.Fatalf("request text: %v", err)
	}
	return servertest.MustHandshake(t, e.srv.Addr, text)
}

// broadcast starts a raw TCP broadcaster as user fier (or other) on channel.
func (e *env) broadcast(t *testing.T, user, channel, channelPassword string) *net.TCPConn {
	t.Helper()
	return e.handshake(t, protocol.Request{
		Command: protocol.CommandBroadcast, User: user, UserPassword: servertest.Users[user],
		Channel: channel, ChannelPassword: channelPassword,
	})
}

// watchTCP starts a raw TCP watcher that joins at the next byte (the test
// payloads have no keyframes to join at).
func (e *env) watchTCP(t *testing.T, user, channel, channelPassword string) *net.TCPConn {
	t.Helper()
	return e.handshake(t, protocol.Request{
		Command: protocol.CommandWatch, User: user, Channel: channel, ChannelPassword: channelPassword,
		Params: map[string]string{protocol.KeyJoin: "live"},
	})
}

// do sends a request to the API and returns the response with its body read.
func (e *env) do(t *testing.T, method, path string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := e.client.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, string(b)
}

// getJSON fetches path and decodes its JSON body into v, requiring 200.
func (e *env) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, body := e.do(t, http.MethodGet, path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: decode: %v\n%s", path, err, body)
	}
}

// tsPayload returns n MPEG-TS-shaped packets: a sync byte and a counter
// pattern, enough for the Content-Type sniffing and byte comparisons.
func tsPayload(n int) []byte {
	b := make([]byte, n*tsPacket)
	for i := range b {
		if i%tsPacket == 0 {
			b[i] = tsSync
		} else {
			b[i] = byte(i*7 + i/tsPacket)
		}
	}
	return b
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run with -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// needTool skips the test when a command-line tool is missing.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (CI installs it): %v", name, err)
	}
	return p
}

// ffmpegLive broadcasts a live, real-time MPEG-TS stream made by ffmpeg
// (H.264 baseline + AAC, a keyframe every second) into a new broadcaster
// connection until the test ends, and returns the ffmpeg process (a test
// may pause it to stall the stream).
func (e *env) ffmpegLive(t *testing.T, user, channel, channelPassword string) *exec.Cmd {
	t.Helper()
	ffmpeg := needTool(t, "ffmpeg")
	conn := e.broadcast(t, user, channel, channelPassword)
	cmd := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "25",
		"-c:a", "aac", "-b:a", "64k",
		"-f", "mpegts", "pipe:1")
	cmd.Stdout = conn
	stderr := new(servertest.LogBuffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Kill()
			conn.Close() // ends the copy from ffmpeg's pipe
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	ch := e.srv.Channel(user, channel)
	servertest.WaitFor(t, "ffmpeg's first bytes", func() bool {
		if cmd.ProcessState != nil || strings.Contains(stderr.String(), "Error") {
			t.Fatalf("ffmpeg failed: %s", stderr.String())
		}
		return ch.Stats().BytesIn > 0
	})
	return cmd
}
