package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/server/servertest"
)

func TestNewRequiresServer(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrNoServer) {
		t.Fatalf("New without a server: %v, want ErrNoServer", err)
	}
}

// TestCloseIdempotent starts the real sampler and stops it twice.
func TestCloseIdempotent(t *testing.T) {
	e := startEnv(t, envOptions{})
	a, err := New(Config{Server: e.srv.Server})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	a.Close()
}

// TestStatusCodes covers every endpoint's status codes that need no stream.
func TestStatusCodes(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.broadcast(t, "fier", "cam", "")
	e.broadcast(t, "other", "locked", "pw")
	ro := startEnv(t, envOptions{api: func(c *Config) { c.AdminToken = "" }})
	ro.broadcast(t, "fier", "cam", "")

	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	long := strings.Repeat("x", 300)
	tests := []struct {
		name   string
		env    *env
		method string
		path   string
		hdr    http.Header
		code   int
		ctype  string // prefix; "" skips
		body   string // substring; "" skips
		header [2]string
	}{
		{"healthz", e, "GET", "/healthz", nil, 200, "text/plain", "ok", [2]string{}},
		{"healthz HEAD", e, "HEAD", "/healthz", nil, 200, "text/plain", "", [2]string{}},
		{"healthz POST", e, "POST", "/healthz", nil, 405, "", "", [2]string{"Allow", "GET, HEAD"}},
		{"status page", e, "GET", "/", nil, 200, "text/html", `id="channels"`, [2]string{"Content-Security-Policy", "default-src 'self'"}},
		{"unknown path", e, "GET", "/nope", nil, 404, "", "", [2]string{}},
		{"list", e, "GET", "/api/v1/channels", nil, 200, "application/json", `"channels"`, [2]string{"Cache-Control", "no-store"}},
		{"list POST", e, "POST", "/api/v1/channels", nil, 405, "", "", [2]string{}},
		{"one", e, "GET", "/api/v1/channels/fier/cam", nil, 200, "application/json", `"user": "fier"`, [2]string{}},
		{"one protected", e, "GET", "/api/v1/channels/other/locked", nil, 200, "application/json", `"protected": true`, [2]string{}},
		{"one unknown", e, "GET", "/api/v1/channels/fier/none", nil, 404, "text/plain", "no such channel", [2]string{}},
		{"one bad name", e, "GET", "/api/v1/channels/fier/" + long, nil, 400, "text/plain", "bad name", [2]string{}},
		{"metrics", e, "GET", "/metrics", nil, 200, "text/plain", "fstream_connections", [2]string{}},
		{"metrics POST", e, "POST", "/metrics", nil, 405, "", "", [2]string{}},
		{"assets css", e, "GET", "/assets/style.css", nil, 200, "text/css", "", [2]string{}},
		{"assets js", e, "GET", "/assets/status.js", nil, 200, "text/javascript", "", [2]string{}},
		{"assets vendor", e, "GET", "/assets/vendor/mpegts.js", nil, 200, "text/javascript", "mpegts", [2]string{}},
		{"assets vendor licence", e, "GET", "/assets/vendor/LICENSE", nil, 200, "", "Apache License", [2]string{}},
		{"assets vendor readme not served", e, "GET", "/assets/vendor/README.md", nil, 404, "", "", [2]string{}},
		{"assets vendor script not served", e, "GET", "/assets/vendor/update.sh", nil, 404, "", "", [2]string{}},
		{"assets missing", e, "GET", "/assets/nope.js", nil, 404, "", "", [2]string{}},
		{"play live", e, "GET", "/play/fier/cam", nil, 200, "text/html", `data-live="true"`, [2]string{}},
		{"play protected", e, "GET", "/play/other/locked", nil, 200, "text/html", `data-protected="true"`, [2]string{}},
		{"play not live", e, "GET", "/play/fier/none", nil, 200, "text/html", `data-live="false"`, [2]string{}},
		{"play bad name", e, "GET", "/play/fier/" + long, nil, 400, "", "", [2]string{}},
		{"watch not live", e, "GET", "/watch/fier/none", nil, 404, "text/plain", "not live", [2]string{}},
		{"watch bad name", e, "GET", "/watch/fier/" + long, nil, 400, "text/plain", "bad name", [2]string{}},
		{"watch bad join", e, "GET", "/watch/fier/cam?join=never", nil, 400, "text/plain", "join policy", [2]string{}},
		{"watch POST", e, "POST", "/watch/fier/cam", nil, 405, "", "", [2]string{}},
		{"watch no password", e, "GET", "/watch/other/locked", nil, 401, "text/plain", "password", [2]string{"WWW-Authenticate", `Basic realm="fstream channel"`}},
		{"watch wrong query password", e, "GET", "/watch/other/locked?password=nope", nil, 401, "text/plain", "password", [2]string{"WWW-Authenticate", ""}},
		{"watch wrong basic password", e, "GET", "/watch/other/locked", http.Header{"Authorization": {"Basic eDpub3Bl"}}, 401, "text/plain", "password", [2]string{"WWW-Authenticate", `Basic`}},
		{"watch HEAD live", e, "HEAD", "/watch/fier/cam", nil, 200, "application/octet-stream", "", [2]string{"Cache-Control", "no-store"}},
		{"watch HEAD not live", e, "HEAD", "/watch/fier/none", nil, 404, "", "", [2]string{}},
		{"watch HEAD protected", e, "HEAD", "/watch/other/locked", nil, 401, "", "", [2]string{}},
		{"watch HEAD protected with password", e, "HEAD", "/watch/other/locked?password=x", nil, 200, "", "", [2]string{}},
		{"kick GET", e, "GET", "/api/v1/channels/fier/cam/kick", nil, 405, "", "", [2]string{"Allow", "POST"}},
		{"kick no token", e, "POST", "/api/v1/channels/fier/cam/kick", nil, 401, "text/plain", "admin token", [2]string{"WWW-Authenticate", `Bearer realm="fstream"`}},
		{"kick wrong token", e, "POST", "/api/v1/channels/fier/cam/kick", bearer("nope"), 401, "text/plain", "admin token", [2]string{}},
		{"kick token prefix", e, "POST", "/api/v1/channels/fier/cam/kick", bearer(testToken[:4]), 401, "", "", [2]string{}},
		{"kick basic auth", e, "POST", "/api/v1/channels/fier/cam/kick", http.Header{"Authorization": {"Basic " + testToken}}, 401, "", "", [2]string{}},
		{"kick unknown channel", e, "POST", "/api/v1/channels/fier/none/kick", bearer(testToken), 404, "text/plain", "no such channel", [2]string{}},
		{"kick bad id", e, "POST", "/api/v1/channels/fier/cam/kick/abc", bearer(testToken), 400, "text/plain", "not a positive integer", [2]string{}},
		{"kick id zero", e, "POST", "/api/v1/channels/fier/cam/kick/0", bearer(testToken), 400, "", "", [2]string{}},
		{"kick unknown id", e, "POST", "/api/v1/channels/fier/cam/kick/999", bearer(testToken), 404, "text/plain", "no connection 999", [2]string{}},
		{"read-only kick", ro, "POST", "/api/v1/channels/fier/cam/kick", bearer(testToken), 403, "text/plain", "read-only", [2]string{}},
		{"read-only kick id", ro, "POST", "/api/v1/channels/fier/cam/kick/1", bearer(testToken), 403, "text/plain", "read-only", [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := tt.env.do(t, tt.method, tt.path, tt.hdr)
			if resp.StatusCode != tt.code {
				t.Fatalf("%s %s: status %d, want %d; body %q", tt.method, tt.path, resp.StatusCode, tt.code, body)
			}
			if ct := resp.Header.Get("Content-Type"); tt.ctype != "" && !strings.HasPrefix(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want %q...", ct, tt.ctype)
			}
			if tt.body != "" && !strings.Contains(body, tt.body) {
				t.Errorf("body %q does not contain %q", body, tt.body)
			}
			if k, v := tt.header[0], tt.header[1]; k != "" {
				if got := resp.Header.Get(k); (v == "" && got != "") || !strings.HasPrefix(got, v) {
					t.Errorf("header %s = %q, want %q...", k, got, v)
				}
			}
			if strings.Contains(body, "pw") && tt.code == 200 && strings.HasPrefix(tt.path, "/api/") {
				t.Errorf("a channel password leaks into %s: %s", tt.path, body)
			}
		})
	}
	// The read-only API still reads.
	var list channelListJSON
	ro.getJSON(t, "/api/v1/channels", &list)
	if len(list.Channels) != 1 {
		t.Errorf("read-only API lists %d channels, want 1", len(list.Channels))
	}
}

