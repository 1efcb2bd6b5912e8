package bench

import (
	"math/rand/v2"
	"testing"
)

func TestBucketBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	values := []int64{0, 1, 15, 16, 31, 32, 33, 63, 64, 1000, 1 << 20, 1<<histMaxExp - 1}
	for range 10000 {
		values = append(values, rng.Int64N(1<<histMaxExp))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		if hi := bucketHigh(i); hi < v {
			t.Fatalf("bucketHigh(bucketOf(%d)) = %d, below the value", v, hi)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("bucket below %d's ends at %d, not below it", v, bucketHigh(i-1))
		}
		if hi := bucketHigh(i); float64(hi-v) > float64(v)/histSub {
			t.Fatalf("bucket of %d ends at %d: wider than 1/%d", v, hi, histSub)
		}
	}
	if got := bucketOf(-5); got != 0 {
		t.Errorf("bucketOf(-5) = %d, want 0", got)
	}
	if got := bucketOf(1 << 50); got != histBuckets-1 {
		t.Errorf("bucketOf(2^50) = %d, want the last bucket", got)
	}
}

func TestQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values func() []int64
		q      float64
		want   int64 // the exact quantile; the estimate may be up to 1/16 above
	}{
		{"1..10 p50", seq(1, 10), 0.5, 5},
		{"1..10 p90", seq(1, 10), 0.9, 9},
		{"1..10 p100", seq(1, 10), 1, 10},
		{"1..1000 p50", seq(1, 1000), 0.5, 500},
		{"1..1000 p99", seq(1, 1000), 0.99, 990},
		{"µs to ms p90", func() []int64 {
			var v []int64
			for i := range 900 {
				v = append(v, 50_000+int64(i)) // 50 µs
			}
			for i := range 100 {
				v = append(v, 20_000_000+int64(i)) // 20 ms
			}
			return v
		}, 0.9, 50_899},
		{"µs to ms p99", func() []int64 {
			var v []int64
			for i := range 900 {
				v = append(v, 50_000+int64(i))
			}
			for i := range 100 {
				v = append(v, 20_000_000+int64(i))
			}
			return v
		}, 0.99, 20_000_089},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			vs := tt.values()
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
			for _, v := range vs {
				h.record(v)
			}
			got := h.quantile(tt.q)
			if got < tt.want || float64(got) > float64(tt.want)*(1+1.0/histSub) {
				t.Errorf("quantile(%v) = %d, want %d to %d", tt.q, got, tt.want, int64(float64(tt.want)*(1+1.0/histSub)))
			}
			if got > h.max {
				t.Errorf("quantile(%v) = %d, above the max %d", tt.q, got, h.max)
			}
		})
	}
}

func seq(lo, hi int64) func() []int64 {
	return func() []int64 {
		var v []int64
		for i := lo; i <= hi; i++ {
			v = append(v, i)
		}
		return v
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	var a, b, all histogram
	if a.quantile(0.5) != 0 || a.mean() != 0 {
		t.Error("empty histogram: want 0")
	}
	for i := int64(1); i <= 100; i++ {
		a.record(i * 1000)
		all.record(i * 1000)
		b.record(i * 7)
		all.record(i * 7)
	}
	a.merge(&b)
	if a != all {
		t.Error("merge differs from recording everything in one histogram")
	}
	if a.n != 200 || a.max != 100_000 {
		t.Errorf("n %d max %d, want 200 and 100000", a.n, a.max)
	}
}
