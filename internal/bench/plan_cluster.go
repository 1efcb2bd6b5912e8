package bench

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"os/exec"
	"path/filepath"
	"time"
)

// clusterNodes is the cluster scenario's node count: an origin and two
// pulling nodes.
const clusterNodes = 3

// hopLimit is the target for the p99 latency one hop adds.
const hopLimit = 2000 // µs

// ClusterStats are what the cluster scenario measures beside its runs.
type ClusterStats struct {
	// OriginPullBytes and OriginIngestBytes are the origin's pull bytes
	// out and bytes in over the window of the run "pulled", from its
	// /metrics; PulledNodes is how many nodes pulled.
	OriginPullBytes   float64 `json:"origin_pull_bytes"`
	OriginIngestBytes float64 `json:"origin_ingest_bytes"`
	PulledNodes       int     `json:"pulled_nodes"`
	// MetricsError says why the origin's counters were not read.
	MetricsError string `json:"metrics_error,omitempty"`
	// ColdPullUS are the times from a watcher's dial on a node that did not
	// pull the channel to its first byte; LocalUS the same on the origin.
	ColdPullUS []float64 `json:"cold_pull_us"`
	LocalUS    []float64 `json:"local_us"`
	// FailoverSeconds is the time from killing the origin to the new
	// stream at a watcher on a third node.
	FailoverSeconds float64 `json:"failover_s"`
}

// lookNats finds the nats-server binary: name (or path) on PATH, then,
// for the default name, in $GOPATH/bin.
func lookNats(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil || name != DefaultNatsServer {
		return p, err
	}
	return exec.LookPath(filepath.Join(build.Default.GOPATH, "bin", name))
}

func (o *SuiteOptions) cluster() scenario {
	natsBin, err := lookNats(o.NatsServer)
	skip := ""
	if err != nil {
		skip = "skipped: nats-server not found (go install github.com/nats-io/nats-server/v2@v2.15.3)"
	}
	sc := scenario{
		id:    11,
		title: fmt.Sprintf("cluster, %d nodes", clusterNodes),
		skip:  skip,
		steps: []string{"watchers on the origin and a pulling node", "on 2 pulling nodes", "full speed on 3 nodes", "cold pulls", "failover"},
		notes: []string{fmt.Sprintf("%d child servers joined through a nats-server child (JetStream, TTL %v, linger 0); "+
			"broadcasts on node n0; all processes share the machine's cores", clusterNodes, clusterTTL),
			"added per hop: in one run (\"hops\") half the watchers on n0, half on n1, which pulls from n0: p99 (and p50) " +
				"of those on n1 minus that of those on n0, so that both halves see the same machine; a hop is one more " +
				"process that must get a core before it passes a record on: on 2 busy shared cores the p99 is that wait, " +
				"not the relay's work; the in-process BenchmarkHopLatency (one stream, no other load) resolves a hop",
			"3 nodes vs 1: the same watchers at full speed spread over n0..n2 vs scenario 1 on one server: on one machine the " +
				"nodes share its cores, so this shows the pulls' cost, not a cluster's capacity",
			"failover: n0 (origin) killed with SIGKILL while a watcher on n2 pulls through it, a new broadcaster on n1 at once; " +
				"time until that watcher reads the new stream"},
	}
	sc.custom = func(ctx context.Context) (map[string]*Result, error) {
		return o.runCluster(ctx, natsBin)
	}
	sc.eval = evalCluster
	return sc
}

