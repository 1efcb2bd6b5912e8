package bench

import (
	"math"
	"math/bits"
)

// The latency histogram is log-linear: exact below 2^histSubBits, then
// 2^histSubBits buckets per power of two, so a bucket is at most 1/16 of
// its values wide (6.25 %). Values are nanoseconds; everything from
// 2^histMaxExp ns (about 18 minutes) up shares the last bucket, but the
// exact maximum is kept aside.
const (
	histSubBits = 4
	histSub     = 1 << histSubBits
	histMaxExp  = 40
	histBuckets = histSub + (histMaxExp-histSubBits)*histSub
)

// histogram counts latencies. Each watcher owns one (about 4.7 KB) and
// records into it without locks or allocation; the runner merges them once
// the watchers have stopped.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	max    int64
}

// bucketOf returns the bucket index of v; negative values (a clock step)
// count as 0.
func bucketOf(v int64) int {
	if v < histSub {
		return int(max(v, 0))
	}
	u := uint64(v)
	e := bits.Len64(u) - 1 // u is in [2^e, 2^(e+1))
	if e >= histMaxExp {
		return histBuckets - 1
	}
	sub := int(u>>(e-histSubBits)) & (histSub - 1)
	return histSub + (e-histSubBits)*histSub + sub
}

// bucketHigh returns the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := (i-histSub)/histSub + histSubBits
	sub := (i - histSub) % histSub
	low := int64(histSub+sub) << (e - histSubBits)
	return low + int64(1)<<(e-histSubBits) - 1
}

func (h *histogram) record(v int64) {
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
	if v > h.max {
		h.max = v
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns an upper estimate of the q-quantile (0 < q <= 1): the
// highest value of the bucket holding it, never above the maximum seen.
// It returns 0 for an empty histogram.
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	// Nearest rank; the epsilon keeps 0.9*10 from rounding up to 10.
	rank := uint64(math.Ceil(q*float64(h.n) - 1e-9))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketHigh(i), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// summary returns the histogram as a Latency, in microseconds.
func (h *histogram) summary() Latency {
	const us = 1e3
	return Latency{
		Count:  int64(h.n),
		MeanUS: h.mean() / us,
		P50US:  float64(h.quantile(0.50)) / us,
		P90US:  float64(h.quantile(0.90)) / us,
		P99US:  float64(h.quantile(0.99)) / us,
		MaxUS:  float64(h.max) / us,
	}
}
