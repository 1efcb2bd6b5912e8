package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// scrape fetches /metrics and parses the text exposition.
func (e *env) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := e.do(t, http.MethodGet, "/metrics", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, body)
	}
	return fams
}

// metricValue returns the value of the series of name whose labels include
// the given name=value pairs; ok is false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics checks the values after a known amount of traffic.
func TestMetrics(t *testing.T) {
	e := startEnv(t, envOptions{})
	b := e.broadcast(t, "fier", "cam", "")
	e.broadcast(t, "other", "locked", "pw")
	tcpW := e.watchTCP(t, "fier", "cam", "")
	e.startHTTPWatch(t, "/watch/fier/cam?join=live", nil)
	servertest.WaitFor(t, "two watchers", func() bool { return e.srv.Watchers("fier", "cam") == 2 })

	// Refusals: a TCP watcher with the wrong password, an HTTP watcher of
	// a channel that is not live, and a connection that never handshakes.
	c := servertest.Dial(t, e.srv.Addr)
	if st := servertest.Handshake(t, c, "watch,user=other,channel=locked,channel-password=wrong"); !strings.HasPrefix(st, "error,reason=forbidden,") {
		t.Fatalf("wrong channel password: %q", st)
	}
	e.do(t, "GET", "/watch/fier/nope", nil)
	servertest.Dial(t, e.srv.Addr).Close()
	servertest.WaitFor(t, "the incomplete handshake", func() bool { return e.srv.Counters().Handshakes[server.HandshakeIncomplete] == 1 })

	const n = 100 * tsPacket
	if _, err := b.Write(tsPayload(100)); err != nil {
		t.Fatal(err)
	}
	servertest.ReadN(t, tcpW, n)
	ch := e.srv.Channel("fier", "cam")
	servertest.WaitFor(t, "both watchers served", func() bool { return ch.Stats().BytesOut == 2*n })

	fams := e.scrape(t)
	want := []struct {
		name   string
		labels []string
		v      float64
	}{
		{"fstream_received_bytes_total", nil, n},
		{"fstream_sent_bytes_total", nil, 2 * n},
		{"fstream_connections", []string{"role", "broadcaster"}, 2},
		{"fstream_connections", []string{"role", "watcher"}, 2},
		{"fstream_tcp_connections", nil, 3}, // two broadcasters, one TCP watcher
		{"fstream_handshakes_total", []string{"result", "ok"}, 4},
		{"fstream_handshakes_total", []string{"result", "incomplete"}, 1},
		{"fstream_handshakes_total", []string{"result", "refused", "reason", "forbidden"}, 1},
		{"fstream_handshakes_total", []string{"result", "refused", "reason", "unauthorized"}, 0},
		{"fstream_channels", nil, 2},
		{"fstream_channel_live", []string{"user", "fier", "channel", "cam"}, 1},
		{"fstream_channel_watchers", []string{"user", "fier", "channel", "cam"}, 2},
		{"fstream_channel_watchers", []string{"user", "other", "channel", "locked"}, 0},
		{"fstream_channel_received_bytes_total", []string{"user", "fier", "channel", "cam"}, n},
		{"fstream_channel_sent_bytes_total", []string{"user", "fier", "channel", "cam"}, 2 * n},
		{"fstream_evictions_total", []string{"reason", "kicked"}, 0},
		{"fstream_evictions_total", []string{"reason", "lagging"}, 0},
		{"fstream_skips_total", nil, 0},
		{"fstream_join_fallbacks_total", nil, 0},
		{"fstream_watcher_queue_bytes", nil, 2}, // the histogram's count: one per watcher
		{"fstream_http_watch_requests_total", []string{"code", "200"}, 1},
		{"fstream_http_watch_requests_total", []string{"code", "404"}, 1},
		{"fstream_http_watchers", nil, 1},
		{"fstream_build_info", []string{"version", "v0.0.0-test"}, 1},
	}
	for _, w := range want {
		got, ok := metricValue(fams, w.name, w.labels...)
		if !ok || got != w.v {
			t.Errorf("%s%v = %v (found %v), want %v", w.name, w.labels, got, ok, w.v)
		}
	}
	for _, name := range []string{"go_build_info", "go_goroutines", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	if h := fams["fstream_watcher_queue_bytes"].GetMetric()[0].GetHistogram(); h.GetSampleSum() != 0 || h.GetBucket()[0].GetCumulativeCount() != 2 {
		t.Errorf("queue histogram %v, want two watchers with nothing queued", h)
	}

	// Kicking is counted as an eviction.
	if !ch.Kick(0) {
		t.Fatal("nothing kicked")
	}
	servertest.WaitFor(t, "the channel to end", func() bool { return e.srv.Channel("fier", "cam") == nil })
	fams = e.scrape(t)
	if v, _ := metricValue(fams, "fstream_evictions_total", "reason", "kicked"); v != 3 {
		t.Errorf("kicked evictions %v, want 3 (broadcaster and two watchers)", v)
	}
	if _, ok := metricValue(fams, "fstream_channel_watchers", "user", "fier", "channel", "cam"); ok {
		t.Errorf("an ended channel is still reported")
	}
}

func TestQueueHistogram(t *testing.T) {
	tests := []struct {
		queued []int64
		count  uint64
		sum    float64
		le4K   uint64 // cumulative count at 4 KiB
		le16M  uint64
	}{
		{nil, 0, 0, 0, 0},
		{[]int64{0, 4096, 4097}, 3, 8193, 2, 3},
		{[]int64{1 << 30}, 1, 1 << 30, 0, 0}, // only in +Inf
	}
	for _, tt := range tests {
		count, sum, buckets := queueHistogram(tt.queued)
		if count != tt.count || sum != tt.sum || buckets[4096] != tt.le4K || buckets[16<<20] != tt.le16M {
			keys := make([]float64, 0, len(buckets))
			for k := range buckets {
				keys = append(keys, k)
			}
			sort.Float64s(keys)
			t.Errorf("queueHistogram(%v) = %d, %v, %v (bounds %v)", tt.queued, count, sum, buckets, keys)
		}
	}
	if len(queueBuckets) != 7 || queueBuckets[0] != 4096 || queueBuckets[6] != 16<<20 {
		t.Errorf("buckets %v, want 4 KiB to 16 MiB", queueBuckets)
	}
}

// TestMetricNamesLint: fstream's metric names follow Prometheus's
// conventions (promlint): counters end in _total, names end in their unit
// (fstream_received_bytes_total, not fstream_bytes_in_total).
func TestMetricNamesLint(t *testing.T) {
	e := startEnv(t, envOptions{})
	b := e.broadcast(t, "fier", "cam", "")
	servertest.MustHandshake(t, e.srv.Addr, "watch,user=fier,channel=cam")
	b.Write(tsPayload(10))
	var ours []*dto.MetricFamily
	for name, f := range e.scrape(t) {
		if strings.HasPrefix(name, "fstream_") {
			ours = append(ours, f)
		}
	}
	if len(ours) < 15 {
		t.Fatalf("only %d fstream metrics scraped", len(ours))
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	for _, f := range ours {
		if name := f.GetName(); strings.Contains(name, "bytes") && !strings.HasSuffix(name, "_bytes") && !strings.HasSuffix(name, "_bytes_total") {
			t.Errorf("%s: a byte count must end in _bytes (or _bytes_total)", name)
		}
	}
}