// TestLoopbackOnly serves requests that claim remote addresses straight to
// the handler: no traffic leaves the machine.
func TestLoopbackOnly(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.broadcast(t, "fier", "cam", "")
	open, err := newAPI(Config{Server: e.srv.Server, AllowRemoteReads: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(open.Close)

	const remote = "192.0.2.7:40000" // TEST-NET-1: a documentation address
	tests := []struct {
		remote   string
		path     string
		loopback int // code with AllowRemoteReads false
		anyone   int // code with AllowRemoteReads true
	}{
		{remote, "/", 403, 200},
		{remote, "/api/v1/channels", 403, 200},
		{remote, "/api/v1/channels/fier/cam", 403, 200},
		{remote, "/metrics", 403, 200},
		{remote, "/healthz", 200, 200},
		{remote, "/play/fier/cam", 200, 200},
		{remote, "/assets/style.css", 200, 200},
		{remote, "/watch/fier/none", 404, 404},
		{"[2001:db8::1]:5000", "/api/v1/channels", 403, 200},
		{"127.0.0.1:5000", "/api/v1/channels", 200, 200},
		{"127.8.9.10:5000", "/metrics", 200, 200},
		{"[::1]:5000", "/api/v1/channels", 200, 200},
		{"[::ffff:127.0.0.1]:5000", "/", 200, 200},
		{"garbage", "/", 403, 200},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			api  *API
			want int
		}{{e.api, tt.loopback}, {open, tt.anyone}} {
			req := httptest.NewRequest("GET", tt.path, nil)
			req.RemoteAddr = tt.remote
			rec := httptest.NewRecorder()
			c.api.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Errorf("GET %s from %s (remote reads %v): %d, want %d: %s", tt.path, tt.remote, c.api.remote, rec.Code, c.want, rec.Body)
			}
			if rec.Code == 403 && !strings.Contains(rec.Body.String(), "loopback") {
				t.Errorf("403 body %q does not say why", rec.Body)
			}
		}
	}
}

