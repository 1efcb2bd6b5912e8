package httpapi

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fstream/fstream/internal/server"
)

// queueBuckets are the upper bounds of the watcher queue-depth histogram, in
// bytes: 4 KiB to 16 MiB (the default channel buffer) by factors of four.
var queueBuckets = prometheus.ExponentialBuckets(4<<10, 4, 7)

// httpMetrics are the metrics the HTTP side keeps itself (the server does
// not see HTTP requests that never join).
type httpMetrics struct {
	watchRequests *prometheus.CounterVec // by status code
	watchers      prometheus.Gauge       // HTTP watchers streaming now
	hlsRequests   *prometheus.CounterVec // by kind (playlist, segment) and status code
	hlsBytes      prometheus.Counter     // segment body bytes sent
}

// newRegistry builds the API's private registry: the server collector,
// the HTTP metrics, build info and the Go and process collectors.
func newRegistry(a *API, version string) (*prometheus.Registry, *httpMetrics, error) {
	if version == "" {
		version = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	m := &httpMetrics{
		watchRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fstream_http_watch_requests_total",
			Help: "HTTP watch requests by response status code (200: joined).",
		}, []string{"code"}),
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fstream_http_watchers",
			Help: "Watchers streaming over HTTP now (also counted in fstream_connections).",
		}),
		hlsRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fstream_hls_requests_total",
			Help: "HLS requests by kind (playlist, segment) and response status code.",
		}, []string{"kind", "code"}),
		hlsBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fstream_hls_segment_bytes_total",
			Help: "HLS segment bytes sent (bodies of 200 and 206 answers).",
		}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "fstream_build_info",
		Help:        "Always 1; labelled with the fstream version and the Go version that built it.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	reg := prometheus.NewRegistry()
	if a.rec != nil {
		if err := reg.Register(newRecordCollector(a.rec)); err != nil {
			return nil, nil, err
		}
	}
	for _, c := range []prometheus.Collector{
		newServerCollector(a),
		newClusterCollector(a.srv),
		m.watchRequests,
		m.watchers,
		m.hlsRequests,
		m.hlsBytes,
		newHLSCollector(a),
		build,
		collectors.NewBuildInfoCollector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, nil, err
		}
	}
	return reg, m, nil
}

// serverCollector reads the server's counters and the hub's channels at
// scrape time and reports them as constant metrics, so that the server
// needs no knowledge of Prometheus.
type serverCollector struct {
	srv *server.Server

	connections  *prometheus.Desc
	tcpConns     *prometheus.Desc
	handshakes   *prometheus.Desc
	bytesIn      *prometheus.Desc
	bytesOut     *prometheus.Desc
	evictions    *prometheus.Desc
	skips        *prometheus.Desc
	skippedBytes *prometheus.Desc
	directBytes  *prometheus.Desc
	handBacks    *prometheus.Desc
	fallbacks    *prometheus.Desc
	channels     *prometheus.Desc
	chanLive     *prometheus.Desc
	chanWatchers *prometheus.Desc
	chanBytesIn  *prometheus.Desc
	chanBytesOut *prometheus.Desc
	chanBuffered *prometheus.Desc
	queueDepth   *prometheus.Desc
}

