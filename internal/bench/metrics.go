package bench

import (
	"fmt"
	"math"
	"time"
)

// Verdict is how a number compares with its target.
type Verdict string

// Verdicts. A number without a target has none.
const (
	Pass Verdict = "PASS"
	Fail Verdict = "FAIL"
)

// Unit says what a Metric's Value is and how it is printed.
type Unit string

// Units.
const (
	UnitCount     Unit = "count"
	UnitBitRate   Unit = "B/s as bit/s" // bytes/s, printed in bits/s
	UnitByteRate  Unit = "B/s"
	UnitSeconds   Unit = "s"
	UnitMicros    Unit = "µs"
	UnitBytes     Unit = "bytes"
	UnitCPUPerGB  Unit = "cpu s/GB"
	UnitPerSecond Unit = "1/s"
	UnitPerCPU    Unit = "B/cpu s" // bytes per CPU-second
	UnitCores     Unit = "cores"   // CPU-seconds per second
	UnitPerMB     Unit = "1/MB"    // per 10^6 bytes delivered
)

func (u Unit) format(v float64) string {
	switch u {
	case UnitBitRate:
		return bitsRate(v)
	case UnitByteRate:
		return bytesRate(v)
	case UnitSeconds:
		return fmt.Sprintf("%.2f s", v)
	case UnitMicros:
		return usText(v)
	case UnitBytes:
		if math.Abs(v) < 1<<20 {
			return kibText(v)
		}
		return mibText(v)
	case UnitCPUPerGB:
		return fmt.Sprintf("%.3f s/GB", v)
	case UnitPerCPU:
		return fmt.Sprintf("%.2f GB/CPU-s", v/1e9)
	case UnitPerSecond:
		return fmt.Sprintf("%.0f/s", v)
	case UnitCores:
		return fmt.Sprintf("%.2f cores", v)
	case UnitPerMB:
		return fmt.Sprintf("%.1f per MB", v)
	}
	return groupDigits(int64(math.Round(v)))
}

// Op is a target's comparison.
type Op string

// Comparisons.
const (
	AtLeast Op = ">="
	AtMost  Op = "<="
	Equal   Op = "=="
	// Within is |value − 1| ≤ limit: for a ratio that should be 1.
	Within Op = "within"
)

// Target is a threshold for a Metric's Value or, with OfRatio, for its
// Ratio to the baseline.
type Target struct {
	Op      Op      `json:"op"`
	Limit   float64 `json:"limit"`
	OfRatio bool    `json:"of_ratio,omitempty"`
	// Text is the target as printed.
	Text string `json:"text"`
}

// met says whether v meets the target.
func (t Target) met(v float64) bool {
	switch t.Op {
	case AtLeast:
		return v >= t.Limit
	case AtMost:
		return v <= t.Limit
	case Equal:
		return v == t.Limit
	case Within:
		return math.Abs(v-1) <= t.Limit
	}
	return false
}

// Metric is one number the suite reports: what was measured, its value,
// the baseline it is compared with (measured in the same suite run, or a
// set rate), their ratio, and the target with its verdict.
type Metric struct {
	// Name says what was measured.
	Name  string  `json:"name"`
	Unit  Unit    `json:"unit"`
	Value float64 `json:"value"`
	// Missing means the value could not be measured (Value is 0).
	Missing bool `json:"missing,omitempty"`
	// Text is the value as printed.
	Text         string  `json:"text"`
	Baseline     float64 `json:"baseline,omitempty"`
	BaselineText string  `json:"baseline_text,omitempty"`
	// Ratio is Value / Baseline, when there is a positive baseline.
	Ratio   float64 `json:"ratio,omitempty"`
	Target  *Target `json:"target,omitempty"`
	Verdict Verdict `json:"verdict,omitempty"`
}

// measured starts a Metric.
func measured(name string, u Unit, v float64) Metric {
	return Metric{Name: name, Unit: u, Value: v}
}

// missing starts a Metric whose value could not be measured.
func missing(name string, u Unit, why string) Metric {
	return Metric{Name: name, Unit: u, Missing: true, Text: why}
}

// vs sets the baseline; text "" prints it in the metric's unit.
func (m Metric) vs(base float64, text string) Metric {
	m.Baseline, m.BaselineText = base, text
	return m
}

// shown sets the printed value.
func (m Metric) shown(format string, args ...any) Metric {
	m.Text = fmt.Sprintf(format, args...)
	return m
}

