package bench

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sampleResults are fixed results whose rendering is pinned by golden
// files: the table and the JSON are what users and scripts read.
var sampleResults = map[string]*Result{
	"relay": {
		Mode: "relay", Addr: "127.0.0.1:40117", ChildServer: true,
		Channels: 1, Watchers: 64, Stalled: 4, Slow: 1, SlowRate: 100_000, Size: 65536, Batch: RelayBatch, TLS: true,
		WarmupSeconds: 1, WindowSeconds: 10.002, ConnectSeconds: 0.041,
		Ingest:        throughput(3_452_000_000, 10),
		Egress:        throughput(27_640_000_000, 10),
		RegularEgress: throughput(27_630_000_000, 10),
		PerWatcher:    Spread{Count: 64, Min: 42_100_000, Median: 43_170_000, Max: 44_200_000},
		Latency:       Latency{Count: 3_370_000, MeanUS: 1500, P50US: 1210, P90US: 2304, P99US: 4521, MaxUS: 10_240},
		Records:       3_370_000,
		Evicted: Evictions{
			Regular: EvictedKind{Of: 64},
			Stalled: EvictedKind{Count: 4, Of: 4, MinSeconds: 1.12, MaxSeconds: 1.31},
			Slow:    EvictedKind{Count: 1, Of: 1, MinSeconds: 10.01, MaxSeconds: 10.01},
		},
		Server: &ServerStats{PID: 1234, CPUSeconds: 12.34, Cores: 1.234, CPUPerGB: 0.0558,
			PeakRSS: 47 << 20, StartRSS: 8 << 20, IdleRSS: 8<<20 + 300<<10, WarmRSS: 9<<20 + 300<<10,
			RSSPerWatcher: 14.9 * 1024, RSSPerChannel: 300 * 1024},
		BenchCPUSeconds: 8.1,
		Handshakes:      &HandshakeStats{Count: 10000, Concurrency: 32, Seconds: 1.2, PerSecond: 8333.3},
	},
	"baseline": {
		Mode: "baseline", Channels: 1, Watchers: 64, Size: 1316, Batch: RelayBatch, Rate: 625_000,
		WarmupSeconds: 1, WindowSeconds: 10, ConnectSeconds: 0.01,
		Ingest:          throughput(400_000_000, 10),
		Egress:          throughput(399_990_000, 10),
		RegularEgress:   throughput(399_990_000, 10),
		PerWatcher:      Spread{Count: 64, Min: 624_000, Median: 625_000, Max: 626_000},
		Latency:         Latency{Count: 303_900, MeanUS: 60, P50US: 52, P90US: 71, P99US: 180, MaxUS: 2500},
		Records:         303_900,
		Evicted:         Evictions{Regular: EvictedKind{Of: 64}},
		BenchCPUSeconds: 0.9,
		Notes:           []string{"an example note"},
	},
}

func TestGolden(t *testing.T) {
	for name, res := range sampleResults {
		for _, format := range []struct {
			ext   string
			write func(*Result, *bytes.Buffer) error
		}{
			{"txt", func(r *Result, b *bytes.Buffer) error { return r.WriteTable(b) }},
			{"json", func(r *Result, b *bytes.Buffer) error { return r.WriteJSON(b) }},
		} {
			t.Run(name+"."+format.ext, func(t *testing.T) {
				var got bytes.Buffer
				if err := format.write(res, &got); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", name+"."+format.ext)
				if *update {
					if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("output differs from %s (run with -update if intended):\n%s", path, got.String())
				}
			})
		}
	}
}

func TestFormatHelpers(t *testing.T) {
	tests := []struct{ got, want string }{
		{bytesRate(999), "999 B/s"},
		{bytesRate(8000), "8.00 kB/s"},
		{bytesRate(2.5e9), "2.50 GB/s"},
		{bitsRate(8000), "64.00 kbit/s"},
		{bitsRate(625_000), "5.00 Mbit/s"},
		{usText(52), "52 µs"},
		{usText(4521), "4.52 ms"},
		{usText(2.5e6), "2.50 s"},
		{groupDigits(0), "0"},
		{groupDigits(1234567), "1,234,567"},
		{groupDigits(-1000), "-1,000"},
		{plural(1, "channel"), "1 channel"},
		{plural(2, "channel"), "2 channels"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
