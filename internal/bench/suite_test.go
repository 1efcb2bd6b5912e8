package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPerCPU(t *testing.T) {
	r := &Result{Egress: Throughput{Bytes: 3e9}, BenchCPUSeconds: 1, Server: &ServerStats{CPUSeconds: 0.5}}
	base := &Result{Egress: Throughput{Bytes: 2e9}, BenchCPUSeconds: 1}
	m := perCPU("per CPU", r).vs(perCPU("", base).Value, "")
	m.evaluate()
	if m.Value != 2e9 || m.Text != "2.00 GB/CPU-s" || m.Ratio != 1 || m.Verdict != "" {
		t.Errorf("perCPU: %+v, want 2 GB per CPU-second, ratio 1, reported", m)
	}
	if m := perCPU("per CPU", &Result{Egress: Throughput{Bytes: 1}}); !m.Missing {
		t.Errorf("perCPU without CPU time: %+v, want missing", m)
	}
}

func TestTargetMet(t *testing.T) {
	tests := []struct {
		op    Op
		limit float64
		v     float64
		want  bool
	}{
		{AtLeast, 0.8, 0.81, true},
		{AtLeast, 0.8, 0.8, true},
		{AtLeast, 0.8, 0.79, false},
		{AtMost, 16 << 10, 16 << 10, true},
		{AtMost, 16 << 10, 16<<10 + 1, false},
		{AtMost, 1.5, 0.2, true},
		{Equal, 0, 0, true},
		{Equal, 0, 1, false},
		{Equal, 4, 4, true},
		{Op("?"), 1, 1, false},
	}
	for _, tt := range tests {
		if got := (Target{Op: tt.op, Limit: tt.limit}).met(tt.v); got != tt.want {
			t.Errorf("%v %s %v: met = %v, want %v", tt.v, tt.op, tt.limit, got, tt.want)
		}
	}
}

func TestMetricEvaluate(t *testing.T) {
	tests := []struct {
		name     string
		m        Metric
		verdict  Verdict
		ratio    float64
		text     string
		target   string
		baseline string
	}{
		{"ratio met", measured("egress", UnitBitRate, 2e9).vs(2.4e9, "").wantRatio(AtLeast, 0.8),
			Pass, 2e9 / 2.4e9, "16.00 Gbit/s", "≥ 0.80×", "19.20 Gbit/s"},
		{"ratio missed", measured("egress", UnitBitRate, 1e9).vs(2.4e9, "").wantRatio(AtLeast, 0.8),
			Fail, 1e9 / 2.4e9, "8.00 Gbit/s", "≥ 0.80×", "19.20 Gbit/s"},
		{"ratio at most", measured("p99", UnitMicros, 1400).vs(1000, "").wantRatio(AtMost, 1.5),
			Pass, 1.4, "1.40 ms", "≤ 1.50×", "1.00 ms"},
		{"ratio without baseline", measured("p99", UnitMicros, 1400).wantRatio(AtMost, 1.5),
			Fail, 0, "1.40 ms", "≤ 1.50×", ""},
		{"value met", measured("RSS per watcher", UnitBytes, 12<<10).want(AtMost, 16<<10, ""),
			Pass, 0, "12.0 KiB", "≤ 16.0 KiB", ""},
		{"value missed", measured("RSS per watcher", UnitBytes, 17<<10).want(AtMost, 16<<10, ""),
			Fail, 0, "17.0 KiB", "≤ 16.0 KiB", ""},
		{"missing value", missing("RSS per watcher", UnitBytes, "not measured").want(AtMost, 16<<10, ""),
			Fail, 0, "not measured", "≤ 16.0 KiB", ""},
		{"reported", measured("server CPU", UnitCPUPerGB, 0.25), "", 0, "0.250 s/GB", "", ""},
		{"reported with baseline", measured("p50", UnitMicros, 300).vs(100, ""), "", 3, "300 µs", "", "100 µs"},
		{"set text", measured("slow evicted", UnitCount, 1).shown("1 of 1").want(Equal, 1, "all"),
			Pass, 0, "1 of 1", "all", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			m.evaluate()
			if m.Verdict != tt.verdict || m.Ratio != tt.ratio || m.Text != tt.text || m.BaselineText != tt.baseline {
				t.Errorf("got verdict %q ratio %v text %q baseline %q; want %q %v %q %q",
					m.Verdict, m.Ratio, m.Text, m.BaselineText, tt.verdict, tt.ratio, tt.text, tt.baseline)
			}
			target := ""
			if m.Target != nil {
				target = m.Target.Text
			}
			if target != tt.target {
				t.Errorf("target %q, want %q", target, tt.target)
			}
		})
	}
}

