package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The suite runs every target of the performance work in one go, each run
// against a child server of its own (so that the server's CPU time and RSS
// belong to one scenario), and judges each number against its target. A
// FAIL is a measurement: the suite goes on after it, as after a scenario
// that could not run at all, and SuiteResult.Err judges the whole at the
// end (strict: every target met). The scenarios are in plan.go, the
// targets' arithmetic in metrics.go, the output in table.go.

// Defaults of SuiteOptions.
const (
	// DefaultSuiteDuration is the measured window of most runs; the whole
	// suite then takes about a minute and a half on two cores.
	DefaultSuiteDuration = 5 * time.Second
	// DefaultSuiteStallTimeout is the server's default stall timeout,
	// which the stalled scenario's eviction times are judged against.
	DefaultSuiteStallTimeout = time.Second
	// DefaultSuiteMaxLag is the --max-lag the suite gives the server in
	// the slow-watcher scenario; the server's default (10 s) would not
	// fit in the run.
	DefaultSuiteMaxLag = 3 * time.Second
	// DefaultNcat is the ncat binary looked up on PATH.
	DefaultNcat = "ncat"
	// DefaultNatsServer is the nats-server binary looked up on PATH, then
	// in $GOPATH/bin (where go install puts it).
	DefaultNatsServer = "nats-server"
)

// Loads of the scenarios that the targets fix.
const (
	// tsSize is seven 188-byte MPEG-TS packets, the usual write of a TS
	// muxer.
	tsSize      = 1316
	latencyRate = 625_000 // 5 Mbit/s
	crowdRate   = 8_000   // 64 kbit/s
	channelRate = 125_000 // 1 Mbit/s
	liveRate    = 625_000 // 5 Mbit/s; its slow watcher reads at half
	// suiteSendBuffer is the server's --watcher-sndbuf in the slow-watcher
	// scenario. Under kernel autotuning a watcher's socket buffers hold
	// about 3 MB, which a watcher at half of 5 Mbit/s takes some 10 s to
	// fall behind by before the server sees any lag at all.
	suiteSendBuffer = 64 << 10
	// stallSlack is what the stalled scenario allows beyond the stall
	// timeout, measured from the handshake: the time to fill the socket
	// and channel buffers (milliseconds at full speed) before the server's
	// stall clock starts, and the bench's 50 ms polling of the socket.
	stallSlack = 500 * time.Millisecond
)

// SuiteCounts are the sizes of the scenarios. Zero fields take the values
// of DefaultSuiteCounts.
type SuiteCounts struct {
	// Wide is the watchers at full speed (scenarios 1, 6 and 9).
	Wide int `json:"wide"`
	// Latency is the watchers at 5 Mbit/s whose latency is measured.
	Latency int `json:"latency"`
	// Crowd is the watchers of one channel at 64 kbit/s.
	Crowd int `json:"crowd"`
	// Channels and PerChannel shape the many-channels scenario.
	Channels   int `json:"channels"`
	PerChannel int `json:"per_channel"`
	// Stalled is the stalled watchers beside Wide regular ones.
	Stalled int `json:"stalled"`
	// Regular is the regular watchers beside the slow one.
	Regular int `json:"regular"`
	// Handshakes is the handshakes whose rate is measured.
	Handshakes int `json:"handshakes"`
	// ColdPulls is the cold pulls timed in the cluster scenario.
	ColdPulls int `json:"cold_pulls"`
	// Paced is the watchers at 5 Mbit/s in 7,896-byte writes, PacedMany
	// those at 1 Mbit/s in 1,316-byte writes (issue 13).
	Paced     int `json:"paced"`
	PacedMany int `json:"paced_many"`
}

// DefaultSuiteCounts returns the sizes the targets are stated for.
func DefaultSuiteCounts() SuiteCounts {
	return SuiteCounts{Wide: 64, Latency: 100, Crowd: 10_000, Channels: 100, PerChannel: 10,
		Stalled: 4, Regular: 10, Handshakes: 5000, ColdPulls: 20, Paced: 500, PacedMany: 2000}
}