// httpWatch is a GET /watch in progress, read in the background.
type httpWatch struct {
	done chan struct{}
	resp *http.Response
	body []byte
	err  error
}

// startHTTPWatch sends GET path and reads the whole body in a goroutine
// that the test owns through wait.
func (e *env) startHTTPWatch(t *testing.T, path string, hdr http.Header) *httpWatch {
	t.Helper()
	req, err := http.NewRequest("GET", e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	w := &httpWatch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		resp, err := e.client.Do(req)
		if err != nil {
			w.err = err
			return
		}
		defer resp.Body.Close()
		w.resp = resp
		w.body, w.err = io.ReadAll(resp.Body)
	}()
	t.Cleanup(func() { e.ts.CloseClientConnections(); <-w.done })
	return w
}

func (w *httpWatch) wait(t *testing.T) *httpWatch {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("HTTP watcher did not finish")
	}
	return w
}

func TestKick(t *testing.T) {
	e := startEnv(t, envOptions{})
	b := e.broadcast(t, "fier", "cam", "")
	tcpW := e.watchTCP(t, "fier", "cam", "")
	hw := e.startHTTPWatch(t, "/watch/fier/cam?join=live", nil)
	servertest.WaitFor(t, "two watchers", func() bool { return e.srv.Watchers("fier", "cam") == 2 })
	payload := tsPayload(20)
	if _, err := b.Write(payload); err != nil {
		t.Fatal(err)
	}
	servertest.ReadN(t, tcpW, len(payload))

	var id uint64
	for _, w := range e.srv.Channel("fier", "cam").Info().Watchers {
		if w.Remote == tcpW.LocalAddr().String() {
			id = w.ID
		}
	}
	if id == 0 {
		t.Fatal("TCP watcher not in the channel info")
	}
	auth := http.Header{"Authorization": {"Bearer " + testToken}}
	path := fmt.Sprintf("/api/v1/channels/fier/cam/kick/%d", id)
	resp, body := e.do(t, "POST", path, auth)
	if resp.StatusCode != 200 {
		t.Fatalf("kick %d: %d %s", id, resp.StatusCode, body)
	}
	var k kickJSON
	if err := json.Unmarshal([]byte(body), &k); err != nil || k != (kickJSON{User: "fier", Channel: "cam", ID: id, Kicked: true}) {
		t.Fatalf("kick answer %s (%v)", body, err)
	}
	tcpW.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := io.Copy(io.Discard, tcpW); err != nil && isTimeout(err) {
		t.Fatalf("kicked TCP watcher still connected after %d bytes", n)
	}
	if n := e.srv.Watchers("fier", "cam"); n != 1 {
		t.Fatalf("%d watchers after kicking one, want 1", n)
	}
	if resp, body := e.do(t, "POST", path, auth); resp.StatusCode != 404 {
		t.Fatalf("kicking %d again: %d %s, want 404", id, resp.StatusCode, body)
	}

	// Everyone: the broadcaster and the HTTP watcher.
	resp, body = e.do(t, "POST", "/api/v1/channels/fier/cam/kick", auth)
	if resp.StatusCode != 200 || !strings.Contains(body, `"kicked": true`) {
		t.Fatalf("kick all: %d %s", resp.StatusCode, body)
	}
	hw.wait(t)
	if hw.resp == nil || hw.resp.StatusCode != 200 {
		t.Fatalf("HTTP watcher: %+v", hw)
	}
	if hw.err == nil {
		t.Errorf("kicked HTTP watcher's body ended cleanly; want a truncated stream")
	}
	if !bytes.Equal(hw.body, payload) {
		t.Errorf("HTTP watcher got %d bytes before the kick, want the %d sent", len(hw.body), len(payload))
	}
	b.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, b); err != nil && isTimeout(err) {
		t.Fatal("kicked broadcaster still connected")
	}
	servertest.WaitFor(t, "the channel to end", func() bool { return e.srv.Channel("fier", "cam") == nil })
	if n := e.srv.Counters().Hub.Evictions[hub.ReasonKicked]; n != 3 {
		t.Errorf("%d kicked evictions, want 3", n)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// clock is an injectable time source for the sampler and uptimes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestChannelsAPIGolden pins the JSON API's schema over HTTP with real
// traffic; values that vary from run to run are normalised.
func TestChannelsAPIGolden(t *testing.T) {
	clk := &clock{t: time.Now()}
	e := startEnv(t, envOptions{api: func(c *Config) { c.Now = clk.now }})
	b := e.broadcast(t, "fier", "cam", "")
	e.broadcast(t, "other", "locked", "secret-channel-password")
	e.api.sample()

	tcpW := e.watchTCP(t, "fier", "cam", "")
	e.startHTTPWatch(t, "/watch/fier/cam?join=live", nil)
	servertest.WaitFor(t, "two watchers", func() bool { return e.srv.Watchers("fier", "cam") == 2 })
	payload := tsPayload(50)
	if _, err := b.Write(payload); err != nil {
		t.Fatal(err)
	}
	servertest.ReadN(t, tcpW, len(payload))
	ch := e.srv.Channel("fier", "cam")
	servertest.WaitFor(t, "both watchers served", func() bool { return ch.Stats().BytesOut == int64(2*len(payload)) })
	clk.advance(2 * time.Second)
	e.api.sample()

	var list map[string]any
	e.getJSON(t, "/api/v1/channels", &list)
	chans := list["channels"].([]any)
	if len(chans) != 2 {
		t.Fatalf("%d channels, want 2", len(chans))
	}
	// Bitrates over the 2 s between the samples.
	cam := chans[0].(map[string]any)
	if in, out := cam["bitrate_in_bps"], cam["bitrate_out_bps"]; in != float64(len(payload)*8/2) || out != float64(len(payload)*8) {
		t.Errorf("bitrates in %v out %v, want %d and %d", in, out, len(payload)*8/2, len(payload)*8)
	}
	var one map[string]any
	e.getJSON(t, "/api/v1/channels/fier/cam", &one)
	a, _ := json.Marshal(one)
	c, _ := json.Marshal(cam)
	if !bytes.Equal(a, c) {
		t.Errorf("GET one differs from its list entry:\n%s\n%s", a, c)
	}

	normalize(t, list)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(list); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), []byte("secret-channel-password")) {
		t.Fatal("the JSON API shows a channel password")
	}
	golden(t, "channels.golden", out.Bytes())
}

