package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/bench"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1 // a scenario did not run, or (strict) a target was missed
	exitUsage       = 2
	exitInterrupted = 130
)

// quickCounts and quickDuration make --quick: the whole suite in seconds,
// to check the suite itself; its numbers mean nothing.
var quickCounts = bench.SuiteCounts{Wide: 2, Latency: 2, Crowd: 5, Channels: 2, PerChannel: 2, Stalled: 1, Regular: 1, Handshakes: 10, ColdPulls: 2, Paced: 2, PacedMany: 2}

const quickDuration = 200 * time.Millisecond

// options are the command's settings.
type options struct {
	Fstream    string
	Duration   time.Duration
	Strict     bool
	JSON       bool
	Quick      bool
	ServerArgs []string
	Ncat       string
	NatsServer string
	out, log   io.Writer
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &options{out: stdout, log: stderr}
	cmd := newSuiteCmd(o)
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	code := exitCode(err)
	if code != exitOK && code != exitInterrupted {
		fmt.Fprintln(stderr, "suite:", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
	}
	return code
}

// exitCode maps the command's error to the exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, new(*usageError)):
		return exitUsage
	default:
		return exitFailed
	}
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

func newSuiteCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suite [flags]",
		Short: "Run fstream's performance targets against child servers and print one table",
		Long: `suite runs every scenario of fstream's performance targets, each against a
child "fstream serve" of its own (the binary given with --fstream), and prints
one table: each number with the baseline measured in the same run, their
ratio, the target and PASS or FAIL. A scenario that could not run fails the
suite; with --strict so does any FAIL, which is how "make bench" catches a
regression. At the default --duration it takes about three minutes and needs
about 10,000 open files and, for its reference point, ncat on PATH; its
cluster scenario needs nats-server.`,
		Example: `  make build && go run ./internal/bench/cmd/suite --strict
  go run ./internal/bench/cmd/suite --fstream bin/fstream --duration 10s --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return &usageError{err}
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Duration <= 0 {
				return usageErrorf("--duration %v must be positive", o.Duration)
			}
			if o.Quick && !cmd.Flags().Changed("duration") {
				o.Duration = quickDuration
			}
			return runSuite(cmd.Context(), o)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	f := cmd.Flags()
	f.StringVar(&o.Fstream, "fstream", "bin/fstream", "the fstream binary whose \"serve\" the runs start")
	f.DurationVar(&o.Duration, "duration", bench.DefaultSuiteDuration, "the measured window of each run (some scenarios scale it)")
	f.BoolVar(&o.Strict, "strict", false, "exit 1 if any target is missed, not only if a scenario could not run")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON, with every run's full result")
	f.BoolVar(&o.Quick, "quick", false, "tiny scenarios and 200ms windows: check the suite itself in seconds (the numbers mean nothing)")
	f.StringArrayVar(&o.ServerArgs, "server-arg", nil, "extra flag for every child server (repeatable), e.g. --server-arg=--stall-timeout=2s")
	f.StringVar(&o.Ncat, "ncat", bench.DefaultNcat, "the ncat binary for the reference scenario (skipped if missing)")
	f.StringVar(&o.NatsServer, "nats-server", bench.DefaultNatsServer, "the nats-server binary for the cluster scenario, on PATH or in $GOPATH/bin (skipped if missing)")
	return cmd
}

func runSuite(ctx context.Context, o *options) error {
	exe, err := filepath.Abs(o.Fstream)
	if err == nil {
		_, err = os.Stat(exe)
	}
	if err != nil {
		return usageErrorf("--fstream %s: %w (build it first: make build)", o.Fstream, err)
	}
	so := bench.SuiteOptions{
		ServerCmd:    []string{exe, "serve"},
		ServerArgs:   o.ServerArgs,
		Duration:     o.Duration,
		StallTimeout: serverFlagDuration(o.ServerArgs, "stall-timeout", bench.DefaultSuiteStallTimeout),
		Ncat:         o.Ncat,
		NatsServer:   o.NatsServer,
		Progress:     o.log,
	}
	if o.Quick {
		so.Counts = quickCounts
	}
	res, err := bench.RunSuite(ctx, so)
	if errors.Is(err, bench.ErrBadOptions) {
		return &usageError{err}
	}
	if err != nil {
		return err
	}
	if o.JSON {
		err = res.WriteJSON(o.out)
	} else {
		err = res.WriteTable(o.out)
	}
	if err != nil {
		return err
	}
	if res.Interrupted {
		return ctx.Err() // context.Canceled: a quiet exit 130
	}
	return res.Err(o.Strict)
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
