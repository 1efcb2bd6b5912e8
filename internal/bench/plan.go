package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
)

// runs holds the suite's results so far by "scenario.run" key; a failed
// run has none.
type runs map[string]*Result

// runSpec is one run of a scenario.
type runSpec struct {
	name string // "relay", "baseline", ...; the key is "ID.name"
	what string // for the progress line
	opts Options
	ncat bool // drive an ncat --broker started for this run
}

// scenario is one line of the target list: its runs and how to judge them.
type scenario struct {
	id    int
	title string
	runs  []runSpec
	notes []string
	skip  string // why it cannot run here, or ""
	eval  func(r runs) []Metric
	// custom, if set, runs the scenario instead of runs (which is then
	// empty): it orchestrates processes of its own and returns its runs by
	// name; steps name its parts for the progress line.
	custom func(ctx context.Context) (map[string]*Result, error)
	steps  []string
}

// key is the runs key of run name of scenario id.
func key(id int, name string) string { return strconv.Itoa(id) + "." + name }

// plan returns the scenarios, sized and timed by o.
func (o *SuiteOptions) plan() []scenario {
	return []scenario{o.wide(), o.single(), o.latency(), o.crowd(), o.channels(),
		o.stalled(), o.slowWatcher(), o.handshakes(), o.ncatBroker(), o.overTLS(), o.cluster(),
		o.paced(), o.pacedMany(), o.crowdCPU()}
}

// relay completes opts for a run against a child server, with extra flags
// for the server.
func (o *SuiteOptions) relay(opts Options, extra ...string) Options {
	opts.ServerCmd = o.ServerCmd
	opts.ServerArgs = append(slices.Clone(o.ServerArgs), extra...)
	if opts.Duration == 0 {
		opts.Duration = o.Duration
	}
	return opts
}

// baseline completes opts for a run without a relay.
func (o *SuiteOptions) baseline(opts Options) Options {
	opts.Baseline = true
	opts.Duration = o.Duration
	return opts
}

// pair is a scenario's two runs: the relay and the baseline of the same
// shape.
func (o *SuiteOptions) pair(opts Options) []runSpec {
	return []runSpec{
		{name: "relay", what: "relay", opts: o.relay(opts)},
		{name: "baseline", what: "baseline, no relay", opts: o.baseline(opts)},
	}
}

func (o *SuiteOptions) wide() scenario {
	return scenario{
		id:    1,
		title: fmt.Sprintf("%d watchers, full speed", o.Counts.Wide),
		runs:  o.pair(Options{Watchers: o.Counts.Wide}),
		notes: []string{fmt.Sprintf("writers send up to %d KiB per write, as the relay does to each watcher, so that the baseline "+
			"makes the relay's system calls and compares its copies", RelayBatch>>10),
			"egress per CPU-second counts the bench's and the server's processor time: on a busy machine a rate depends on the " +
				"share of the cores a run gets (two processes get more than one), that ratio does not"},
		eval: func(r runs) []Metric {
			rel, base := r[key(1, "relay")], r[key(1, "baseline")]
			return finish(
				measured("aggregate egress", UnitBitRate, rel.Egress.BytesPerSec).vs(base.Egress.BytesPerSec, "").wantRatio(AtLeast, 0.8),
				perCPU("egress per CPU-second", rel).vs(perCPU("", base).Value, ""),
				cpuPerGB(rel),
				integrity("integrity", rel),
			)
		},
	}
}

func (o *SuiteOptions) single() scenario {
	return scenario{
		id:    2,
		title: "1 watcher, full speed",
		runs:  o.pair(Options{Watchers: 1}),
		eval: func(r runs) []Metric {
			rel, base := r[key(2, "relay")], r[key(2, "baseline")]
			return finish(
				measured("egress", UnitBitRate, rel.Egress.BytesPerSec).vs(base.Egress.BytesPerSec, "").wantRatio(AtLeast, 0.45),
				perCPU("egress per CPU-second", rel).vs(perCPU("", base).Value, ""),
				cpuPerGB(rel),
				integrity("integrity", rel),
			)
		},
	}
}