// normalize replaces the values that vary between runs with placeholders,
// after checking that they are plausible.
func normalize(t *testing.T, v any) {
	t.Helper()
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			normalize(t, x)
		}
	case map[string]any:
		for k, x := range v {
			switch k {
			case "created", "started", "joined":
				if _, err := time.Parse(time.RFC3339Nano, x.(string)); err != nil {
					t.Errorf("%s: %v", k, err)
				}
				v[k] = "<time>"
			case "uptime_seconds":
				if x.(float64) < 0 {
					t.Errorf("%s: %v is negative", k, x)
				}
				v[k] = "<seconds>"
			case "remote":
				if host, _, err := net.SplitHostPort(x.(string)); err != nil || host != "127.0.0.1" {
					t.Errorf("%s: %v", k, x)
				}
				v[k] = "<addr>"
			case "id":
				if x.(float64) <= 0 {
					t.Errorf("%s: %v", k, x)
				}
				v[k] = "<id>"
			case "buffered_bytes", "buffer_capacity_bytes":
				v[k] = "<bytes>" // depend on the hub's ring management
			case "format", "codec", "gop_bytes", "gop_seconds":
				v[k] = "<media>" // depend on the hub's format detection
			default:
				normalize(t, x)
			}
		}
	}
}

// TestChannelJSONGolden pins the JSON form of a fully known channel snapshot.
func TestChannelJSONGolden(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(90*time.Second + 250*time.Millisecond)
	infos := []hub.Info{
		{
			Key:       hub.Key{User: "jörg", Channel: "cam 1"},
			Stats:     hub.Stats{BytesIn: 1 << 20, BytesOut: 3 << 20, Watchers: 2, Live: true, Buffered: 4096, Capacity: 256 << 10, Limit: 16 << 20, JoinFallbacks: 1},
			Protected: true,
			Created:   t0,
			Broadcaster: &hub.BroadcasterInfo{
				ID: 3, Remote: "192.0.2.1:50000", Started: t0.Add(time.Second),
			},
			Watchers: []hub.WatcherInfo{
				{ID: 9, Remote: "[2001:db8::2]:1234", Joined: t0.Add(time.Minute), Sent: 1 << 20, Queued: 0},
				{ID: 5, Remote: "192.0.2.2:40000", Joined: t0.Add(10 * time.Second), Sent: 2 << 20, Queued: 4096},
			},
			Media: hub.MediaInfo{Format: "mpegts", Codec: "h264", AudioCodec: "aac", GOPBytes: 123456, GOPDuration: 2 * time.Second},
		},
		{
			Key:     hub.Key{User: "fier", Channel: "raw"},
			Stats:   hub.Stats{BytesIn: 10, Capacity: 256 << 10, Limit: 16 << 20},
			Created: t0,
		},
	}
	list := channelListJSON{Channels: []channelJSON{
		channelView(infos[0], now, 1234567.4, 2469134.8),
		channelView(infos[1], now, 0, 0),
	}}
	out, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "channel.golden", append(out, '\n'))
}

