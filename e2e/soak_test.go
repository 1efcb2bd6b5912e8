package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The soak's bounds: 5 s after the churn stops the server must be back to
// its starting descriptors and goroutines (plus these margins), and its RSS
// may have grown at most soakRSSGrowth. The server runs with small channel
// buffers (soakServeArgs) so that what stalled watchers may pin is bounded.
const (
	soakWorkers     = 24
	soakSettle      = 5 * time.Second
	soakFDMargin    = 8
	soakGoMargin    = 16
	soakRSSGrowth   = 48 << 20
	soakDefaultTime = 20 * time.Second
)

var soakServeArgs = []string{"--channel-buffer", "4194304", "--gop-cache", "2097152", "--max-conns-per-ip", "1000"}

// TestSoak churns clients against a real server for FSTREAM_SOAK (a Go
// duration; 20s by default, `make soak` runs 5m): watchers that join, read
// for random times, stall, reset or hang up while nothing is sent, HTTP
// watchers, and garbage or truncated handshakes, on an audio-only MPEG-TS
// channel, a video channel and a silent channel at once. The server must
// then give back what the churn took.
func TestSoak(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (CI installs it)")
	}
	d := soakDuration(t)
	srv := serve(t, append([]string{"--http", "127.0.0.1:0"}, soakServeArgs...)...)
	httpAddr := srv.httpAddr(t)

	ffmpegBroadcast(t, srv.addr, "radio", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:a", "aac", "-b:a", "96k")
	ffmpegBroadcast(t, srv.addr, "video", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "50", "-b:v", "500k")
	silentBroadcast(t, srv.addr, "silent")
	for _, ch := range soakChannels {
		waitLive(t, srv.addr, "fier", ch)
	}

	start := sampleServer(t, httpAddr)
	peak := start
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var counts soakCounts
	var wg sync.WaitGroup
	for i := range soakWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			churn(ctx, srv.addr, httpAddr, uint64(i), &counts)
		}()
	}
	tick := time.NewTicker(time.Second)
	for ctx.Err() == nil {
		select {
		case <-tick.C:
			peak = peak.max(sampleServer(t, httpAddr))
		case <-ctx.Done():
		}
	}
	tick.Stop()
	wg.Wait()

	// Give the server soakSettle to notice the last hang-ups, then compare;
	// meanwhile note when it was first back within the margins.
	var after serverSample
	stopped := time.Now()
	back := "never"
	for {
		after = sampleServer(t, httpAddr)
		if back == "never" && after.within(start) {
			back = time.Since(stopped).Round(time.Millisecond).String()
		}
		if time.Since(stopped) >= soakSettle {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("soak %v, %d workers: %s", d, soakWorkers, counts.String())
	t.Logf("soak server: start %s; peak %s; %v after the churn %s (back within the margins after %s)",
		start, peak, soakSettle, after, back)
	for _, ch := range soakChannels {
		t.Logf("soak joins of %s: %s", ch, counts.joinTimes(ch))
	}
	if !after.within(start) {
		t.Errorf("server did not give back what the churn took: start %s, after %s (margins: %d fds, %d goroutines, %d MiB RSS)",
			start, after, soakFDMargin, soakGoMargin, soakRSSGrowth>>20)
	}
	if counts.watched.Load() == 0 || counts.bytes.Load() == 0 {
		t.Errorf("the churn delivered nothing to its watchers: %s", counts.String())
	}
}

var soakChannels = []string{"radio", "video", "silent"}

func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("FSTREAM_SOAK")
	if v == "" {
		return soakDefaultTime
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("FSTREAM_SOAK=%q: want a positive Go duration such as 5m", v)
	}
	return d
}

// httpAddr returns the address of the server's HTTP side.
func (s *server) httpAddr(t *testing.T) string {
	t.Helper()
	s.waitLog(t, `msg="http listening"`, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return httpListenRE.FindStringSubmatch(s.logs.String())[1]
}

// ffmpegBroadcast pipes an endless real-time ffmpeg MPEG-TS encode into
// "fstream broadcast" for channel; both end with the test.
func ffmpegBroadcast(t *testing.T, addr, channel string, input ...string) {
	t.Helper()
	args := append([]string{"-v", "error", "-re"}, input...)
	enc := exec.Command("ffmpeg", append(args, "-f", "mpegts", "-")...)
	bc := exec.Command(fstreamBin, "broadcast", addr, "--user", "fier", "--channel", channel)
	bc.Env = append(os.Environ(), "FSTREAM_USER_PASSWORD=123")
	pipe, err := enc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	bc.Stdin = pipe
	for _, c := range []*exec.Cmd{enc, bc} {
		dieWithTest(c)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		enc.Process.Kill()
		bc.Process.Kill()
		enc.Wait()
		bc.Wait()
	})
}

// silentBroadcast is a broadcaster that connects and then sends nothing, as
// a paused encoder does.
func silentBroadcast(t *testing.T, addr, channel string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(frame("broadcast,user=fier,user-password=123,channel=" + channel)); err != nil {
		t.Fatal(err)
	}
}

func frame(text string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(text)))
	return append(append(b, 0), text...)
}

// serverSample is what the soak watches of the server, from its metrics.
type serverSample struct{ fds, goroutines, rss int64 }

