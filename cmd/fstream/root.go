package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

// newRootCmd builds the fstream command tree. Besides its subcommands, the
// root accepts the original tool's form, "fstream ADDR watch,..." or
// "fstream ADDR broadcast,...", and runs the same code as watch and
// broadcast.
func newRootCmd(s *streams, version string, r runners) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fstream",
		Short: "Relay a live byte stream from one broadcaster to many watchers",
		Long: fmt.Sprintf(`fstream relays a live byte stream (MPEG-TS, H.264, ...) over TCP from one
broadcaster to many watchers.

Run a server with "fstream serve", send stdin to it with "fstream broadcast"
and write a channel to stdout with "fstream watch". The default port is %d.

The original command form also works:
  fstream ADDR watch,user=NAME,channel=CHANNEL
  fstream ADDR broadcast,user=NAME,user-password=PASSWORD,channel=CHANNEL`, client.DefaultPort),
		Example: `  fstream serve --users ./users
  ffmpeg -re -i in.mp4 -c copy -f mpegts - | fstream broadcast 127.0.0.1 --user fier --channel cam
  fstream watch 127.0.0.1 --user fier --channel cam | ffplay -fflags nobuffer -probesize 32 -analyzeduration 0 -`,
		Version:       version,
		Args:          cobra.ArbitraryArgs, // checked in RunE, for the original form
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			if len(args) == 2 {
				switch legacyCommand(args[1]) {
				case protocol.CommandWatch:
					opts, err := newWatchOptions(s, args, overrides{}, client.DefaultHandshakeTimeout)
					if err != nil {
						return err
					}
					return r.watch(cmd.Context(), opts)
				case protocol.CommandBroadcast:
					opts, err := newBroadcastOptions(s, args, overrides{}, client.DefaultHandshakeTimeout)
					if err != nil {
						return err
					}
					return r.broadcast(cmd.Context(), opts)
				}
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if sug := cmd.SuggestionsFor(args[0]); len(sug) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", sug[0])
			}
			return usageErrorf("%s", msg)
		},
	}
	cmd.SetIn(s.In)
	cmd.SetOut(s.Out)
	cmd.SetErr(s.Err)
	cmd.SetVersionTemplate("fstream {{.Version}}\n")
	cmd.SetFlagErrorFunc(flagError)
	cmd.SuggestionsMinimumDistance = 2
	useFlagUsages(cmd)
	cmd.AddCommand(
		newServeCmd(s, r.serve),
		newWatchCmd(s, r.watch),
		newBroadcastCmd(s, r.broadcast),
		newTokenCmd(s, runToken, terminalPassword),
		newUserCmd(s, terminalPassword),
		newVersionCmd(version),
		newBenchCmd(s, runBench),
	)
	return cmd
}

// legacyCommand returns the command that the original form's payload starts
// with, or "" if it is not such a payload.
func legacyCommand(payload string) protocol.Command {
	first, _, _ := strings.Cut(payload, ",")
	switch c := protocol.Command(first); c {
	case protocol.CommandWatch, protocol.CommandBroadcast:
		return c
	}
	return ""
}