func TestRates(t *testing.T) {
	h := hub.New(hub.Config{Buffer: 1 << 20, StallTimeout: time.Second})
	defer h.Close()
	pub, err := h.Publish(hub.Key{User: "fier", Channel: "cam"}, hub.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	rt := newRateTable()
	t0 := time.Now()
	steps := []struct {
		at     int // seconds since t0
		send   int // bytes sent before the sample
		wantIn float64
	}{
		{0, 0, 0},       // one sample: no rate yet
		{1, 1000, 8000}, // 1000 B in 1 s
		{2, 1000, 8000},
		{3, 0, 16000.0 / 3},
		{5, 0, 3200},
		{6, 0, 1600}, // the sample at 0 s left the window
		{7, 0, 0},    // nothing new in the last 5 s
	}
	for _, s := range steps {
		if s.send > 0 {
			if _, err := pub.ReadFrom(bytes.NewReader(make([]byte, s.send))); err != nil {
				t.Fatal(err)
			}
		}
		rt.record(h.Channels(), t0.Add(time.Duration(s.at)*time.Second))
		in, out := rt.rate(pub.Channel())
		if in != s.wantIn || out != 0 {
			t.Errorf("at %d s: rate in %v out %v, want %v and 0", s.at, in, out, s.wantIn)
		}
	}
	rt.record(nil, t0.Add(8*time.Second))
	if len(rt.hist) != 0 {
		t.Errorf("a channel that is gone is still sampled")
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		tok    string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"Bearer  abc ", "abc", true},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"Basic abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if tok, ok := bearerToken(tt.header); tok != tt.tok || ok != tt.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.header, tok, ok, tt.tok, tt.ok)
		}
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]float64{
		0: 0, 1500 * time.Microsecond: 0.002, 90*time.Second + 250*time.Millisecond: 90.25,
	} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %v, want %v", d, got, want)
		}
	}
}

