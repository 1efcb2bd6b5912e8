package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Result is what a run measured. Rates and latencies cover the measured
// window only; integrity counts (gaps, corrupt) and evictions cover the
// whole run. Byte rates are decimal (1 MB/s = 10^6 bytes/s, 1 Gbit/s =
// 10^9 bits/s), memory is binary (1 MiB = 2^20 bytes).
type Result struct {
	// Mode is "relay" (fstream handshakes), "raw" (no handshake) or
	// "baseline" (no relay).
	Mode string `json:"mode"`
	// Addr is the relay driven; ChildServer says whether the bench
	// started it.
	Addr        string `json:"addr,omitempty"`
	ChildServer bool   `json:"child_server"`
	// TLS says the clients connected with TLS.
	TLS bool `json:"tls,omitempty"`

	Channels int   `json:"channels"`
	Watchers int   `json:"watchers"` // reading watchers per channel; streams for a baseline
	Stalled  int   `json:"stalled"`  // per channel
	Slow     int   `json:"slow"`     // per channel
	SlowRate int64 `json:"slow_rate,omitempty"`
	Size     int   `json:"size"`            // bytes per record
	Batch    int   `json:"batch,omitempty"` // most bytes per write
	Rate     int64 `json:"rate"`            // bytes/s per broadcaster; 0 = full speed

	WarmupSeconds float64 `json:"warmup_s"`
	WindowSeconds float64 `json:"window_s"`
	// ConnectSeconds is the time to connect and handshake every watcher.
	ConnectSeconds float64 `json:"connect_s"`
	// Interrupted means the context ended the window early.
	Interrupted bool `json:"interrupted,omitempty"`

	// Ingest is what the broadcasters wrote, summed.
	Ingest Throughput `json:"ingest"`
	// Egress is what all watchers (regular and slow) read, summed.
	Egress Throughput `json:"egress"`
	// RegularEgress is what the regular watchers read, summed.
	RegularEgress Throughput `json:"regular_egress"`
	// PerWatcher spreads the regular watchers' read rates, in bytes/s.
	PerWatcher Spread `json:"per_watcher"`
	// Latency is the age of records (receive time minus send time) as the
	// regular watchers completed them.
	Latency Latency `json:"latency"`
	// LatencyByAddr, with more than one Options.WatchAddrs, is the latency
	// of the regular watchers at each of them, in their order.
	LatencyByAddr []Latency `json:"latency_by_addr,omitempty"`
	// Records is how many valid records the watchers completed in the
	// window.
	Records int64 `json:"records"`

	// Gaps counts sequence discontinuities, Lost the records they skipped,
	// Corrupt the records that failed a check, Resyncs the times a watcher
	// had to find the record boundary again after losing it. All must be
	// 0 for a correct relay.
	Gaps    int64 `json:"gaps"`
	Lost    int64 `json:"lost"`
	Corrupt int64 `json:"corrupt"`
	Resyncs int64 `json:"resyncs"`

	// Evicted counts the watchers the relay closed before the end.
	Evicted Evictions `json:"evicted"`

	// Server is the relay process's CPU and memory, when its pid is known.
	Server *ServerStats `json:"server,omitempty"`
	// BenchCPUSeconds is the bench's own CPU time in the window.
	BenchCPUSeconds float64 `json:"bench_cpu_s"`

	// Handshakes is the handshake rate, when it was measured.
	Handshakes *HandshakeStats `json:"handshakes,omitempty"`
	// Cluster is what the suite's cluster scenario measured beside the
	// run (on its run "pulled"), or nil.
	Cluster *ClusterStats `json:"cluster,omitempty"`

	// Notes explain missing or doubtful numbers.
	Notes []string `json:"notes,omitempty"`
}

// Throughput is a byte count over the window and its rate.
type Throughput struct {
	Bytes       int64   `json:"bytes"`
	BytesPerSec float64 `json:"bytes_per_s"`
	Gbps        float64 `json:"gbit_per_s"`
}

func throughput(bytes int64, seconds float64) Throughput {
	t := Throughput{Bytes: bytes}
	if seconds > 0 {
		t.BytesPerSec = float64(bytes) / seconds
		t.Gbps = t.BytesPerSec * 8 / 1e9
	}
	return t
}