func (s serverSample) String() string {
	return fmt.Sprintf("%d fds, %d goroutines, %.1f MiB RSS", s.fds, s.goroutines, float64(s.rss)/(1<<20))
}

func (s serverSample) max(o serverSample) serverSample {
	return serverSample{max(s.fds, o.fds), max(s.goroutines, o.goroutines), max(s.rss, o.rss)}
}

// within reports whether s is back to start, within the soak's margins.
func (s serverSample) within(start serverSample) bool {
	return s.fds <= start.fds+soakFDMargin && s.goroutines <= start.goroutines+soakGoMargin &&
		s.rss <= start.rss+soakRSSGrowth
}

func sampleServer(t *testing.T, httpAddr string) serverSample {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatalf("read metrics: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	gauge := func(name string) int64 {
		f := families[name]
		if f == nil || len(f.GetMetric()) == 0 {
			t.Fatalf("metrics lack %s", name)
		}
		m := f.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return int64(g.GetValue())
		}
		return int64(m.GetUntyped().GetValue())
	}
	return serverSample{gauge("process_open_fds"), gauge("go_goroutines"), gauge("process_resident_memory_bytes")}
}

// soakCounts counts what the churn did.
type soakCounts struct {
	watched, stalled, reset, http, garbage, bytes atomic.Int64

	mu    sync.Mutex
	joins map[string][]time.Duration // TCP watchers' time from dialling to their first byte, by channel
}

func (c *soakCounts) joined(channel string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.joins == nil {
		c.joins = make(map[string][]time.Duration)
	}
	c.joins[channel] = append(c.joins[channel], d)
}

// joinTimes summarises the time to first byte of a channel's watchers.
func (c *soakCounts) joinTimes(channel string) string {
	c.mu.Lock()
	d := slices.Clone(c.joins[channel])
	c.mu.Unlock()
	if len(d) == 0 {
		return "no watcher got a byte"
	}
	slices.Sort(d)
	q := func(f float64) time.Duration { return d[int(f*float64(len(d)-1))].Round(time.Millisecond) }
	return fmt.Sprintf("first byte after median %v, p95 %v, max %v (%d watchers)", q(0.5), q(0.95), d[len(d)-1].Round(time.Millisecond), len(d))
}

func (c *soakCounts) String() string {
	return fmt.Sprintf("%d watches (%d stalled, %d reset), %d HTTP watches, %d garbage handshakes, %.1f MB received",
		c.watched.Load(), c.stalled.Load(), c.reset.Load(), c.http.Load(), c.garbage.Load(), float64(c.bytes.Load())/1e6)
}

// churn runs one client after another until ctx ends.
func churn(ctx context.Context, addr, httpAddr string, seed uint64, counts *soakCounts) {
	rng := mrand.New(mrand.NewPCG(seed, 0x50a4))
	for ctx.Err() == nil {
		ch := soakChannels[rng.IntN(len(soakChannels))]
		hold := time.Duration(100+rng.IntN(2900)) * time.Millisecond
		switch n := rng.IntN(10); {
		case n < 4:
			counts.watched.Add(1)
			watchTCP(ctx, addr, ch, hold, false, false, counts)
		case n < 5:
			counts.watched.Add(1)
			counts.stalled.Add(1)
			watchTCP(ctx, addr, ch, hold, true, rng.IntN(2) == 0, counts)
		case n < 6:
			counts.watched.Add(1)
			counts.reset.Add(1)
			watchTCP(ctx, addr, ch, hold, false, true, counts)
		case n < 8:
			counts.http.Add(1)
			watchHTTP(ctx, httpAddr, ch, hold, counts)
		default:
			counts.garbage.Add(1)
			garbage(addr, rng)
		}
	}
}

// watchTCP watches channel for hold, reading unless stall, then closes
// (with a reset if reset).
func watchTCP(ctx context.Context, addr, channel string, hold time.Duration, stall, reset bool, counts *soakCounts) {
	dialled := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer func() {
		if reset {
			c.(*net.TCPConn).SetLinger(0)
		}
		c.Close()
	}()
	if _, err := c.Write(frame("watch,user=fier,channel=" + channel)); err != nil {
		return
	}
	until := time.Now().Add(hold)
	if stall {
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
		return
	}
	c.SetReadDeadline(until)
	buf := make([]byte, 32<<10)
	n, err := c.Read(buf)
	if n > 0 {
		counts.joined(channel, time.Since(dialled))
	}
	if err == nil {
		m, _ := io.Copy(io.Discard, c)
		n += int(m)
	}
	counts.bytes.Add(int64(n))
}

func watchHTTP(ctx context.Context, httpAddr, channel string, hold time.Duration, counts *soakCounts) {
	ctx, cancel := context.WithTimeout(ctx, hold)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/watch/fier/"+channel, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	counts.bytes.Add(n)
}

// garbage sends one kind of bad handshake and hangs up.
func garbage(addr string, rng *mrand.Rand) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	switch rng.IntN(3) {
	case 0: // random bytes
		b := make([]byte, 1+rng.IntN(200))
		rand.Read(b)
		b[0] = 0 // not a TLS hello: the plain handshake path
		c.Write(b)
	case 1: // a huge length
		c.Write([]byte{0xff, 0xff, 0xff, 0xff, 0})
	default: // a truncated header
		c.Write([]byte{0, 0})
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	c.Read(make([]byte, 64))
}
