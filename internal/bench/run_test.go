package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/bench/benchtest"
	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

func TestBaseline(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"full speed", Options{Channels: 2, Watchers: 2, Size: 32 << 10}},
		{"paced, odd size", Options{Watchers: 3, Size: 1000, Rate: 2 << 20}},
		{"one record per write", Options{Watchers: 2, Size: 1000, Batch: 1000}},
		{"batch not a multiple of the size", Options{Watchers: 2, Size: 1000, Batch: 64<<10 + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Baseline = true
			o.Duration = 300 * time.Millisecond
			res, err := run(t, o)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkClean(t, res)
			if res.Mode != "baseline" || res.Watchers != o.Channels*o.Watchers && res.Watchers != o.Watchers {
				t.Errorf("mode %q with %d streams", res.Mode, res.Watchers)
			}
			if res.PerWatcher.Count != res.Watchers {
				t.Errorf("per-watcher spread over %d streams, want %d", res.PerWatcher.Count, res.Watchers)
			}
			if res.Server != nil {
				t.Errorf("baseline reports a server: %+v", res.Server)
			}
		})
	}
}

// TestRaw drives the in-test broker, watchers joining mid-stream.
func TestRaw(t *testing.T) {
	addr := startBroker(t, &benchtest.Fanout{})
	res, err := run(t, Options{Raw: true, Addr: addr, Watchers: 3, Size: 1000, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkClean(t, res)
	if res.Mode != "raw" || res.Server != nil {
		t.Errorf("mode %q, server %+v; want raw and no server stats", res.Mode, res.Server)
	}
}

// TestRawDetectsDamage proves the checks work end to end: a broker that
// damages the stream once, in the first chunk it relays after 20 records
// (so that the watcher is in sync), must be caught.
func TestRawDetectsDamage(t *testing.T) {
	const at = 20_000
	tests := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"chunk dropped", func([]byte) []byte { return nil }},
		{"byte flipped", func(b []byte) []byte {
			b[len(b)/2] ^= 0x40
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var damaged atomic.Bool
			addr := startBroker(t, &benchtest.Fanout{Mutate: func(off int64, b []byte) []byte {
				if off >= at && !damaged.Load() {
					damaged.Store(true)
					return tt.damage(b)
				}
				return b
			}})
			res, err := run(t, Options{Raw: true, Addr: addr, Watchers: 1, Size: 1000, Duration: 300 * time.Millisecond})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !damaged.Load() {
				t.Fatalf("the broker relayed less than %d bytes; nothing was damaged", at)
			}
			if res.Gaps+res.Corrupt == 0 {
				t.Errorf("gaps %d corrupt %d: damage went unnoticed", res.Gaps, res.Corrupt)
			}
		})
	}
}

// TestChildServer runs the whole relay path against a fake server started
// as a child process: handshakes, /proc readings, handshake rate, stop.
func TestChildServer(t *testing.T) {
	cmd := fakeServerCmd(t)
	res, err := run(t, Options{ServerCmd: cmd, Channels: 2, Watchers: 3, Size: 4096, Rate: 4 << 20,
		Duration: 300 * time.Millisecond, Handshakes: 40})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkClean(t, res)
	if !res.ChildServer || res.Addr == "" {
		t.Errorf("child server %v at %q", res.ChildServer, res.Addr)
	}
	if s := res.Server; s == nil || s.PID == 0 || s.PeakRSS == 0 || s.IdleRSS == 0 {
		t.Errorf("server stats %+v, want pid and memory", s)
	}
	if h := res.Handshakes; h == nil || h.Count != 40 || h.Failed != 0 {
		t.Errorf("handshakes %+v, want 40 without failure", h)
	}
}

// TestChildServerTLS runs the relay path with every client over TLS: the
// child gets a throwaway certificate and serves TLS only, so a clean run
// shows that every connection was encrypted and verified.
func TestChildServerTLS(t *testing.T) {
	cmd := fakeServerCmd(t)
	res, err := run(t, Options{ServerCmd: cmd, TLS: &tls.Config{}, Watchers: 3, Size: 4096, Rate: 4 << 20,
		Duration: 300 * time.Millisecond, Handshakes: 20})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkClean(t, res)
	if !res.TLS {
		t.Error("result does not say TLS")
	}
	if h := res.Handshakes; h == nil || h.Count != 20 || h.Failed != 0 {
		t.Errorf("handshakes over TLS %+v, want 20 without failure", h)
	}
}