// want sets a target for the value; text "" prints it in the unit.
func (m Metric) want(op Op, limit float64, text string) Metric {
	if text == "" {
		text = opSymbol(op) + " " + m.Unit.format(limit)
	}
	m.Target = &Target{Op: op, Limit: limit, Text: text}
	return m
}

// wantRatio sets a target for the ratio to the baseline.
func (m Metric) wantRatio(op Op, limit float64) Metric {
	m.Target = &Target{Op: op, Limit: limit, OfRatio: true, Text: fmt.Sprintf("%s %.2f×", opSymbol(op), limit)}
	return m
}

// evaluate fills the texts, the ratio and the verdict. A missing value,
// or a ratio target without a positive baseline, fails its target.
func (m *Metric) evaluate() {
	if m.Text == "" {
		m.Text = m.Unit.format(m.Value)
	}
	hasRatio := m.Baseline > 0 && !m.Missing
	if m.Baseline > 0 {
		if m.BaselineText == "" {
			m.BaselineText = m.Unit.format(m.Baseline)
		}
		if hasRatio {
			m.Ratio = m.Value / m.Baseline
		}
	}
	t := m.Target
	switch {
	case t == nil:
		m.Verdict = ""
	case m.Missing || t.OfRatio && !hasRatio:
		m.Verdict = Fail
	case t.OfRatio && t.met(m.Ratio), !t.OfRatio && t.met(m.Value):
		m.Verdict = Pass
	default:
		m.Verdict = Fail
	}
}

func opSymbol(op Op) string {
	switch op {
	case AtLeast:
		return "≥"
	case AtMost:
		return "≤"
	}
	return "="
}

// finish evaluates ms.
func finish(ms ...Metric) []Metric {
	for i := range ms {
		ms[i].evaluate()
	}
	return ms
}

// integrity is the target that nothing was lost or damaged.
func integrity(name string, r *Result) Metric {
	return measured(name, UnitCount, float64(r.Gaps+r.Corrupt)).
		shown("%d gaps, %d corrupt", r.Gaps, r.Corrupt).want(Equal, 0, "none")
}

// evicted is the target that no regular watcher was evicted.
func evicted(name string, n int) Metric {
	return measured(name, UnitCount, float64(n)).want(Equal, 0, "none")
}

func cpuPerGB(r *Result) Metric {
	s := r.Server
	if s == nil {
		return missing("server CPU", UnitCPUPerGB, "not measured")
	}
	return measured("server CPU", UnitCPUPerGB, s.CPUPerGB).shown("%.3f s/GB (%.2f cores)", s.CPUPerGB, s.Cores)
}

// perCPU is the egress per CPU-second of the bench and the server
// together: what the machine delivers for the processor time it spends,
// which, unlike a rate, does not depend on the share of a busy machine's
// cores the run got.
func perCPU(name string, r *Result) Metric {
	cpu := r.BenchCPUSeconds
	if r.Server != nil {
		cpu += r.Server.CPUSeconds
	}
	if cpu <= 0 {
		return missing(name, UnitPerCPU, "not measured")
	}
	return measured(name, UnitPerCPU, float64(r.Egress.Bytes)/cpu)
}

func rssPerWatcher(r *Result) Metric {
	if r.Server == nil {
		return missing("RSS per watcher", UnitBytes, "not measured")
	}
	return measured("RSS per watcher", UnitBytes, r.Server.RSSPerWatcher)
}

// stalledEvictions are the targets that every stalled watcher was evicted,
// each within limit of its handshake.
func stalledEvictions(k EvictedKind, limit time.Duration) []Metric {
	if !canTellPeerGone {
		return []Metric{missing("stalled evicted", UnitCount, "not observable on this system")}
	}
	count := measured("stalled evicted", UnitCount, float64(k.Count)).
		shown("%d of %d", k.Count, k.Of).want(Equal, float64(k.Of), "all")
	when := missing("time to evict", UnitSeconds, "none evicted")
	if k.Count > 0 {
		when = measured("time to evict", UnitSeconds, k.MaxSeconds)
		if k.MaxSeconds-k.MinSeconds >= 0.005 {
			when = when.shown("%.2f–%.2f s", k.MinSeconds, k.MaxSeconds)
		}
	}
	return []Metric{count, when.want(AtMost, limit.Seconds(), "")}
}