// TestListenerAnswersFstreamClients: an fstream handshake on the HTTP port
// is answered at once with an HTTP 400 naming the stream port; HTTP
// requests pass.
func TestListenerAnswersFstreamClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "fine") })}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(NewListener(ln, "127.0.0.1:61920")) }()
	defer func() {
		srv.Close()
		<-served
	}()

	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("\x00\x00\x00\x0f\x00watch,user=fier"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(answer), "HTTP/1.1 400 Bad Request\r\n") || !strings.Contains(string(answer), "Use the stream port, 61920,") {
		t.Fatalf("answer %q, %v", answer, err)
	}

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "fine" {
		t.Fatalf("an HTTP request got %q", body)
	}
}

// TestRateHistory: each channel's bitrates are kept for five minutes, one
// per sample, and forgotten with the channel.
func TestRateHistory(t *testing.T) {
	h := hub.New(hub.Config{Buffer: 1 << 20, StallTimeout: time.Second})
	defer h.Close()
	pub, err := h.Publish(hub.Key{User: "fier", Channel: "cam"}, hub.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	rt := newRateTable()
	t0 := time.Unix(1_000_000, 0)
	for s := range 400 {
		if _, err := pub.ReadFrom(bytes.NewReader(make([]byte, 1000))); err != nil {
			t.Fatal(err)
		}
		rt.record(h.Channels(), t0.Add(time.Duration(s)*time.Second))
	}
	in, out, end := rt.historyOf(pub.Channel())
	if len(in) != 300 || len(out) != 300 || end != t0.Unix()+399 {
		t.Fatalf("history of %d/%d points ending at %d, want 300 ending at %d", len(in), len(out), end, t0.Unix()+399)
	}
	if in[0] != 8000 || in[299] != 8000 || out[299] != 0 {
		t.Errorf("rates %v … %v, want 8000 b/s in, 0 out", in[0], in[299])
	}
	rt.record(nil, t0.Add(400*time.Second))
	if in, _, _ := rt.historyOf(pub.Channel()); len(in) != 0 || len(rt.history) != 0 {
		t.Error("a channel that is gone keeps its history")
	}
}

// TestBitratesEndpoint: GET /api/v1/bitrates serves every channel's
// history, loopback only like the other reads.
func TestBitratesEndpoint(t *testing.T) {
	e := startEnv(t, envOptions{})
	b := e.broadcast(t, "fier", "cam", "")
	b.Write(tsPayload(100))
	servertest.WaitFor(t, "the bytes", func() bool { return e.srv.Channel("fier", "cam").Stats().BytesIn > 0 })
	e.api.sample()
	e.api.sample()
	var got bitratesJSON
	e.getJSON(t, "/api/v1/bitrates", &got)
	if got.IntervalSeconds != 1 || got.WindowSeconds != 300 || len(got.Channels) != 1 {
		t.Fatalf("bitrates: %+v", got)
	}
	c := got.Channels[0]
	if c.User != "fier" || c.Channel != "cam" || len(c.In) < 2 || len(c.In) != len(c.Out) || c.End.IsZero() {
		t.Fatalf("channel: %+v", c)
	}
}