// TestTLSToPlainServer fails the run: the server does not speak TLS.
func TestTLSToPlainServer(t *testing.T) {
	cmd := fakeServerCmd(t)
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := startSubprocess(t.Context(), "server", addr, append(cmd, "--listen", addr, "--users", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.stop(context.Background()) }()
	_, err = run(t, Options{Addr: addr, User: "u", Password: "p", TLS: &tls.Config{}, Watchers: 1, Duration: time.Second})
	if !errors.Is(err, client.ErrTLSHandshake) && !errors.Is(err, client.ErrNotTLS) {
		t.Errorf("Run: %v, want a failed TLS handshake", err)
	}
}

func TestChildServerRefuses(t *testing.T) {
	cmd := fakeServerCmd(t)
	_, err := run(t, Options{ServerCmd: cmd, ServerArgs: []string{"--refuse-watchers"}, Watchers: 2, Duration: time.Second})
	var refused *protocol.RefusedError
	if !errors.As(err, &refused) || refused.Reason != protocol.ReasonBusy {
		t.Fatalf("Run: %v, want a busy refusal", err)
	}
}

func TestChildServerFailsToStart(t *testing.T) {
	cmd := fakeServerCmd(t)
	_, err := run(t, Options{ServerCmd: append(cmd, "--no-such-flag"), Watchers: 1})
	if !errors.Is(err, ErrServerStart) {
		t.Fatalf("Run: %v, want ErrServerStart", err)
	}
}

// TestStalledAndSlowWatchers runs every kind of watcher against a broker
// that never evicts: the stalled and slow ones are held, and the run ends
// cleanly.
func TestStalledAndSlowWatchers(t *testing.T) {
	addr := startBroker(t, &benchtest.Fanout{})
	res, err := run(t, Options{Raw: true, Addr: addr, Watchers: 1, Stalled: 1, Slow: 1, SlowRate: 100 << 10,
		Size: 1000, Rate: 50 << 10, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Gaps != 0 || res.Corrupt != 0 {
		t.Errorf("gaps %d corrupt %d, want 0", res.Gaps, res.Corrupt)
	}
	if e := res.Evicted; e.Stalled.Of != 1 || e.Slow.Of != 1 || e.Regular.Of != 1 || e.Total() != 0 {
		t.Errorf("evictions %+v, want one watcher of each kind and no eviction", e)
	}
}

// TestEvictions runs every kind of watcher against a broker that resets
// each one 100 ms after it joined: each eviction is counted, none fails the
// run. The stalled watcher learns of it without reading.
func TestEvictions(t *testing.T) {
	addr := startBroker(t, &benchtest.Fanout{Kick: 100 * time.Millisecond})
	res, err := run(t, Options{Raw: true, Addr: addr, Watchers: 2, Stalled: 1, Slow: 1, SlowRate: 100 << 10,
		Size: 1000, Rate: 100 << 10, Warmup: 10 * time.Millisecond, Duration: time.Second})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := Evictions{
		Regular: EvictedKind{Count: 2, Of: 2},
		Stalled: EvictedKind{Count: 1, Of: 1},
		Slow:    EvictedKind{Count: 1, Of: 1},
	}
	got := res.Evicted
	for _, k := range []*EvictedKind{&got.Regular, &got.Stalled, &got.Slow} {
		if k.Count > 0 && (k.MinSeconds <= 0 || k.MaxSeconds < k.MinSeconds) {
			t.Errorf("eviction times %+v", *k)
		}
		k.MinSeconds, k.MaxSeconds = 0, 0
	}
	if !canTellPeerGone {
		want.Stalled.Count = 0
	}
	if got != want {
		t.Errorf("evictions %+v, want %+v", got, want)
	}
}

func TestInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	res, err := Run(ctx, Options{Baseline: true, Watchers: 2, Warmup: 10 * time.Millisecond, Duration: time.Minute})
	switch {
	case err == nil && res.Interrupted:
	case errors.Is(err, ErrInterrupted) && errors.Is(err, context.Canceled):
	default:
		t.Fatalf("Run = %+v, %v; want an interrupted result or ErrInterrupted", res, err)
	}
}

func TestOptionsInvalid(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no watchers", Options{Baseline: true}},
		{"negative watchers", Options{Baseline: true, Watchers: -1}},
		{"size too small", Options{Baseline: true, Watchers: 1, Size: MinSize - 1}},
		{"size too large", Options{Baseline: true, Watchers: 1, Size: MaxSize + 1}},
		{"slow without rate", Options{Addr: "127.0.0.1:1", User: "u", Watchers: 1, Slow: 1}},
		{"baseline with address", Options{Baseline: true, Addr: "127.0.0.1:1", Watchers: 1}},
		{"baseline with stalled", Options{Baseline: true, Watchers: 1, Stalled: 1}},
		{"baseline with handshakes", Options{Baseline: true, Watchers: 1, Handshakes: 5}},
		{"raw without address", Options{Raw: true, Watchers: 1}},
		{"raw with channels", Options{Raw: true, Addr: "127.0.0.1:1", Watchers: 1, Channels: 2}},
		{"no server", Options{Watchers: 1}},
		{"address without user", Options{Addr: "127.0.0.1:1", Watchers: 1}},
		{"pid without address", Options{ServerCmd: []string{"x"}, ServerPID: 1, Watchers: 1}},
		{"watch addresses without address", Options{ServerCmd: []string{"x"}, WatchAddrs: []string{"127.0.0.1:1"}, Watchers: 1}},
		{"raw with watch addresses", Options{Raw: true, Addr: "127.0.0.1:1", WatchAddrs: []string{"127.0.0.1:2"}, Watchers: 1}},
		{"negative rate", Options{Baseline: true, Watchers: 1, Rate: -1}},
		{"negative batch", Options{Baseline: true, Watchers: 1, Batch: -1}},
		{"batch too large", Options{Baseline: true, Watchers: 1, Batch: MaxSize + 1}},
		{"baseline over TLS", Options{Baseline: true, Watchers: 1, TLS: &tls.Config{}}},
		{"raw over TLS", Options{Raw: true, Addr: "127.0.0.1:1", Watchers: 1, TLS: &tls.Config{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Run(t.Context(), tt.opts); !errors.Is(err, ErrBadOptions) {
				t.Errorf("Run: %v, want ErrBadOptions", err)
			}
		})
	}
}

func TestReadBufSize(t *testing.T) {
	tests := []struct {
		rate int64
		want int
	}{
		{0, 256 << 10},
		{8000, 4 << 10}, // 64 kbit/s
		{625_000, 128 << 10},
		{1 << 30, 256 << 10},
	}
	for _, tt := range tests {
		if got := readBufSize(tt.rate); got != tt.want {
			t.Errorf("readBufSize(%d) = %d, want %d", tt.rate, got, tt.want)
		}
	}
}