// evalCluster judges the cluster scenario's runs.
func evalCluster(r runs) []Metric {
	hops, pulled, wide := r[key(11, "hops")], r[key(11, "pulled")], r[key(11, "wide")]
	if hops == nil || pulled == nil || wide == nil || pulled.Cluster == nil || len(hops.LatencyByAddr) != 2 {
		return finish(missing("cluster runs", UnitCount, "not measured").want(Equal, 0, "all"))
	}
	pr := pulled.Cluster
	origin, hop := hops.LatencyByAddr[0], hops.LatencyByAddr[1]
	egress := missing(fmt.Sprintf("origin egress to %d pulling nodes", pr.PulledNodes), UnitBitRate, pr.MetricsError)
	if pr.MetricsError == "" {
		w := pulled.WindowSeconds
		egress = measured(egress.Name, UnitBitRate, pr.OriginPullBytes/w).vs(float64(pr.PulledNodes)*pr.OriginIngestBytes/w, "")
	}
	egress.Target = &Target{Op: Within, Limit: 0.01, OfRatio: true, Text: "1.00× ± 1 %"}
	cold50, cold99 := quantiles(pr.ColdPullUS)
	loc50, loc99 := quantiles(pr.LocalUS)
	ms := []Metric{
		egress,
		measured("p99 latency, 1 hop vs 0", UnitMicros, hop.P99US).vs(origin.P99US, ""),
		measured("p99 added per hop", UnitMicros, hop.P99US-origin.P99US).want(AtMost, hopLimit, ""),
		measured("p50 added per hop", UnitMicros, hop.P50US-origin.P50US),
		integrity("integrity, 0 and 1 hop", hops),
		integrity("integrity, pulled", pulled),
		measured("cold pull, first byte p50", UnitMicros, cold50).vs(loc50, ""),
		measured("cold pull, first byte p99", UnitMicros, cold99).vs(loc99, ""),
		measured("resume after origin killed", UnitSeconds, pr.FailoverSeconds).
			want(AtMost, (clusterTTL + 2*time.Second).Seconds(), fmt.Sprintf("≤ TTL + 2 s (%v)", clusterTTL+2*time.Second)),
	}
	wideEgress := measured("3 nodes vs 1, full speed", UnitBitRate, wide.Egress.BytesPerSec)
	if one := r[key(1, "relay")]; one != nil {
		wideEgress = wideEgress.vs(one.Egress.BytesPerSec, "")
	}
	return finish(append(ms, wideEgress, integrity("integrity, 3 nodes", wide))...)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// runCluster starts the cluster, makes its runs and probes, and stops it.
func (o *SuiteOptions) runCluster(ctx context.Context, natsBin string) (rs map[string]*Result, err error) {
	cl, err := startCluster(ctx, natsBin, o.ServerCmd, o.ServerArgs, clusterNodes)
	if err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), subprocessStopTimeout)
		defer cancel()
		err = errors.Join(err, cl.stop(sctx))
	}()
	c, d := o.Counts, o.Duration
	at := Options{Watchers: c.Latency, Size: tsSize, Rate: latencyRate, Duration: d}
	pulled := at
	pr := &ClusterStats{PulledNodes: clusterNodes - 1}
	var begin [2]float64
	pulled.OnWindow = func(end bool) { pr.readWindow(ctx, cl.nodes[0], end, &begin) }
	rs = map[string]*Result{}
	for _, run := range []struct {
		name string
		opts Options
	}{
		{"hops", cl.against(at, 0, 1)},
		{"pulled", cl.against(pulled, 1, 2)},
		{"wide", cl.against(Options{Watchers: c.Wide, Duration: d}, 0, 1, 2)},
	} {
		r, err := Run(ctx, run.opts)
		if err != nil {
			return rs, fmt.Errorf("%s: %w", run.name, withHint(err))
		}
		rs[run.name] = r
	}
	rs["pulled"].Cluster = pr
	cold, local, err := cl.coldPulls(ctx, c.ColdPulls)
	if err != nil {
		return rs, fmt.Errorf("cold pulls: %w", err)
	}
	for i := range cold {
		pr.ColdPullUS, pr.LocalUS = append(pr.ColdPullUS, us(cold[i])), append(pr.LocalUS, us(local[i]))
	}
	failover, err := cl.failover(ctx)
	if err != nil {
		return rs, fmt.Errorf("failover: %w", err)
	}
	pr.FailoverSeconds = failover.Seconds()
	return rs, nil
}

// readWindow reads the origin's pull bytes out and bytes in at the start
// of the window into begin, and at its end their differences into pr.
func (pr *ClusterStats) readWindow(ctx context.Context, origin *clusterNode, end bool, begin *[2]float64) {
	out, err1 := origin.metric(ctx, "fstream_cluster_pull_bytes_total", "direction", "out")
	in, err2 := origin.metric(ctx, "fstream_received_bytes_total")
	if err := errors.Join(err1, err2); err != nil {
		pr.MetricsError = err.Error()
		return
	}
	if !end {
		*begin = [2]float64{out, in}
		return
	}
	pr.OriginPullBytes, pr.OriginIngestBytes = out-begin[0], in-begin[1]
}