func newServerCollector(a *API) *serverCollector {
	chanLabels := []string{"user", "channel"}
	return &serverCollector{
		srv: a.srv,
		connections: prometheus.NewDesc("fstream_connections",
			"Established connections by role (broadcaster, watcher); watchers over TCP and HTTP.", []string{"role"}, nil),
		tcpConns: prometheus.NewDesc("fstream_tcp_connections",
			"Open TCP connections on the relay listener in any state, handshaking included.", nil, nil),
		handshakes: prometheus.NewDesc("fstream_handshakes_total",
			`Handshakes by result ("ok", "incomplete", "refused") and, when refused, the reason code.`, []string{"result", "reason"}, nil),
		bytesIn: prometheus.NewDesc("fstream_received_bytes_total",
			"Bytes received from broadcasters.", nil, nil),
		bytesOut: prometheus.NewDesc("fstream_sent_bytes_total",
			"Bytes written to watchers.", nil, nil),
		evictions: prometheus.NewDesc("fstream_evictions_total",
			"Broadcasters and watchers the hub ended, by reason (stalled, lagging, taken-over, shutdown, kicked).", []string{"reason"}, nil),
		skips: prometheus.NewDesc("fstream_skips_total",
			"Times a lagging media watcher was moved forward to a newer keyframe instead of being evicted.", nil, nil),
		skippedBytes: prometheus.NewDesc("fstream_skipped_bytes_total",
			"Bytes lagging media watchers skipped.", nil, nil),
		directBytes: prometheus.NewDesc("fstream_direct_sent_bytes_total",
			"Bytes of fstream_sent_bytes_total that a channel's writers wrote to watchers whose sockets had room (--writers).", nil, nil),
		handBacks: prometheus.NewDesc("fstream_writer_handbacks_total",
			"Times a channel's writer handed a watcher back to its own goroutine: its socket was full, or 64 KiB or more came at once.", nil, nil),
		fallbacks: prometheus.NewDesc("fstream_join_fallbacks_total",
			"Watchers that found no keyframe to start at within --join-timeout and started at a fallback point.", nil, nil),
		channels: prometheus.NewDesc("fstream_channels",
			"Channels known to the hub (live or in their grace period).", nil, nil),
		chanLive: prometheus.NewDesc("fstream_channel_live",
			"1 while the channel has a broadcaster, 0 in its grace period.", chanLabels, nil),
		chanWatchers: prometheus.NewDesc("fstream_channel_watchers",
			"Watchers of the channel.", chanLabels, nil),
		chanBytesIn: prometheus.NewDesc("fstream_channel_received_bytes_total",
			"Bytes the channel received (starts again when the channel does).", chanLabels, nil),
		chanBytesOut: prometheus.NewDesc("fstream_channel_sent_bytes_total",
			"Bytes the channel wrote to its watchers (starts again when the channel does).", chanLabels, nil),
		chanBuffered: prometheus.NewDesc("fstream_channel_buffered_bytes",
			"Bytes the channel retains for its slowest watcher.", chanLabels, nil),
		queueDepth: prometheus.NewDesc("fstream_watcher_queue_bytes",
			"Bytes each watcher has available but not yet written, over all watchers, at scrape time.", nil, nil),
	}
}

// Describe sends the collector's descriptors.
func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.connections, c.tcpConns, c.handshakes, c.bytesIn, c.bytesOut, c.evictions, c.skips, c.skippedBytes, c.directBytes, c.handBacks,
		c.fallbacks, c.channels, c.chanLive, c.chanWatchers, c.chanBytesIn, c.chanBytesOut, c.chanBuffered, c.queueDepth,
	} {
		ch <- d
	}
}

// Collect reads the server's counters and sends them as constant metrics.
func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	cnt := c.srv.Counters()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(c.connections, float64(cnt.Broadcasters), "broadcaster")
	gauge(c.connections, float64(cnt.Watchers), "watcher")
	gauge(c.tcpConns, float64(cnt.Connections))
	for result, n := range cnt.Handshakes {
		switch result {
		case server.HandshakeOK, server.HandshakeIncomplete:
			counter(c.handshakes, float64(n), result, "")
		default:
			counter(c.handshakes, float64(n), "refused", result)
		}
	}
	counter(c.bytesIn, float64(cnt.Hub.BytesIn))
	counter(c.bytesOut, float64(cnt.Hub.BytesOut))
	for reason, n := range cnt.Hub.Evictions {
		counter(c.evictions, float64(n), string(reason))
	}
	counter(c.skips, float64(cnt.Hub.Skips))
	counter(c.skippedBytes, float64(cnt.Hub.SkippedBytes))
	counter(c.directBytes, float64(cnt.Hub.DirectBytes))
	counter(c.handBacks, float64(cnt.Hub.HandBacks))
	counter(c.fallbacks, float64(cnt.Hub.JoinFallbacks))

	chans := c.srv.Hub().Channels()
	gauge(c.channels, float64(len(chans)))
	var queued []int64
	for _, chn := range chans {
		k, st := chn.Key(), chn.Stats()
		live := 0.0
		if st.Live {
			live = 1
		}
		gauge(c.chanLive, live, k.User, k.Channel)
		gauge(c.chanWatchers, float64(st.Watchers), k.User, k.Channel)
		counter(c.chanBytesIn, float64(st.BytesIn), k.User, k.Channel)
		counter(c.chanBytesOut, float64(st.BytesOut), k.User, k.Channel)
		gauge(c.chanBuffered, float64(st.Buffered), k.User, k.Channel)
		queued = chn.Queued(queued)
	}
	count, sum, buckets := queueHistogram(queued)
	ch <- prometheus.MustNewConstHistogram(c.queueDepth, count, sum, buckets)
}

// queueHistogram buckets queue depths into cumulative counts.
func queueHistogram(queued []int64) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(queueBuckets))
	for _, b := range queueBuckets {
		buckets[b] = 0
	}
	for _, q := range queued {
		sum += float64(q)
		for _, b := range queueBuckets {
			if float64(q) <= b {
				buckets[b]++
			}
		}
	}
	return uint64(len(queued)), sum, buckets
}