// SuiteOptions configures RunSuite. Zero values mean the defaults.
type SuiteOptions struct {
	// ServerCmd and ServerArgs start each run's child server, as in
	// Options; some scenarios append flags of their own.
	ServerCmd  []string
	ServerArgs []string
	// Duration is the measured window of a run; the run with stalled
	// watchers measures three times as long, the slow-watcher scenario
	// twice, the handshake scenario a fifth.
	Duration time.Duration
	// Counts size the scenarios.
	Counts SuiteCounts
	// StallTimeout is the child server's stall timeout.
	StallTimeout time.Duration
	// MaxLag is the server's --max-lag in the slow-watcher scenario.
	MaxLag time.Duration
	// Ncat is the ncat binary for the reference scenario, a path or a
	// name looked up on PATH; missing, the scenario is skipped.
	Ncat string
	// NatsServer is the nats-server binary for the cluster scenario, a
	// path or a name looked up on PATH and in $GOPATH/bin; missing, the
	// scenario is skipped.
	NatsServer string
	// Progress receives a line as each run starts, and the runs' own
	// progress line if it is a terminal. Nil prints nothing.
	Progress io.Writer
}

func (o SuiteOptions) withDefaults() (SuiteOptions, error) {
	if o.Duration == 0 {
		o.Duration = DefaultSuiteDuration
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = DefaultSuiteStallTimeout
	}
	if o.MaxLag == 0 {
		o.MaxLag = DefaultSuiteMaxLag
	}
	if o.Ncat == "" {
		o.Ncat = DefaultNcat
	}
	if o.NatsServer == "" {
		o.NatsServer = DefaultNatsServer
	}
	d, c := DefaultSuiteCounts(), &o.Counts
	for _, f := range []struct {
		v   *int
		def int
	}{
		{&c.Wide, d.Wide}, {&c.Latency, d.Latency}, {&c.Crowd, d.Crowd}, {&c.Channels, d.Channels},
		{&c.PerChannel, d.PerChannel}, {&c.Stalled, d.Stalled}, {&c.Regular, d.Regular}, {&c.Handshakes, d.Handshakes},
		{&c.ColdPulls, d.ColdPulls}, {&c.Paced, d.Paced}, {&c.PacedMany, d.PacedMany},
	} {
		if *f.v < 0 {
			return o, fmt.Errorf("%w: suite counts must not be negative", ErrBadOptions)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	switch {
	case len(o.ServerCmd) == 0:
		return o, fmt.Errorf("%w: the suite needs a command to start servers", ErrBadOptions)
	case o.Duration < 0 || o.StallTimeout < 0 || o.MaxLag < 0:
		return o, fmt.Errorf("%w: durations must not be negative", ErrBadOptions)
	}
	return o, nil
}

// SuiteResult is what RunSuite measured.
type SuiteResult struct {
	Started time.Time `json:"started"`
	// Seconds is how long the suite took.
	Seconds float64 `json:"seconds"`
	// DurationSeconds is the suite duration the runs' windows scale with.
	DurationSeconds float64     `json:"duration_s"`
	Counts          SuiteCounts `json:"counts"`
	Machine         Machine     `json:"machine"`
	// Interrupted means the context ended the suite early; the scenarios
	// not run say so.
	Interrupted bool             `json:"interrupted,omitempty"`
	Scenarios   []ScenarioResult `json:"scenarios"`
}

// ScenarioResult is one scenario: its metrics, or why it has none.
type ScenarioResult struct {
	ID      int      `json:"id"`
	Title   string   `json:"title"`
	Metrics []Metric `json:"metrics,omitempty"`
	// Error says why a run of the scenario failed; its metrics are then
	// not judged.
	Error string `json:"error,omitempty"`
	// Skipped says why the scenario did not run.
	Skipped string   `json:"skipped,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	// Runs are the full results of the scenario's runs, by name.
	Runs map[string]*Result `json:"runs,omitempty"`
}

// Tally counts the verdicts, the scenarios that failed to run and those
// skipped.
func (s *SuiteResult) Tally() (pass, fail, errs, skipped int) {
	for _, sc := range s.Scenarios {
		switch {
		case sc.Error != "":
			errs++
		case sc.Skipped != "":
			skipped++
		}
		for _, m := range sc.Metrics {
			switch m.Verdict {
			case Pass:
				pass++
			case Fail:
				fail++
			}
		}
	}
	return pass, fail, errs, skipped
}

// Err judges the suite: an error wrapping ErrScenarioFailed if a scenario
// could not run, else, if strict, one wrapping ErrTargetFailed if a target
// was missed, else nil. Without strict a FAIL is a number to watch; with
// it, "make bench" catches a regression.
func (s *SuiteResult) Err(strict bool) error {
	_, fail, errs, _ := s.Tally()
	switch {
	case errs > 0:
		return fmt.Errorf("%w: %s (see the table)", ErrScenarioFailed, plural(errs, "scenario"))
	case strict && fail > 0:
		return fmt.Errorf("%w: %d FAIL (see the table)", ErrTargetFailed, fail)
	}
	return nil
}

// RunSuite runs every scenario in turn and returns their results. A run
// that fails is reported in its scenario, and the suite goes on; if ctx
// ends, the suite stops cleanly and returns what it has, with Interrupted
// set. It returns an error only for invalid options.
func RunSuite(ctx context.Context, opts SuiteOptions) (*SuiteResult, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	res := &SuiteResult{Started: time.Now(), DurationSeconds: o.Duration.Seconds(), Counts: o.Counts, Machine: readMachine()}
	plan := o.plan()
	total, step := 0, 0
	for _, sc := range plan {
		if sc.skip == "" {
			total += max(len(sc.runs), len(sc.steps))
		}
	}
	all := runs{}
	for _, sc := range plan {
		sr := ScenarioResult{ID: sc.id, Title: sc.title, Notes: slices.Clone(sc.notes)}
		switch {
		case ctx.Err() != nil:
			sr.Skipped = "not run: interrupted"
			res.Interrupted = true
		case sc.skip != "":
			sr.Skipped = sc.skip
		case sc.custom != nil:
			step += len(sc.steps)
			o.progressf("suite %d/%d: %d. %s: %s\n", step, total, sc.id, sc.title, strings.Join(sc.steps, ", "))
			rs, err := sc.custom(ctx)
			for name, r := range rs {
				all[key(sc.id, name)] = r
				if sr.Runs == nil {
					sr.Runs = map[string]*Result{}
				}
				sr.Runs[name] = r
				for _, n := range r.Notes {
					sr.Notes = append(sr.Notes, name+": "+n)
				}
			}
			switch {
			case ctx.Err() != nil:
				sr.Skipped = "interrupted"
				res.Interrupted = true
			case err != nil:
				sr.Error = err.Error()
			default:
				sr.Metrics = sc.eval(all)
			}
		default:
			var errs []error
			for _, spec := range sc.runs {
				step++
				o.progressf("suite %d/%d: %d. %s: %s\n", step, total, sc.id, sc.title, spec.what)
				r, err := o.runOne(ctx, spec)
				if r != nil {
					all[key(sc.id, spec.name)] = r
					if sr.Runs == nil {
						sr.Runs = map[string]*Result{}
					}
					sr.Runs[spec.name] = r
					for _, n := range r.Notes {
						sr.Notes = append(sr.Notes, spec.name+": "+n)
					}
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", spec.name, err))
				}
				if ctx.Err() != nil {
					break
				}
			}
			switch {
			case ctx.Err() != nil:
				sr.Skipped = "interrupted"
				res.Interrupted = true
			case len(errs) > 0:
				sr.Error = errors.Join(errs...).Error()
			default:
				sr.Metrics = sc.eval(all)
			}
		}
		res.Scenarios = append(res.Scenarios, sr)
	}
	res.Seconds = time.Since(res.Started).Seconds()
	return res, nil
}

func (o *SuiteOptions) progressf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format, args...) // best effort, like the runs' progress
	}
}

// runOne runs spec, starting its ncat first if it has one. The runs'
// progress lines go to a terminal only: elsewhere one line a second of
// every run would bury the table.
func (o *SuiteOptions) runOne(ctx context.Context, spec runSpec) (*Result, error) {
	opts := spec.opts
	if newProgress(o.Progress).tty {
		opts.Progress = o.Progress
	}
	if !spec.ncat {
		res, err := Run(ctx, opts)
		return res, withHint(err)
	}
	nc, err := startNcat(ctx, o.Ncat, opts.Watchers+8)
	if err != nil {
		return nil, err
	}
	opts.Addr, opts.ServerPID = nc.addr, nc.pid()
	res, err := Run(ctx, opts)
	sctx, cancel := context.WithTimeout(context.Background(), subprocessStopTimeout)
	defer cancel()
	if serr := nc.stop(sctx); serr != nil && res != nil {
		res.Notes = append(res.Notes, serr.Error())
	}
	return res, withHint(err)
}

// withHint adds what to do about an error the machine's settings cause.
func withHint(err error) error {
	if errors.Is(err, syscall.EMFILE) {
		return fmt.Errorf("%w (raise the open-file limit: ulimit -n)", err)
	}
	return err
}