func (o *SuiteOptions) latency() scenario {
	return scenario{
		id:    3,
		title: fmt.Sprintf("latency, %d × 5 Mbit/s", o.Counts.Latency),
		runs:  o.pair(Options{Watchers: o.Counts.Latency, Size: tsSize, Rate: latencyRate}),
		eval: func(r runs) []Metric {
			rel, base := r[key(3, "relay")], r[key(3, "baseline")]
			return finish(
				measured("p99 latency", UnitMicros, rel.Latency.P99US).vs(base.Latency.P99US, "").wantRatio(AtMost, 1.5),
				measured("p50 latency", UnitMicros, rel.Latency.P50US).vs(base.Latency.P50US, ""),
				integrity("integrity", rel),
			)
		},
	}
}

func (o *SuiteOptions) crowd() scenario {
	return scenario{
		id:    4,
		title: fmt.Sprintf("%s watchers × 64 kbit/s", groupDigits(int64(o.Counts.Crowd))),
		runs: []runSpec{
			{name: "relay", what: "relay, one channel", opts: o.relay(Options{Watchers: o.Counts.Crowd, Size: tsSize, Rate: crowdRate})},
		},
		eval: func(r runs) []Metric {
			rel := r[key(4, "relay")]
			return finish(
				integrity("integrity", rel),
				evicted("evicted", rel.Evicted.Total()),
				rssPerWatcher(rel).want(AtMost, 16<<10, ""),
				cpuPerGB(rel),
				measured("connect time", UnitSeconds, rel.ConnectSeconds).
					shown("%.2f s for %s", rel.ConnectSeconds, plural(rel.Channels*rel.Watchers, "watcher")),
			)
		},
	}
}

func (o *SuiteOptions) channels() scenario {
	c := o.Counts
	return scenario{
		id:    5,
		title: fmt.Sprintf("%d channels × %d watchers × 1 Mbit/s", c.Channels, c.PerChannel),
		runs: []runSpec{
			{name: "relay", what: "relay", opts: o.relay(Options{Channels: c.Channels, Watchers: c.PerChannel, Size: tsSize, Rate: channelRate})},
		},
		eval: func(r runs) []Metric {
			rel := r[key(5, "relay")]
			perChannel := missing("RSS per channel", UnitBytes, "not measured")
			if s := rel.Server; s != nil {
				perChannel = measured("RSS per channel", UnitBytes, s.RSSPerChannel)
			}
			return finish(
				integrity("integrity", rel),
				evicted("evicted", rel.Evicted.Total()),
				perChannel,
				rssPerWatcher(rel),
				cpuPerGB(rel),
			)
		},
	}
}

func (o *SuiteOptions) stalled() scenario {
	c, d := o.Counts, o.Duration
	stallLimit := o.StallTimeout + stallSlack
	return scenario{
		id:    6,
		title: fmt.Sprintf("%d watchers + %d stalled", c.Wide, c.Stalled),
		runs: []runSpec{
			// Rates are per second, so the windows may differ: the one
			// with stalled watchers is long enough that the time the
			// broadcaster is held back (once, about a stall timeout)
			// weighs about as little as in the 30 s run.
			{name: "stalled", what: "relay with stalled watchers", opts: o.relay(Options{Watchers: c.Wide, Stalled: c.Stalled, Duration: 3 * d})},
			{name: "clean", what: "relay without them", opts: o.relay(Options{Watchers: c.Wide})},
		},
		notes: []string{
			fmt.Sprintf("the run with stalled watchers measures %v (3× the suite duration), the one without %v: the broadcaster is held back "+
				"for about one stall timeout before the stalled watchers go, which costs the others about that share of the window "+
				"(the target is stated for a 30 s run)", 3*d, d),
			fmt.Sprintf("a stalled watcher is due %v (the stall timeout) after its socket and the channel buffer fill up; "+
				"the target allows %v more from its handshake for that filling and for the bench's polling", o.StallTimeout, stallSlack),
		},
		eval: func(r runs) []Metric {
			st, clean := r[key(6, "stalled")], r[key(6, "clean")]
			ms := []Metric{
				measured("regular egress vs none stalled", UnitBitRate, st.RegularEgress.BytesPerSec).
					vs(clean.RegularEgress.BytesPerSec, "").wantRatio(AtLeast, 0.9),
				integrity("integrity", st),
			}
			ms = append(ms, stalledEvictions(st.Evicted.Stalled, stallLimit)...)
			peak := missing("server peak RSS vs none stalled", UnitBytes, "not measured")
			if st.Server != nil && clean.Server != nil {
				peak = measured(peak.Name, UnitBytes, float64(st.Server.PeakRSS)).vs(float64(clean.Server.PeakRSS), "")
			}
			return finish(append(ms, peak)...)
		},
	}
}

