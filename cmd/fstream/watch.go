package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

// watchOptions is a parsed "fstream watch".
type watchOptions struct {
	Client client.Options
	Out    io.Writer
	// Err gets the line that says how the stream ended.
	Err io.Writer
}

func newWatchCmd(s *streams, runF func(context.Context, *watchOptions) error) *cobra.Command {
	var join string
	var f requestFlags
	var rf reconnectFlags
	var wait bool
	var waitTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "watch ADDR [PAYLOAD]",
		Short: "Write a channel's stream to stdout",
		Long: `Connect to the fstream server at ADDR (host[:port], default port 61920) and
write the stream of a channel to stdout until the server closes the connection.
With tls://host[:port] or --tls the connection uses TLS.

PAYLOAD is the original fstream handshake text, with or without its leading
"watch,", for example "user=fier,channel=cam". Flags override its values, and
keys fstream does not know are sent as they are.

With --wait, a channel that is not live yet is waited for: one line on stderr
says so, and the stream follows as soon as it starts. ADDR may list several
servers (h1:61920,h2:61920); with --reconnect a lost connection is made good on
the next one that has the channel live, joining at a keyframe.

When the stream ends, one line on stderr says so, with how many bytes came
in how long. The stream has no end marker: a broadcaster that left and a
server that closed the connection look the same.

Exit status: 0 when the stream ends or the reader of stdout quits, 1 on an
error (a connection reset too), 2 on a usage error, 3 when the server
refuses, 130 on a signal.`,
		Example: `  fstream watch 127.0.0.1 --user fier --channel cam --wait | ffplay -fflags nobuffer -probesize 32 -analyzeduration 0 -
  fstream watch example.com:61920 user=fier,channel=cam,channel-password=123 > rec.ts
  fstream watch tls://example.com --user fier --channel cam | ffplay -fflags nobuffer -probesize 32 -analyzeduration 0 -`,
		Args: streamArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := newWatchOptions(s, args, f.overrides(cmd.Flags()), f.timeout)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("join") {
				if join != "gop" && join != "keyframe" && join != "live" {
					return usageErrorf("--join %q: want gop, keyframe or live", join)
				}
				if opts.Client.Request.Params == nil {
					opts.Client.Request.Params = map[string]string{}
				}
				opts.Client.Request.Params[protocol.KeyJoin] = join
			}
			if err := rf.apply(cmd.Flags(), &opts.Client); err != nil {
				return err
			}
			switch {
			case waitTimeout < 0:
				return usageErrorf("--wait-timeout %v must not be negative", waitTimeout)
			case cmd.Flags().Changed("wait-timeout") && !wait:
				return usageErrorf("--wait-timeout needs --wait")
			}
			opts.Client.Wait, opts.Client.WaitTimeout = wait, waitTimeout
			return runF(cmd.Context(), opts)
		},
	}
	f.register(cmd.Flags(), protocol.CommandWatch)
	cmd.Flags().StringVar(&join, "join", "", "where to start in a media stream: gop (latest keyframe: a picture at once), keyframe (wait for the next) or live (default: the server's)")
	setPlaceholder(cmd.Flags(), "join", "POLICY")
	cmd.Flags().BoolVar(&wait, "wait", false, "if the channel is not live yet, wait for it instead of failing")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", 0, "give up waiting after this long (0: wait until interrupted)")
	rf.register(cmd.Flags())
	return cmd
}

// newWatchOptions builds the options of watch from ADDR [PAYLOAD] and the
// flags. The password from the environment is not used: a watcher needs
// none, and it should not be sent to every server one watches.
func newWatchOptions(s *streams, args []string, o overrides, timeout time.Duration) (*watchOptions, error) {
	c, err := newClientOptions(protocol.CommandWatch, args, o, timeout)
	if err != nil {
		return nil, err
	}
	c.Notify = notifier(s.Err)
	return &watchOptions{Client: c, Out: s.Out, Err: s.Err}, nil
}

func runWatch(ctx context.Context, opts *watchOptions) error {
	out := &progress{w: opts.Out}
	err := explainTLS(client.Watch(ctx, opts.Client, out))
	req := opts.Client.Request
	if ref, ok := errors.AsType[*protocol.RefusedError](err); ok && ref.Reason == protocol.ReasonNotFound && !opts.Client.Wait {
		return fmt.Errorf("%w; add --wait to wait for it", err)
	}
	switch {
	case err == nil:
		// The stream carries no end marker: a broadcaster that left (after
		// the grace period) and a server that closed look the same.
		fmt.Fprintf(opts.Err, "fstream: the stream of %s/%s ended %s (the broadcaster left, or the server closed the connection)\n",
			req.User, req.Channel, out.summary())
	case out.n > 0:
		err = fmt.Errorf("%w (%s)", err, out.summary())
	}
	return err
}

// progress counts the bytes watch writes, for the line that says how the
// stream ended. Only the goroutine inside client.Watch writes to it.
type progress struct {
	w     io.Writer
	n     int64
	first time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	if p.first.IsZero() {
		p.first = time.Now()
	}
	n, err := p.w.Write(b)
	p.n += int64(n)
	return n, err
}

// summary reads "after 12.3 MiB in 1m2.3s".
func (p *progress) summary() string {
	if p.n == 0 {
		return "before any byte arrived"
	}
	return fmt.Sprintf("after %s in %v", formatBytes(p.n), time.Since(p.first).Round(100*time.Millisecond))
}

// formatBytes reads 1023 B, 1.5 KiB, 12.3 MiB, 2.0 GiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}
