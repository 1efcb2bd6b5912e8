package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/bench"
	"github.com/fstream/fstream/internal/server"
)

// benchOptions are the bench command's settings.
type benchOptions struct {
	bench.Options
	JSON bool
	// Suite runs the whole target list instead of one run, with
	// SuiteDuration as the window of its runs.
	Suite         bool
	SuiteDuration time.Duration
	out           *streams
}

func newBenchCmd(s *streams, runF func(context.Context, *benchOptions) error) *cobra.Command {
	o := &benchOptions{out: s}
	var rate, slowRate string
	cmd := &cobra.Command{
		Use:   "bench [ADDR]",
		Short: "Measure a relay: throughput, latency, integrity, server CPU and memory",
		Long: `bench drives an fstream server with broadcasters that send numbered,
timestamped, checksummed records and watchers that verify every byte.

Without ADDR it starts "fstream serve" itself as a child process on a free
loopback port with a throwaway user, so that the server's CPU time and memory
can be read from /proc apart from the load generator's. With --baseline it
measures the machine instead: independent TCP streams on loopback, the
physical limit a relay is compared with. With --raw it drives a relay that
takes no handshake, such as "ncat --broker".

With --suite it runs every performance target in one go, each run against
a child server of its own, and prints one table: each number with the
baseline measured in the same suite, their ratio, the target and PASS or
FAIL. Targets are thresholds to watch, not assertions: a FAIL leaves the
exit status 0, a scenario that could not run makes it 1. At the default
--suite-duration the suite takes about a minute and a half; it needs about
10,000 open files and, for its reference point, ncat on PATH.`,
		Example: `  fstream bench --watchers 64 --duration 10s
  fstream bench --baseline --watchers 64 --duration 10s
  fstream bench --watchers 10000 --rate 64kbit --size 1316
  fstream bench --raw 127.0.0.1:7000 --watchers 64
  fstream bench --suite --suite-duration 10s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Addr = args[0]
			}
			if err := o.checkSuiteFlags(cmd); err != nil {
				return err
			}
			o.Progress = s.Err
			if o.Suite {
				if err := o.childServer(); err != nil {
					return err
				}
				return runF(cmd.Context(), o)
			}
			var err error
			if o.Rate, err = parseRate(rate); err != nil {
				return usageErrorf("--rate: %v", err)
			}
			if o.SlowRate, err = parseRate(slowRate); err != nil {
				return usageErrorf("--slow-rate: %v", err)
			}
			if o.Slow > 0 && o.SlowRate <= 0 {
				return usageErrorf("--slow needs --slow-rate")
			}
			if o.Addr == "" && !o.Baseline {
				if err := o.childServer(); err != nil {
					return err
				}
			}
			return runF(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Watchers, "watchers", 64, "reading watchers per channel")
	f.IntVar(&o.Channels, "channels", 1, "channels, one broadcaster each")
	f.IntVar(&o.Size, "size", bench.DefaultSize, "bytes per write (one verified record)")
	f.StringVar(&rate, "rate", "0", "bytes/s per broadcaster, 0 = as fast as possible (suffixes: k, M, G for bytes; kbit, Mbit, Gbit for bits)")
	f.DurationVar(&o.Duration, "duration", bench.DefaultDuration, "measured window")
	f.DurationVar(&o.Warmup, "warmup", 0, "warmup before the window (default: a tenth of the duration, at most 1s)")
	f.IntVar(&o.Stalled, "stalled", 0, "watchers per channel that never read after the handshake")
	f.IntVar(&o.Slow, "slow", 0, "watchers per channel that read at --slow-rate")
	f.StringVar(&slowRate, "slow-rate", "0", "read rate of slow watchers (same units as --rate)")
	f.BoolVar(&o.Baseline, "baseline", false, "measure loopback itself: watchers × channels independent TCP streams, no relay")
	f.BoolVar(&o.Raw, "raw", false, "no handshake (for ncat --broker and the like); needs ADDR")
	f.IntVar(&o.Handshakes, "handshakes", 0, "also measure this many watch handshakes per second after the window")
	f.StringVar(&o.User, "user", "", "broadcasting user at ADDR")
	f.StringVar(&o.Password, "user-password", "", "its password (or env FSTREAM_USER_PASSWORD)")
	f.IntVar(&o.ServerPID, "server-pid", 0, "with ADDR: the server's pid, to report its CPU time and memory")
	f.StringArrayVar(&o.ServerArgs, "server-arg", nil, "extra flag for the child server (repeatable), e.g. --server-arg=--channel-buffer=4194304")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	f.BoolVar(&o.Suite, "suite", false, "run every performance target (relay, baselines, ncat --broker) and print one table")
	f.DurationVar(&o.SuiteDuration, "suite-duration", bench.DefaultSuiteDuration, "with --suite: the measured window of each run")
	cmd.PreRun = func(*cobra.Command, []string) {
		if o.Password == "" && s.Getenv != nil {
			o.Password = s.Getenv("FSTREAM_USER_PASSWORD")
		}
	}
	return cmd
}

// checkSuiteFlags refuses flags that do not go with --suite, or without it.
func (o *benchOptions) checkSuiteFlags(cmd *cobra.Command) error {
	f := cmd.Flags()
	if !o.Suite {
		if f.Changed("suite-duration") {
			return usageErrorf("--suite-duration goes with --suite")
		}
		return nil
	}
	if o.Addr != "" {
		return usageErrorf("--suite starts its own servers: no ADDR")
	}
	// These shape one run; the suite's scenarios are fixed.
	for _, name := range []string{"watchers", "channels", "size", "rate", "duration", "warmup", "stalled",
		"slow", "slow-rate", "baseline", "raw", "handshakes", "user", "user-password", "server-pid"} {
		if f.Changed(name) {
			return usageErrorf("--suite runs fixed scenarios: --%s does not apply (--suite-duration scales them)", name)
		}
	}
	if o.SuiteDuration <= 0 {
		return usageErrorf("--suite-duration %v must be positive", o.SuiteDuration)
	}
	return nil
}

// childServer sets the command that starts a child server: this binary's
// serve, without the limits that protect a public server.
func (o *benchOptions) childServer() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the fstream binary to start a server: %w", err)
	}
	o.ServerCmd = []string{exe, "serve"}
	// The load comes from one address, in numbers a public server's
	// defaults would refuse.
	o.ServerArgs = append([]string{"--max-conns=0", "--max-conns-per-ip=0",
		"--max-channels=0", "--max-watchers-per-channel=0", "--log-level=warn"}, o.ServerArgs...)
	return nil
}

func runBench(ctx context.Context, o *benchOptions) error {
	if o.Suite {
		return runSuite(ctx, o)
	}
	res, err := bench.Run(ctx, o.Options)
	if errors.Is(err, bench.ErrBadOptions) {
		return usageErrorf("%v", err)
	}
	if err != nil {
		return err
	}
	if o.JSON {
		return res.WriteJSON(o.out.Out)
	}
	return res.WriteTable(o.out.Out)
}

func runSuite(ctx context.Context, o *benchOptions) error {
	res, err := bench.RunSuite(ctx, bench.SuiteOptions{
		ServerCmd:    o.ServerCmd,
		ServerArgs:   o.ServerArgs,
		Duration:     o.SuiteDuration,
		StallTimeout: serverFlagDuration(o.ServerArgs, "stall-timeout", server.DefaultStallTimeout),
		Progress:     o.Progress,
	})
	if errors.Is(err, bench.ErrBadOptions) {
		return usageErrorf("%v", err)
	}
	if err != nil {
		return err
	}
	if o.JSON {
		err = res.WriteJSON(o.out.Out)
	} else {
		err = res.WriteTable(o.out.Out)
	}
	if err != nil {
		return err
	}
	if res.Interrupted {
		return ctx.Err() // context.Canceled: a quiet exit 130, as any interrupted command
	}
	if _, _, failed, _ := res.Tally(); failed > 0 {
		return fmt.Errorf("bench suite: %d scenarios could not run (see the table)", failed)
	}
	return nil
}

// serverFlagDuration returns the value that args give the server's flag
// name (--name=D, or --name and D as two arguments; the last one wins),
// or def. The suite judges eviction times by the server's stall timeout.
func serverFlagDuration(args []string, name string, def time.Duration) time.Duration {
	d := def
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "--"+name+"=")
		if !ok && a == "--"+name && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if ok {
			if p, err := time.ParseDuration(v); err == nil {
				d = p
			}
		}
	}
	return d
}

// parseRate reads a rate in bytes/s: a number with an optional unit, k, M or
// G (bytes) or kbit, Mbit or Gbit (bits), in powers of 1000.
func parseRate(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{
		{"gbit", 1e9 / 8}, {"mbit", 1e6 / 8}, {"kbit", 1e3 / 8}, {"bit", 1.0 / 8},
		{"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1},
	}
	v := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSuffix(v, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a rate (try 5Mbit or 625k)", s)
	}
	return int64(n * mult), nil
}