// Spread is the minimum, median and maximum of a set of rates.
type Spread struct {
	Count  int     `json:"count"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// Latency summarises the latency histogram, in microseconds. Percentiles
// are upper estimates within 6.25 %.
type Latency struct {
	Count  int64   `json:"count"`
	MeanUS float64 `json:"mean_us"`
	P50US  float64 `json:"p50_us"`
	P90US  float64 `json:"p90_us"`
	P99US  float64 `json:"p99_us"`
	MaxUS  float64 `json:"max_us"`
}

// Evictions counts watchers closed by the relay, by kind, and when.
type Evictions struct {
	Regular EvictedKind `json:"regular"`
	Stalled EvictedKind `json:"stalled"`
	Slow    EvictedKind `json:"slow"`
}

// EvictedKind counts the evicted watchers of one kind. MinSeconds and
// MaxSeconds span their time from handshake to eviction.
type EvictedKind struct {
	Count      int     `json:"count"`
	Of         int     `json:"of"`
	MinSeconds float64 `json:"min_s,omitempty"`
	MaxSeconds float64 `json:"max_s,omitempty"`
}

// Total returns the evicted watchers of every kind.
func (e Evictions) Total() int { return e.Regular.Count + e.Stalled.Count + e.Slow.Count }

// ServerStats is the relay process's cost, read from /proc.
type ServerStats struct {
	PID int `json:"pid"`
	// CPUSeconds is user plus system time in the window; Cores is that
	// divided by the window.
	CPUSeconds float64 `json:"cpu_s"`
	Cores      float64 `json:"cores"`
	// CPUPerGB is CPUSeconds per 10^9 bytes delivered to watchers.
	CPUPerGB float64 `json:"cpu_s_per_gb"`
	// WriteCalls is the write system calls (write, writev) in the window,
	// WritesPerMB those per 10^6 bytes delivered: what coalescing saves.
	// Zero for a relay that sends with send(2), such as ncat.
	WriteCalls  int64   `json:"write_calls,omitempty"`
	WritesPerMB float64 `json:"writes_per_mb,omitempty"`
	// PeakRSS is the larger of VmHWM at the end of the window and the
	// highest VmRSS sampled each second.
	PeakRSS int64 `json:"peak_rss"`
	// StartRSS is taken before any broadcaster connects, IdleRSS once they
	// have but before any watcher does, WarmRSS at the end of the warmup.
	StartRSS int64 `json:"start_rss"`
	IdleRSS  int64 `json:"idle_rss"`
	WarmRSS  int64 `json:"warm_rss"`
	// RSSPerWatcher is (WarmRSS - IdleRSS) / watchers connected at the
	// end of the warmup; RSSPerChannel is (IdleRSS - StartRSS) / channels.
	RSSPerWatcher float64 `json:"rss_per_watcher"`
	RSSPerChannel float64 `json:"rss_per_channel"`
}

// HandshakeStats is the handshake-rate measurement.
type HandshakeStats struct {
	Count       int     `json:"count"`
	Failed      int     `json:"failed"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"per_s"`
	FirstError  string  `json:"first_error,omitempty"`
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// WriteTable writes r as an aligned two-column table.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label, fmt.Sprintf(format, args...))
	}
	row("mode", "%s", r.modeText())
	row("load", "%s", r.loadText())
	window := fmt.Sprintf("%.2f s after %.2f s warmup; watchers connected in %.2f s", r.WindowSeconds, r.WarmupSeconds, r.ConnectSeconds)
	if r.Interrupted {
		window += " (interrupted)"
	}
	row("window", "%s", window)
	if r.Mode == "baseline" {
		row("ingest", "%s   (%s)", rateText(r.Ingest), plural(r.Channels*r.Watchers, "writer"))
	} else {
		row("ingest", "%s   (%s)", rateText(r.Ingest), plural(r.Channels, "broadcaster"))
	}
	row("egress", "%s   (%s)", rateText(r.Egress), plural(r.Channels*(r.Watchers+r.Slow), "reader"))
	if r.Slow > 0 {
		row("regular", "%s   (%s)", rateText(r.RegularEgress), plural(r.Channels*r.Watchers, "regular watcher"))
	}
	if r.PerWatcher.Count > 0 {
		row("per watcher", "min %s   median %s   max %s", bytesRate(r.PerWatcher.Min), bytesRate(r.PerWatcher.Median), bytesRate(r.PerWatcher.Max))
	}
	l := r.Latency
	row("latency", "p50 %s   p90 %s   p99 %s   max %s   (%s records)", usText(l.P50US), usText(l.P90US), usText(l.P99US), usText(l.MaxUS), groupDigits(r.Records))
	row("gaps", "%d   (%d records lost)", r.Gaps, r.Lost)
	row("corrupt", "%d", r.Corrupt)
	row("evicted", "%s", r.evictedText())
	if s := r.Server; s != nil {
		row("server CPU", "%.2f s = %.2f cores; %.3f s per delivered GB   (pid %d)", s.CPUSeconds, s.Cores, s.CPUPerGB, s.PID)
		if s.WriteCalls > 0 {
			row("server writes", "%d write calls, %.1f per delivered MB", s.WriteCalls, s.WritesPerMB)
		}
		mem := fmt.Sprintf("peak %s; %s per watcher", mibText(float64(s.PeakRSS)), kibText(s.RSSPerWatcher))
		if r.Channels > 1 {
			mem += fmt.Sprintf("; %s per channel", kibText(s.RSSPerChannel))
		}
		mem += fmt.Sprintf("   (idle %s, warm %s)", mibText(float64(s.IdleRSS)), mibText(float64(s.WarmRSS)))
		row("server RSS", "%s", mem)
	}
	cores := 0.0
	if r.WindowSeconds > 0 {
		cores = r.BenchCPUSeconds / r.WindowSeconds
	}
	row("bench CPU", "%.2f s = %.2f cores", r.BenchCPUSeconds, cores)
	if h := r.Handshakes; h != nil {
		text := fmt.Sprintf("%d in %.2f s = %.0f/s   (%d at a time, %d failed)", h.Count, h.Seconds, h.PerSecond, h.Concurrency, h.Failed)
		if h.FirstError != "" {
			text += ": " + h.FirstError
		}
		row("handshakes", "%s", text)
	}
	for _, n := range r.Notes {
		row("note", "%s", n)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

func (r *Result) modeText() string {
	mode := r.Mode
	if r.TLS {
		mode += " over TLS"
	}
	switch {
	case r.Mode == "baseline":
		return "baseline: loopback TCP streams between the bench's own sockets, no relay"
	case r.ChildServer:
		return fmt.Sprintf("%s, child server on %s", mode, r.Addr)
	default:
		return fmt.Sprintf("%s, server at %s", mode, r.Addr)
	}
}

func (r *Result) loadText() string {
	var b strings.Builder
	if r.Mode == "baseline" {
		b.WriteString(plural(r.Channels*r.Watchers, "stream"))
	} else {
		fmt.Fprintf(&b, "%s × %s", plural(r.Channels, "channel"), plural(r.Watchers, "watcher"))
		if r.Stalled > 0 {
			fmt.Fprintf(&b, " +%d stalled", r.Stalled)
		}
		if r.Slow > 0 {
			fmt.Fprintf(&b, " +%d slow at %s", r.Slow, bytesRate(float64(r.SlowRate)))
		}
	}
	fmt.Fprintf(&b, "; %d-byte records", r.Size)
	if r.Batch > r.Size {
		fmt.Fprintf(&b, ", up to %d bytes per write,", r.Batch)
	}
	if r.Rate > 0 {
		b.WriteString(" ")
		fmt.Fprintf(&b, "at %s (%s) each", bytesRate(float64(r.Rate)), bitsRate(float64(r.Rate)))
	} else {
		b.WriteString(" at full speed")
	}
	return b.String()
}

func (r *Result) evictedText() string {
	e := r.Evicted
	s := fmt.Sprintf("%d of %d regular", e.Regular.Count, e.Regular.Of)
	if e.Regular.Count > 0 {
		s += " " + e.Regular.span()
	}
	for _, k := range []struct {
		name string
		e    EvictedKind
	}{{"stalled", e.Stalled}, {"slow", e.Slow}} {
		if k.e.Of == 0 {
			continue
		}
		s += fmt.Sprintf("; %d of %d %s", k.e.Count, k.e.Of, k.name)
		if k.e.Count > 0 {
			s += " " + k.e.span()
		}
	}
	return s
}

func (k EvictedKind) span() string {
	if k.MaxSeconds-k.MinSeconds < 0.005 {
		return fmt.Sprintf("(after %.2f s)", k.MaxSeconds)
	}
	return fmt.Sprintf("(after %.2f–%.2f s)", k.MinSeconds, k.MaxSeconds)
}

func rateText(t Throughput) string {
	return fmt.Sprintf("%7.3f Gbit/s   %s", t.Gbps, bytesRate(t.BytesPerSec))
}

// bytesRate formats bytes/s with a decimal prefix.
func bytesRate(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f GB/s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f MB/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f kB/s", v/1e3)
	}
	return fmt.Sprintf("%.0f B/s", v)
}

// bitsRate formats bytes/s as bits/s with a decimal prefix.
func bitsRate(v float64) string {
	v *= 8
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f kbit/s", v/1e3)
	}
	return fmt.Sprintf("%.0f bit/s", v)
}

func usText(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2f s", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2f ms", us/1e3)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func mibText(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func kibText(b float64) string { return fmt.Sprintf("%.1f KiB", b/(1<<10)) }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// groupDigits writes n with thin separators: 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