// goodRuns returns results that meet every target of the default plan.
func goodRuns() runs {
	server := func(perWatcher float64) *ServerStats {
		return &ServerStats{PID: 1, CPUSeconds: 1, Cores: 0.5, CPUPerGB: 0.1, PeakRSS: 40 << 20, RSSPerWatcher: perWatcher, RSSPerChannel: 200 << 10}
	}
	relay := func(egress float64) *Result {
		return &Result{Mode: "relay", Egress: Throughput{BytesPerSec: egress}, RegularEgress: Throughput{BytesPerSec: egress},
			Server: server(20 << 10)}
	}
	base := func(egress float64) *Result {
		return &Result{Mode: "baseline", Egress: Throughput{BytesPerSec: egress}, RegularEgress: Throughput{BytesPerSec: egress}}
	}
	r := runs{
		"1.relay": relay(2.0e9), "1.baseline": base(2.4e9),
		"2.relay": relay(1.0e9), "2.baseline": base(2.0e9),
		"3.relay":    {Mode: "relay", Latency: Latency{P50US: 150, P99US: 600}, Server: server(0)},
		"3.baseline": {Mode: "baseline", Latency: Latency{P50US: 100, P99US: 500}},
		"4.relay": {Mode: "relay", Channels: 1, Watchers: 10000, ConnectSeconds: 1.2, Server: server(12 << 10),
			Evicted: Evictions{Regular: EvictedKind{Of: 10000}}},
		"5.relay":   {Mode: "relay", Server: server(15 << 10)},
		"6.stalled": relay(1.9e9),
		"6.clean":   relay(2.0e9),
		"7.relay": {Mode: "relay", Ingest: Throughput{BytesPerSec: 624_000}, PerWatcher: Spread{Min: 623_000},
			Evicted: Evictions{Slow: EvictedKind{Count: 1, Of: 1, MinSeconds: 5.2, MaxSeconds: 5.2}}},
		"8.relay": {Mode: "relay", Handshakes: &HandshakeStats{Count: 5000, Seconds: 0.5, PerSecond: 10_000, Concurrency: 32}},
		"9.ncat":  {Mode: "raw", Egress: Throughput{BytesPerSec: 1.1e9}, Server: server(0)},
		"10.tls":  {Mode: "relay", Egress: Throughput{BytesPerSec: 1.0e9}, Server: server(20 << 10)},
		"11.hops": {Mode: "relay", LatencyByAddr: []Latency{{P50US: 150, P99US: 600}, {P50US: 160, P99US: 900}}},
		"11.pulled": {Mode: "relay", WindowSeconds: 5,
			Cluster: &ClusterStats{OriginPullBytes: 6.25e6, OriginIngestBytes: 3.125e6, PulledNodes: 2,
				ColdPullUS: []float64{4000, 5000, 9000}, LocalUS: []float64{2000, 2100, 2500}, FailoverSeconds: 0.3}},
		"11.wide":       relay(1.9e9),
		"12.relay":      {Mode: "relay", Latency: Latency{P99US: 500}, Server: server(0)},
		"12.coalesced":  {Mode: "relay", Latency: Latency{P99US: 10_000}, Server: server(0)},
		"12.baseline":   {Mode: "baseline", Latency: Latency{P99US: 450}},
		"12.ncat":       {Mode: "raw", Latency: Latency{P99US: 900}, Server: server(0)},
		"13.relay":      {Mode: "relay", Latency: Latency{P99US: 20_000}, Server: server(0)},
		"13.coalesced":  {Mode: "relay", Latency: Latency{P99US: 30_000}, Server: server(0)},
		"12.goroutines": {Mode: "relay", Server: server(0)},
		"13.goroutines": {Mode: "relay", Server: server(0)},
	}
	r["12.goroutines"].Server.CPUPerGB = 0.2 // the relay's 0.1 is 0.5×
	r["10.tls"].Server.CPUPerGB = 0.25
	r["12.ncat"].Server.CPUPerGB = 0.2       // the relay's 0.1 is 0.5×
	r["12.coalesced"].Server.CPUPerGB = 0.05 // 0.25×
	for _, k := range []string{"12.relay", "12.coalesced", "13.relay", "13.coalesced"} {
		r[k].Server.WriteCalls, r[k].Server.WritesPerMB = 1000, 100
	}
	r["6.stalled"].Evicted.Stalled = EvictedKind{Count: 4, Of: 4, MinSeconds: 1.1, MaxSeconds: 1.3}
	return r
}

