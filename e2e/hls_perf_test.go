package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHLSPerformance measures HLS on the built binary in one run (set
// FSTREAM_HLS_PERF=1; about 90 s): the latency from a byte's arrival to a
// polling player's fetch of the segment holding it, the server's CPU per
// HLS viewer against per TCP watcher, and the memory a channel's HLS
// segments take. Its numbers are in docs/PERFORMANCE.md.
func TestHLSPerformance(t *testing.T) {
	if os.Getenv("FSTREAM_HLS_PERF") == "" {
		t.Skip("set FSTREAM_HLS_PERF=1 to measure HLS (about 90 s)")
	}
	srv := serve(t, "--http", "127.0.0.1:0")
	web := "http://" + srv.httpAddr(t)
	ffmpegBroadcast(t, srv.addr, "perf", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "veryfast", "-b:v", "3M", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "64k")
	waitLive(t, srv.addr, "fier", "perf")
	const phase = 15 * time.Second
	const viewers = 100
	playlist := web + "/hls/fier/perf/index.m3u8"

	base := cpuOver(t, srv.pid, phase, nil)
	rss0, _ := rssKiB(srv.pid)

	// One player polling every 500 ms: latency of each new segment.
	var first, last []time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), phase+30*time.Second)
	defer cancel()
	hls1 := cpuOver(t, srv.pid, phase, func(stop <-chan struct{}) {
		first, last = pollLatency(ctx, t, playlist, stop)
	})
	rss1, _ := rssKiB(srv.pid)
	segBytes := metric(t, web, "fstream_hls_segment_memory_bytes")

	hlsN := cpuOver(t, srv.pid, phase, func(stop <-chan struct{}) {
		var wg sync.WaitGroup
		for range viewers {
			wg.Go(func() { hlsViewer(ctx, playlist, stop) })
		}
		wg.Wait()
	})
	tcpN := cpuOver(t, srv.pid, phase, func(stop <-chan struct{}) {
		var wg sync.WaitGroup
		for range viewers {
			wg.Go(func() { tcpWatcher(t, srv.addr, stop) })
		}
		wg.Wait()
	})
	perHLS := (hlsN - hls1) / viewers
	perTCP := (tcpN - base) / viewers
	t.Logf("latency, arrival of a segment's first byte to a 500 ms poller's fetch: median %v, max %v (%d segments)", median(first), maxOf(first), len(first))
	t.Logf("latency, arrival of a segment's last byte to the fetch: median %v, max %v", median(last), maxOf(last))
	t.Logf("server CPU: source only %.1f%%, + HLS segmenter and 1 viewer %.1f%%, + %d HLS viewers %.1f%%, %d TCP watchers instead %.1f%%",
		100*base, 100*hls1, viewers, 100*hlsN, viewers, 100*tcpN)
	t.Logf("CPU per HLS viewer %.3f%%, per TCP watcher %.3f%%: ratio %.2f", 100*perHLS, 100*perTCP, perHLS/perTCP)
	t.Logf("memory: RSS %d KiB before HLS, %d KiB with the channel's HLS on (+%d KiB); its segments hold %.0f KiB",
		rss0, rss1, rss1-rss0, segBytes/1024)
}

// cpuOver runs load (if any) for d and returns the server's CPU use over
// that time as a fraction of one core.
func cpuOver(t *testing.T, pid int, d time.Duration, load func(stop <-chan struct{})) float64 {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if load != nil {
			load(stop)
		}
	}()
	time.Sleep(2 * time.Second) // let the load settle before measuring
	c0, t0 := cpuTicks(t, pid), time.Now()
	time.Sleep(d)
	c1, t1 := cpuTicks(t, pid), time.Now()
	close(stop)
	<-done
	return float64(c1-c0) / 100 / t1.Sub(t0).Seconds() // USER_HZ is 100 on Linux
}

// cpuTicks returns a process's user plus system time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// pollLatency polls the playlist every 500 ms until stop and, for each new
// segment, returns how long after its first and its last byte arrived
// (EXT-X-PROGRAM-DATE-TIME, plus EXTINF) the poller had fetched it.
func pollLatency(ctx context.Context, t *testing.T, playlist string, stop <-chan struct{}) (first, last []time.Duration) {
	seen := map[string]bool{}
	for polls := 0; ; polls++ {
		select {
		case <-stop:
			return first, last
		case <-time.After(500 * time.Millisecond):
		}
		body, err := get(ctx, playlist)
		if err != nil {
			t.Errorf("playlist: %v", err)
			return first, last
		}
		var pdt time.Time
		var dur time.Duration
		for _, l := range strings.Split(body, "\n") {
			switch {
			case strings.HasPrefix(l, "#EXT-X-PROGRAM-DATE-TIME:"):
				pdt, _ = time.Parse(time.RFC3339Nano, strings.TrimPrefix(l, "#EXT-X-PROGRAM-DATE-TIME:"))
			case strings.HasPrefix(l, "#EXTINF:"):
				f, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(l, "#EXTINF:"), ","), 64)
				dur = time.Duration(f * float64(time.Second))
			case l != "" && !strings.HasPrefix(l, "#") && !seen[l]:
				seen[l] = true
				if polls == 0 { // the window at the first poll is old
					continue
				}
				if _, err := get(ctx, playlist[:strings.LastIndexByte(playlist, '/')+1]+l); err != nil {
					t.Errorf("segment: %v", err)
					return first, last
				}
				now := time.Now()
				first = append(first, now.Sub(pdt))
				last = append(last, now.Sub(pdt.Add(dur)))
			}
		}
	}
}

// hlsViewer acts as a player: it reloads the playlist every second and
// fetches each segment it has not fetched yet, until stop.
func hlsViewer(ctx context.Context, playlist string, stop <-chan struct{}) {
	seen := map[string]bool{}
	for {
		body, err := get(ctx, playlist)
		if err != nil {
			return
		}
		for _, l := range strings.Split(body, "\n") {
			if l != "" && !strings.HasPrefix(l, "#") && !seen[l] {
				seen[l] = true
				get(ctx, playlist[:strings.LastIndexByte(playlist, '/')+1]+l)
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
	}
}

// tcpWatcher watches the channel over the TCP protocol, reading and
// discarding, until stop.
func tcpWatcher(t *testing.T, addr string, stop <-chan struct{}) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Errorf("dial: %v", err)
		return
	}
	defer c.Close()
	go func() {
		<-stop
		c.Close()
	}()
	if _, err := c.Write(frame("watch,user=fier,channel=perf")); err != nil {
		t.Errorf("watch: %v", err)
		return
	}
	io.Copy(io.Discard, c)
}

var perfClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}, Timeout: 20 * time.Second}

func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := perfClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return string(b), err
}

// metric reads one unlabelled sample from the server's /metrics.
func metric(t *testing.T, web, name string) float64 {
	body, err := get(context.Background(), web+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2].Round(time.Millisecond)
}

func maxOf(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m.Round(time.Millisecond)
}
