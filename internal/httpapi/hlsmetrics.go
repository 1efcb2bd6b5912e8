package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// hlsCollector reports the HLS viewers and the segment store at scrape time.
type hlsCollector struct {
	a                                  *API
	viewers, channels, segments, bytes *prometheus.Desc
	evicted                            *prometheus.Desc
}

func newHLSCollector(a *API) *hlsCollector {
	return &hlsCollector{
		a:        a,
		viewers:  prometheus.NewDesc("fstream_hls_viewers", "Distinct HLS sessions (client address and User-Agent) that fetched a playlist in the last 30 s.", nil, nil),
		channels: prometheus.NewDesc("fstream_hls_channels", "Channels whose HLS segmenter runs now.", nil, nil),
		segments: prometheus.NewDesc("fstream_hls_segments", "HLS segments held in memory.", nil, nil),
		bytes:    prometheus.NewDesc("fstream_hls_segment_memory_bytes", "Bytes of the HLS segments held in memory.", nil, nil),
		evicted:  prometheus.NewDesc("fstream_hls_segments_evicted_total", "HLS segments dropped to keep within the per-channel or total bound.", nil, nil),
	}
}

func (c *hlsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.viewers, c.channels, c.segments, c.bytes, c.evicted} {
		ch <- d
	}
}

func (c *hlsCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.viewers, prometheus.GaugeValue, float64(c.a.sessions.count(c.a.now())))
	if c.a.hls == nil {
		return
	}
	n := c.a.hls.Counters()
	ch <- prometheus.MustNewConstMetric(c.channels, prometheus.GaugeValue, float64(n.Channels))
	ch <- prometheus.MustNewConstMetric(c.segments, prometheus.GaugeValue, float64(n.Segments))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(n.Bytes))
	ch <- prometheus.MustNewConstMetric(c.evicted, prometheus.CounterValue, float64(n.Evicted))
}
