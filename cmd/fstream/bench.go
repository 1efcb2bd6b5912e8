package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/bench"
)

// benchOptions are the bench command's settings.
type benchOptions struct {
	bench.Options
	JSON bool
	TLS  tlsFlags
	out  *streams
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
measures the machine instead: independent TCP streams on loopback, written in
the relay's batches, the physical limit a relay is compared with. With --raw
it drives a relay that takes no handshake, such as "ncat --broker".

With --tls every client connects with TLS; a child server then gets a
throwaway self-signed certificate. With ADDR, --tls-ca or --tls-insecure say
whom to trust, as for watch and broadcast.

The project's performance targets, which run many of these against each
other, are not part of fstream: "make bench" runs them.`,
		Example: `  fstream bench --watchers 64 --duration 10s
  fstream bench --watchers 64 --duration 10s --tls
  fstream bench --baseline --watchers 64 --duration 10s
  fstream bench --watchers 10000 --rate 64kbit --size 1316
  fstream bench tls://relay.example.com --user fier --watchers 100 --rate 5Mbit --size 1316
  fstream bench --raw 127.0.0.1:7000 --watchers 64`,
		Args: withUsageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(args, rate, slowRate); err != nil {
				return err
			}
			o.Progress = s.Err
			return runF(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Watchers, "watchers", 64, "reading watchers per channel")
	f.IntVar(&o.Channels, "channels", 1, "channels, one broadcaster each")
	f.IntVar(&o.Size, "size", bench.DefaultSize, "bytes per verified record")
	f.IntVar(&o.Batch, "batch", bench.RelayBatch, "most bytes per write: records due at once go out together, as the relay writes a watcher's backlog (--batch=SIZE: one record per write)")
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
	o.TLS.register(f)
	for flag, placeholder := range map[string]string{"size": "BYTES", "batch": "BYTES", "rate": "RATE", "slow-rate": "RATE",
		"user": "NAME", "user-password": "PASSWORD", "server-pid": "PID", "server-arg": "FLAG"} {
		setPlaceholder(f, flag, placeholder)
	}
	cmd.PreRun = func(*cobra.Command, []string) {
		if o.Password == "" && s.Getenv != nil {
			o.Password = s.Getenv("FSTREAM_USER_PASSWORD")
		}
	}
	return cmd
}

// complete checks and converts what the flags cannot: ADDR, the rates,
// TLS, and the command that starts a child server.
func (o *benchOptions) complete(args []string, rate, slowRate string) error {
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
	if len(args) == 1 {
		if o.Addr, o.Options.TLS, err = clientAddr(args[0], o.TLS); err != nil {
			return err
		}
		return nil
	}
	if o.TLS.caFile != "" || o.TLS.insecure {
		return usageErrorf("--tls-ca and --tls-insecure go with ADDR: a child server's certificate is the bench's own")
	}
	if o.TLS.enable {
		o.Options.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if o.Baseline {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the fstream binary to start a server: %w", err)
	}
	o.ServerCmd = []string{exe, "serve"}
	return nil
}

func runBench(ctx context.Context, o *benchOptions) error {
	res, err := bench.Run(ctx, o.Options)
	if errors.Is(err, bench.ErrBadOptions) {
		return usageErrorf("%v", err)
	}
	if err != nil {
		return explainTLS(err)
	}
	if o.JSON {
		return res.WriteJSON(o.out.Out)
	}
	return res.WriteTable(o.out.Out)
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