func (o *SuiteOptions) slowWatcher() scenario {
	c, d := o.Counts, o.Duration
	maxLagArg := "--max-lag=" + o.MaxLag.String()
	sndbufArg := "--watcher-sndbuf=" + strconv.Itoa(suiteSendBuffer)
	return scenario{
		id:    7,
		title: fmt.Sprintf("live 5 Mbit/s, 1 slow + %d", c.Regular),
		runs: []runSpec{{name: "relay", what: "relay, one watcher at half the rate",
			opts: o.relay(Options{Watchers: c.Regular, Slow: 1, SlowRate: liveRate / 2, Size: tsSize, Rate: liveRate, Duration: 2 * d},
				maxLagArg, sndbufArg)}},
		notes: []string{fmt.Sprintf("measured over %v (twice the suite duration); server run with %s %s: the default max-lag (10s) would not fit in the run, and under kernel "+
			"autotuning the socket buffers hold about 3 MB, some 10 s more of falling behind at half the rate before the server "+
			"sees any lag; bench records are generic data, so the server disconnects the slow watcher rather than skip", 2*d, maxLagArg, sndbufArg)},
		eval: func(r runs) []Metric {
			rel := r[key(7, "relay")]
			set := fmt.Sprintf("%s set", bytesRate(liveRate))
			slowOut := rel.Evicted.Slow
			slowText := fmt.Sprintf("%d of %d", slowOut.Count, slowOut.Of)
			if slowOut.Count > 0 {
				slowText += fmt.Sprintf(", after %.2f s", slowOut.MaxSeconds)
			}
			return finish(
				measured("broadcaster ingest", UnitByteRate, rel.Ingest.BytesPerSec).vs(liveRate, set).wantRatio(AtLeast, 0.95),
				measured("slowest regular watcher", UnitByteRate, rel.PerWatcher.Min).vs(liveRate, set).wantRatio(AtLeast, 0.95),
				integrity("integrity (regular)", rel),
				evicted("regular evicted", rel.Evicted.Regular.Count),
				measured("slow watcher evicted", UnitCount, float64(slowOut.Count)).shown("%s", slowText).
					want(Equal, float64(slowOut.Of), "all, at max-lag "+o.MaxLag.String()),
			)
		},
	}
}

func (o *SuiteOptions) handshakes() scenario {
	n, d := o.Counts.Handshakes, o.Duration
	return scenario{
		id:    8,
		title: "handshakes",
		runs: []runSpec{{name: "relay", what: fmt.Sprintf("relay, %d watch handshakes", n),
			opts: o.relay(Options{Watchers: 1, Size: tsSize, Rate: channelRate, Duration: d / 5, Handshakes: n})}},
		notes: []string{fmt.Sprintf("watch handshakes on a live channel, %d at a time, each closed once accepted, "+
			"after a %v window", handshakeConcurrency, d/5)},
		eval: func(r runs) []Metric {
			h := r[key(8, "relay")].Handshakes
			if h == nil {
				return finish(missing("handshake rate", UnitPerSecond, "not measured"))
			}
			return finish(
				measured("handshake rate", UnitPerSecond, h.PerSecond).
					shown("%.0f/s (%d in %.2f s, %d at a time)", h.PerSecond, h.Count-h.Failed, h.Seconds, h.Concurrency),
				measured("failed handshakes", UnitCount, float64(h.Failed)).want(Equal, 0, ""),
			)
		},
	}
}