// verdicts evaluates every scenario of plan on r, by "ID/metric name".
func verdicts(t *testing.T, plan []scenario, r runs) map[string]Verdict {
	t.Helper()
	out := map[string]Verdict{}
	for _, sc := range plan {
		for _, m := range sc.eval(r) {
			out[key(sc.id, m.Name)] = m.Verdict
		}
	}
	return out
}

// TestScenarioVerdicts judges fixed results: all good, then one number
// at a time on the wrong side of its target.
func TestScenarioVerdicts(t *testing.T) {
	o, err := SuiteOptions{ServerCmd: []string{"fstream", "serve"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	plan := o.plan()
	good := verdicts(t, plan, goodRuns())
	for k, v := range good {
		if v == Fail {
			t.Errorf("good results: %s is FAIL", k)
		}
	}
	for _, k := range []string{"1.aggregate egress", "2.egress", "10.server CPU vs plain", "10.integrity", "3.p99 latency", "4.RSS per watcher",
		"4.integrity", "6.regular egress vs none stalled", "7.broadcaster ingest", "7.slow watcher evicted", "8.failed handshakes",
		"11.origin egress to 2 pulling nodes", "11.p99 added per hop", "11.resume after origin killed", "11.integrity, 3 nodes"} {
		if good[k] != Pass {
			t.Errorf("good results: %s is %q, want PASS", k, good[k])
		}
	}
	if canTellPeerGone && (good["6.stalled evicted"] != Pass || good["6.time to evict"] != Pass) {
		t.Errorf("good results: stalled evictions %q and %q, want PASS", good["6.stalled evicted"], good["6.time to evict"])
	}

	type spoiler struct {
		name   string
		metric string // the verdict that must turn to FAIL, with those of also
		also   []string
		spoil  func(r runs)
	}
	tests := []spoiler{
		{"egress below 0.8 of the baseline", "1.aggregate egress", nil, func(r runs) { r["1.relay"].Egress.BytesPerSec = 1.9e9 }},
		{"one watcher below 0.45", "2.egress", nil, func(r runs) { r["2.relay"].Egress.BytesPerSec = 0.8e9 }},
		{"gaps", "2.integrity", nil, func(r runs) { r["2.relay"].Gaps = 1 }},
		{"p99 above 1.5 of the baseline", "3.p99 latency", nil, func(r runs) { r["3.relay"].Latency.P99US = 760 }},
		{"baseline without latency", "3.p99 latency", nil, func(r runs) { r["3.baseline"].Latency.P99US = 0 }},
		{"RSS per watcher above 16 KiB", "4.RSS per watcher", nil, func(r runs) { r["4.relay"].Server.RSSPerWatcher = 16<<10 + 1 }},
		{"no server stats", "4.RSS per watcher", []string{"14.server CPU"}, func(r runs) { r["4.relay"].Server = nil }},
		{"corrupt records", "4.integrity", nil, func(r runs) { r["4.relay"].Corrupt = 2 }},
		{"evictions", "4.evicted", nil, func(r runs) { r["4.relay"].Evicted.Regular.Count = 1 }},
		{"channel watcher evicted", "5.evicted", nil, func(r runs) { r["5.relay"].Evicted.Regular.Count = 1 }},
		{"stalled slow down the others", "6.regular egress vs none stalled", nil, func(r runs) { r["6.stalled"].RegularEgress.BytesPerSec = 1.7e9 }},
		{"broadcaster slowed", "7.broadcaster ingest", nil, func(r runs) { r["7.relay"].Ingest.BytesPerSec = 590_000 }},
		{"regular watcher slowed", "7.slowest regular watcher", nil, func(r runs) { r["7.relay"].PerWatcher.Min = 500_000 }},
		{"slow watcher kept", "7.slow watcher evicted", nil, func(r runs) { r["7.relay"].Evicted.Slow = EvictedKind{Of: 1} }},
		{"handshakes failed", "8.failed handshakes", nil, func(r runs) { r["8.relay"].Handshakes.Failed = 3 }},
		{"TLS costs over 4× plain", "10.server CPU vs plain", nil, func(r runs) { r["10.tls"].Server.CPUPerGB = 0.41 }},
		{"TLS without server stats", "10.server CPU vs plain", nil, func(r runs) { r["10.tls"].Server = nil }},
		{"TLS stream damaged", "10.integrity", nil, func(r runs) { r["10.tls"].Corrupt = 1 }},
		{"TLS watcher evicted", "10.evicted", nil, func(r runs) { r["10.tls"].Evicted.Regular.Count = 1 }},
		{"origin sends 2 % more", "11.origin egress to 2 pulling nodes", nil, func(r runs) { r["11.pulled"].Cluster.OriginPullBytes *= 1.02 }},
		{"origin sends 2 % less", "11.origin egress to 2 pulling nodes", nil, func(r runs) { r["11.pulled"].Cluster.OriginPullBytes *= 0.98 }},
		{"origin counters not read", "11.origin egress to 2 pulling nodes", nil, func(r runs) { r["11.pulled"].Cluster.MetricsError = "no" }},
		{"a hop adds 2.5 ms", "11.p99 added per hop", nil, func(r runs) { r["11.hops"].LatencyByAddr[1].P99US = 3100 }},
		{"hops damaged", "11.integrity, 0 and 1 hop", nil, func(r runs) { r["11.hops"].Lost, r["11.hops"].Gaps = 3, 1 }},
		{"pulled stream damaged", "11.integrity, pulled", nil, func(r runs) { r["11.pulled"].Gaps = 1 }},
		{"failover slower than TTL + 2 s", "11.resume after origin killed", nil, func(r runs) { r["11.pulled"].Cluster.FailoverSeconds = 3.2 }},
		{"3 nodes damaged", "11.integrity, 3 nodes", nil, func(r runs) { r["11.wide"].Corrupt = 1 }},
		{"paced CPU above 0.9× ncat's", "12.server CPU vs ncat", nil, func(r runs) { r["12.relay"].Server.CPUPerGB = 0.19 }},
		{"paced p99 above 1.2× no relay", "12.p99 latency", nil, func(r runs) { r["12.relay"].Latency.P99US = 600 }},
		{"writers cost more than a goroutine per watcher", "12.server CPU vs a goroutine per watcher", nil, func(r runs) { r["12.goroutines"].Server.CPUPerGB = 0.095 }},
		{"no run with a goroutine per watcher", "12.server CPU vs a goroutine per watcher", nil, func(r runs) { delete(r, "12.goroutines") }},
		{"paced stream damaged", "12.integrity", nil, func(r runs) { r["12.relay"].Gaps = 1 }},
		{"coalescing adds 21 ms", "12.coalesced: p99 added", nil, func(r runs) { r["12.coalesced"].Latency.P99US = 21_600 }},
		{"coalesced CPU above 0.4× ncat's", "12.coalesced: server CPU vs ncat", nil, func(r runs) { r["12.coalesced"].Server.CPUPerGB = 0.09 }},
		{"coalesced stream damaged", "12.coalesced: integrity", nil, func(r runs) { r["12.coalesced"].Corrupt = 1 }},
		{"2,000 watchers take 0.7 cores", "13.server cores", nil, func(r runs) { r["13.relay"].Server.Cores = 0.7 }},
		{"2,000 watchers' p99 above 30 ms", "13.p99 latency", nil, func(r runs) { r["13.relay"].Latency.P99US = 31_000 }},
		{"one of 2,000 evicted", "13.evicted", nil, func(r runs) { r["13.relay"].Evicted.Regular.Count = 1 }},
		{"10,000 watchers at 4.5 s/GB", "14.server CPU", nil, func(r runs) { r["4.relay"].Server.CPUPerGB = 4.5 }},
	}
	if canTellPeerGone {
		tests = append(tests,
			spoiler{"a stalled watcher kept", "6.stalled evicted", nil, func(r runs) { r["6.stalled"].Evicted.Stalled.Count = 3 }},
			spoiler{"stalled evicted late", "6.time to evict", nil, func(r runs) { r["6.stalled"].Evicted.Stalled.MaxSeconds = 3.1 }},
			spoiler{"no stalled evicted", "6.time to evict", []string{"6.stalled evicted"},
				func(r runs) { r["6.stalled"].Evicted.Stalled = EvictedKind{Of: 4} }},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := goodRuns()
			tt.spoil(r)
			got := verdicts(t, plan, r)
			for k, v := range got {
				want := good[k]
				if k == tt.metric || slices.Contains(tt.also, k) {
					want = Fail
				}
				if v != want {
					t.Errorf("%s: %q, want %q", k, v, want)
				}
			}
		})
	}
}

// TestNcatScenarioWithoutScenario1 checks that the reference scenario
// reports what it can when scenario 1 did not run.
func TestNcatScenarioWithoutScenario1(t *testing.T) {
	o, err := SuiteOptions{ServerCmd: []string{"fstream", "serve"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := goodRuns()
	delete(r, "1.relay")
	delete(r, "1.baseline")
	ms := o.plan()[8].eval(r)
	if len(ms) == 0 || ms[0].Name != "ncat egress vs loopback" || ms[0].Ratio != 0 {
		t.Fatalf("metrics %+v, want ncat's egress without a ratio first", ms)
	}
	for _, m := range ms {
		if m.Verdict != "" || strings.HasPrefix(m.Name, "fstream") {
			t.Errorf("metric %+v: want a reported ncat number", m)
		}
	}
}

// TestTLSScenarioWithoutScenario1 checks that the TLS scenario, with no
// plain run to compare with, reports its numbers and fails its target.
func TestTLSScenarioWithoutScenario1(t *testing.T) {
	o, err := SuiteOptions{ServerCmd: []string{"fstream", "serve"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := goodRuns()
	delete(r, "1.relay")
	ms := o.overTLS().eval(r)
	if len(ms) != 4 || ms[0].Ratio != 0 || ms[0].Text != "8.00 Gbit/s" {
		t.Fatalf("metrics %+v, want egress without a ratio first", ms)
	}
	if cpu := ms[1]; cpu.Verdict != Fail || cpu.Text != "0.250 s/GB (0.50 cores)" {
		t.Errorf("CPU without a plain run: %+v, want its value and FAIL", cpu)
	}
}

// TestPacedWithoutNcat: without an ncat run the paced scenario reports
// its CPU against nobody's and judges the rest.
func TestPacedWithoutNcat(t *testing.T) {
	o, err := SuiteOptions{ServerCmd: []string{"fstream", "serve"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := goodRuns()
	delete(r, "12.ncat")
	got := map[string]Metric{}
	for _, m := range o.paced().eval(r) {
		got[m.Name] = m
	}
	for _, name := range []string{"server CPU vs ncat", "coalesced: server CPU vs ncat"} {
		if m := got[name]; m.Verdict != "" || m.Ratio != 0 || m.Text == "" {
			t.Errorf("%s without ncat: %+v, want reported, not judged", name, m)
		}
	}
	if _, ok := got["ncat p99 latency"]; ok {
		t.Error("an ncat p99 row without an ncat run")
	}
	if got["p99 latency"].Verdict != Pass || got["coalesced: p99 added"].Verdict != Pass {
		t.Errorf("the relay's own targets: %+v", got)
	}
}

// TestBitrateRunsNcat: ncat runs where it can hold the watchers, and not
// at 2,000 (select(2)).
func TestBitrateRunsNcat(t *testing.T) {
	if _, err := exec.LookPath(DefaultNcat); err != nil {
		t.Skip("ncat not installed")
	}
	o, err := SuiteOptions{ServerCmd: []string{"fstream", "serve"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sc   scenario
		ncat bool
	}{{o.paced(), true}, {o.pacedMany(), false}} {
		has := slices.ContainsFunc(tt.sc.runs, func(r runSpec) bool { return r.ncat })
		if has != tt.ncat {
			t.Errorf("scenario %d: ncat run %v, want %v", tt.sc.id, has, tt.ncat)
		}
	}
}

func TestNcatMissing(t *testing.T) {
	o, err := SuiteOptions{ServerCmd: []string{"fstream", "serve"}, Ncat: "fstream-test-no-such-ncat"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	plan := o.plan()
	i := slices.IndexFunc(plan, func(sc scenario) bool { return sc.id == 9 })
	if i < 0 {
		t.Fatal("no scenario 9 in the plan")
	}
	if sc := plan[i]; sc.skip != "skipped: ncat not installed (apt-get install ncat)" {
		t.Errorf("scenario %d skip %q", sc.id, sc.skip)
	}
}

func TestSuiteOptionsInvalid(t *testing.T) {
	tests := []struct {
		name string
		opts SuiteOptions
	}{
		{"no server", SuiteOptions{}},
		{"negative count", SuiteOptions{ServerCmd: []string{"x"}, Counts: SuiteCounts{Crowd: -1}}},
		{"negative duration", SuiteOptions{ServerCmd: []string{"x"}, Duration: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := RunSuite(t.Context(), tt.opts); !errors.Is(err, ErrBadOptions) {
				t.Errorf("RunSuite: %v, want ErrBadOptions", err)
			}
		})
	}
}

// tinyCounts keep a whole suite run to a few seconds.
var tinyCounts = SuiteCounts{Wide: 2, Latency: 2, Crowd: 5, Channels: 2, PerChannel: 2, Stalled: 1, Regular: 1, Handshakes: 10,
	Paced: 2, PacedMany: 2}

// TestRunSuite runs the whole suite, tiny, against the fake server: every
// scenario has its row. The fake server knows none of the flags of the
// slow-watcher scenario, so that one fails to start, which shows that a
// scenario's failure is reported in its row and the suite goes on. The
// ncat scenario runs if ncat is installed, and is skipped otherwise; the
// cluster scenario is skipped (the fake server is no cluster node: the
// cmd/suite test runs it against the real fstream).
func TestRunSuite(t *testing.T) {
	cmd := fakeServerCmd(t)
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	res, err := RunSuite(ctx, SuiteOptions{ServerCmd: cmd, Duration: 200 * time.Millisecond, Counts: tinyCounts, Progress: &progress,
		NatsServer: "/nonexistent/nats-server"})
	if err != nil {
		t.Fatalf("RunSuite: %v", err)
	}
	var table strings.Builder
	if err := res.WriteTable(&table); err != nil {
		t.Fatalf("WriteTable: %v", err)
	}
	t.Logf("table:\n%s", table.String())
	if res.Interrupted {
		t.Fatalf("interrupted")
	}

	_, ncatErr := exec.LookPath(DefaultNcat)
	if len(res.Scenarios) != 14 {
		t.Fatalf("%d scenarios, want 14", len(res.Scenarios))
	}
	for i, sc := range res.Scenarios {
		if sc.ID != i+1 {
			t.Errorf("scenario %d has id %d", i+1, sc.ID)
		}
		switch {
		case sc.ID == 7:
			if !strings.Contains(sc.Error, ErrServerStart.Error()) || len(sc.Metrics) != 0 {
				t.Errorf("scenario 7: error %q, %d metrics; want a failed start", sc.Error, len(sc.Metrics))
			}
		case sc.ID == 11:
			if !strings.HasPrefix(sc.Skipped, "skipped: nats-server not found") {
				t.Errorf("scenario 11 without nats-server: skipped %q", sc.Skipped)
			}
		case sc.ID == 14: // judges scenario 4's run
			if sc.Error != "" || sc.Skipped != "" || len(sc.Metrics) == 0 || sc.Metrics[0].Missing {
				t.Errorf("scenario 14: error %q, skipped %q, metrics %+v", sc.Error, sc.Skipped, sc.Metrics)
			}
		case sc.ID == 9 && ncatErr != nil:
			if !strings.HasPrefix(sc.Skipped, "skipped: ncat not installed") {
				t.Errorf("scenario 9 without ncat: skipped %q", sc.Skipped)
			}
		default:
			if sc.Error != "" || sc.Skipped != "" || len(sc.Metrics) == 0 {
				t.Errorf("scenario %d: error %q, skipped %q, %d metrics", sc.ID, sc.Error, sc.Skipped, len(sc.Metrics))
			}
			if len(sc.Runs) == 0 {
				t.Errorf("scenario %d keeps no run results", sc.ID)
			}
		}
		for _, m := range sc.Metrics {
			if m.Target != nil && m.Verdict != Pass && m.Verdict != Fail {
				t.Errorf("scenario %d %s: verdict %q", sc.ID, m.Name, m.Verdict)
			}
			if m.Text == "" {
				t.Errorf("scenario %d %s: no text", sc.ID, m.Name)
			}
		}
		// Every scenario starts a row with its number and title.
		if !regexp.MustCompile(`\n` + strconv.Itoa(sc.ID) + ` {2,}` + regexp.QuoteMeta(sc.Title)).MatchString(table.String()) {
			t.Errorf("table has no row for scenario %d %q", sc.ID, sc.Title)
		}
	}
	for _, want := range []string{"machine  ", "ERROR", "PASS", "targets  ", "1 scenario failed to run", "\nnotes\n"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	// The fake server is a correct relay: nothing lost anywhere.
	for _, sc := range res.Scenarios {
		for _, m := range sc.Metrics {
			if strings.HasPrefix(m.Name, "integrity") && m.Value != 0 {
				t.Errorf("scenario %d: %s", sc.ID, m.Text)
			}
		}
	}
	if !strings.Contains(progress.String(), "suite 1/") {
		t.Errorf("progress %q, want a line per run", progress.String())
	}

	var js bytes.Buffer
	if err := res.WriteJSON(&js); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	var back SuiteResult
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Scenarios) != 14 {
		t.Errorf("JSON round trip: %v, %d scenarios", err, len(back.Scenarios))
	}
}

// TestRunSuiteInterrupted cancels the suite during its first run: it
// stops cleanly, says so, and leaves the rest not run.
func TestRunSuiteInterrupted(t *testing.T) {
	cmd := fakeServerCmd(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	res, err := RunSuite(ctx, SuiteOptions{ServerCmd: cmd, Duration: time.Minute, Counts: tinyCounts})
	if err != nil {
		t.Fatalf("RunSuite: %v", err)
	}
	if !res.Interrupted || len(res.Scenarios) != 14 {
		t.Fatalf("interrupted %v with %d scenarios", res.Interrupted, len(res.Scenarios))
	}
	for _, sc := range res.Scenarios[1:] {
		if sc.Skipped != "not run: interrupted" {
			t.Errorf("scenario %d: skipped %q, error %q", sc.ID, sc.Skipped, sc.Error)
		}
	}
	var table strings.Builder
	if err := res.WriteTable(&table); err != nil || !strings.Contains(table.String(), "(interrupted)") {
		t.Errorf("WriteTable: %v\n%s", err, table.String())
	}
}

// TestSuiteTableSkipped renders fixed results: a skipped scenario, an
// error cut to one line with the whole of it in the notes, a verdict.
func TestSuiteTableSkipped(t *testing.T) {
	res := &SuiteResult{
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), DurationSeconds: 5, Seconds: 80,
		Machine: Machine{CPU: "Test CPU", Cores: 2, Kernel: "Linux 6.1", Go: "go1.26 linux/amd64"},
		Scenarios: []ScenarioResult{
			{ID: 1, Title: "one", Metrics: finish(measured("egress", UnitBitRate, 1e9).vs(2e9, "").wantRatio(AtLeast, 0.45))},
			{ID: 2, Title: "two", Error: "relay: bench: server did not start\nserver log:\nflag provided but not defined"},
			{ID: 9, Title: "ncat", Skipped: "skipped: ncat not installed (apt-get install ncat)"},
		},
	}
	var b strings.Builder
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"2025-01-02 03:04:05 UTC", "Test CPU, 2 cores; Linux 6.1; go1.26 linux/amd64", "5s measured windows",
		"8.00 Gbit/s", "16.00 Gbit/s", "0.50×", "≥ 0.45×", "PASS",
		"error: relay: bench: server did not start; serv…", "ERROR",
		" 2  error: relay: bench: server did not start\n      server log:\n      flag provided but not defined\n",
		"skipped: ncat not installed (apt-get install ncat)", "SKIP",
		"targets  1 PASS, 0 FAIL; 1 scenario failed to run, 1 skipped; 80 s in all\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for line := range strings.Lines(out) {
		if strings.HasSuffix(strings.TrimSuffix(line, "\n"), " ") {
			t.Errorf("trailing space in %q", line)
		}
	}
}

// TestSuiteErr judges fixed results with and without strict.
func TestSuiteErr(t *testing.T) {
	pass := ScenarioResult{ID: 1, Metrics: finish(measured("x", UnitCount, 0).want(Equal, 0, ""))}
	fail := ScenarioResult{ID: 2, Metrics: finish(measured("x", UnitCount, 1).want(Equal, 0, ""))}
	reported := ScenarioResult{ID: 3, Metrics: finish(measured("x", UnitCount, 1))}
	broken := ScenarioResult{ID: 4, Error: "server did not start"}
	skipped := ScenarioResult{ID: 9, Skipped: "skipped: ncat not installed"}
	tests := []struct {
		name      string
		scenarios []ScenarioResult
		strict    bool
		want      error
	}{
		{"all pass", []ScenarioResult{pass, reported, skipped}, false, nil},
		{"all pass, strict", []ScenarioResult{pass, reported, skipped}, true, nil},
		{"a FAIL", []ScenarioResult{pass, fail}, false, nil},
		{"a FAIL, strict", []ScenarioResult{pass, fail}, true, ErrTargetFailed},
		{"a scenario did not run", []ScenarioResult{pass, broken}, false, ErrScenarioFailed},
		{"both, strict", []ScenarioResult{fail, broken}, true, ErrScenarioFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&SuiteResult{Scenarios: tt.scenarios}).Err(tt.strict)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Err(%v) = %v, want %v", tt.strict, err, tt.want)
			}
		})
	}
}