func (o *SuiteOptions) ncatBroker() scenario {
	skip := ""
	if _, err := exec.LookPath(o.Ncat); err != nil {
		skip = "skipped: ncat not installed (apt-get install ncat)"
	}
	return scenario{
		id:    9,
		title: fmt.Sprintf("ncat --broker, %d watchers", o.Counts.Wide),
		skip:  skip,
		runs: []runSpec{{name: "ncat", what: "ncat --broker, raw", ncat: true,
			opts: Options{Raw: true, Watchers: o.Counts.Wide, Duration: o.Duration}}},
		notes: []string{"a reference point, measured like scenario 1 in raw mode (no handshake); no targets"},
		eval: func(r runs) []Metric {
			nc, base, fst := r[key(9, "ncat")], r[key(1, "baseline")], r[key(1, "relay")]
			ms := []Metric{measured("ncat egress vs loopback", UnitBitRate, nc.Egress.BytesPerSec)}
			if base != nil {
				ms[0] = ms[0].vs(base.Egress.BytesPerSec, "")
			}
			if nc.Server != nil {
				ms = append(ms, measured("ncat server CPU", UnitCPUPerGB, nc.Server.CPUPerGB).
					shown("%.3f s/GB (%.2f cores)", nc.Server.CPUPerGB, nc.Server.Cores))
			}
			// ncat's slowest watcher shows whether it serves them all.
			ms = append(ms, measured("slowest ncat watcher", UnitBitRate, nc.PerWatcher.Min))
			if fst != nil {
				ms = append(ms, measured("fstream (1) egress vs ncat", UnitBitRate, fst.Egress.BytesPerSec).vs(nc.Egress.BytesPerSec, ""))
				if fst.Server != nil && nc.Server != nil {
					ms = append(ms, measured("fstream (1) CPU/GB vs ncat", UnitCPUPerGB, fst.Server.CPUPerGB).vs(nc.Server.CPUPerGB, ""))
				}
			}
			ms = append(ms, measured("integrity", UnitCount, float64(nc.Gaps+nc.Corrupt)).shown("%d gaps, %d corrupt", nc.Gaps, nc.Corrupt))
			return finish(ms...)
		},
	}
}

// tlsCPULimit is the target for the server's CPU per delivered GB over
// TLS, as a multiple of the same relay's without (scenario 1). AES-GCM
// runs at about 3 GB/s per core on the suite's machine (Go's crypto/aes
// with AES-NI: 0.3 s/GB), and Go's TLS sends each record of at most
// 16 KiB with a write of its own, 16 system calls where plain sends 256 KiB
// in one writev, which costs about as much again: TLS adds about 0.6 s/GB
// to the plain relay's 0.2-0.35 s/GB, 3 to 4 times plain. Above 4× the
// relay does something per watcher under TLS that it does not do in plain.
const tlsCPULimit = 4.0

func (o *SuiteOptions) overTLS() scenario {
	return scenario{
		id:    10,
		title: fmt.Sprintf("%d watchers over TLS", o.Counts.Wide),
		runs: []runSpec{{name: "tls", what: "relay, every client over TLS",
			opts: o.relay(Options{Watchers: o.Counts.Wide, TLS: &tls.Config{}})}},
		notes: []string{"the same load as scenario 1 with the broadcaster and every watcher over TLS (a throwaway ECDSA P-256 " +
			"certificate, TLS 1.3, AES-GCM): the server encrypts each watcher's stream separately, so its CPU per delivered GB " +
			"is what an operator with TLS on pays; compared with scenario 1's plain run of this suite; target ≤ 4× plain: " +
			"AES-GCM (about 3 GB/s per core) and a write per 16 KiB TLS record each cost about what the plain relay spends per GB"},
		eval: func(r runs) []Metric {
			tl, plain := r[key(10, "tls")], r[key(1, "relay")]
			cpu := missing("server CPU vs plain", UnitCPUPerGB, "not measured")
			if s := tl.Server; s != nil {
				cpu = measured(cpu.Name, UnitCPUPerGB, s.CPUPerGB).shown("%.3f s/GB (%.2f cores)", s.CPUPerGB, s.Cores)
			}
			egress := measured("egress vs plain", UnitBitRate, tl.Egress.BytesPerSec)
			if plain != nil {
				egress = egress.vs(plain.Egress.BytesPerSec, "")
				if plain.Server != nil {
					cpu = cpu.vs(plain.Server.CPUPerGB, "")
				}
			}
			return finish(egress, cpu.wantRatio(AtMost, tlsCPULimit), integrity("integrity", tl),
				evicted("evicted", tl.Evicted.Regular.Count))
		},
	}
}
