package main

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

// broadcastOptions is a parsed "fstream broadcast".
type broadcastOptions struct {
	Client client.Options
	In     io.Reader
}

func newBroadcastCmd(s *streams, runF func(context.Context, *broadcastOptions) error) *cobra.Command {
	var f requestFlags
	var rf reconnectFlags
	cmd := &cobra.Command{
		Use:   "broadcast ADDR [PAYLOAD]",
		Short: "Send stdin to a channel",
		Long: `Connect to the fstream server at ADDR (host[:port], default port 61920) and
send stdin to a channel until stdin ends. Nothing is read from stdin before the
server accepts the user, so a refusal leaves it untouched. With tls://host[:port]
or --tls the connection uses TLS.

PAYLOAD is the original fstream handshake text, with or without its leading
"broadcast,", for example "user=fier,channel=cam,delay=0.1". Flags override its
values, and keys fstream does not know are sent as they are. The password is
taken, in this order, from --user-password, PAYLOAD, or $FSTREAM_USER_PASSWORD.
A one-time token from "fstream token" (--token or token= in PAYLOAD) replaces
the password.

ADDR may list several servers (h1:61920,h2:61920); with --reconnect a lost
connection is made good on the next one, and stdin is piped on (the bytes in
flight on the lost connection are lost).

Exit status: 0 when all of stdin reached the server, 1 on an error, 2 on a
usage error, 3 when the server refuses, 4 when the server ends the broadcast
and says why (taken over by a new broadcaster of the channel, removed by an
operator, server shutting down), 130 on a signal.`,
		Example: `  ffmpeg -re -i in.mp4 -c copy -f mpegts - | FSTREAM_USER_PASSWORD=secret fstream broadcast 127.0.0.1 --user fier --channel cam
  fstream broadcast example.com user=fier,user-password=secret,channel=cam < rec.ts
  fstream broadcast tls://example.com --user fier --token "$(fstream token tls://example.com --user fier)" < rec.ts`,
		Args: streamArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := f.overrides(cmd.Flags())
			opts, err := newBroadcastOptions(s, args, o, f.timeout)
			if err != nil {
				return err
			}
			if err := rf.apply(cmd.Flags(), &opts.Client); err != nil {
				return err
			}
			return runF(cmd.Context(), opts)
		},
	}
	f.register(cmd.Flags(), protocol.CommandBroadcast)
	rf.register(cmd.Flags())
	return cmd
}

// newBroadcastOptions builds the options of broadcast from ADDR [PAYLOAD],
// the flags and the environment.
func newBroadcastOptions(s *streams, args []string, o overrides, timeout time.Duration) (*broadcastOptions, error) {
	o.EnvUserPassword = s.Getenv(envUserPassword)
	c, err := newClientOptions(protocol.CommandBroadcast, args, o, timeout)
	if err != nil {
		return nil, err
	}
	c.Notify = notifier(s.Err)
	return &broadcastOptions{Client: c, In: s.In}, nil
}

func runBroadcast(ctx context.Context, opts *broadcastOptions) error {
	if err := checkCredentials(opts.Client.Request); err != nil {
		return err
	}
	return explainTLS(client.Broadcast(ctx, opts.Client, opts.In))
}

// checkCredentials refuses, before connecting, a broadcast that gives
// neither a password nor a token: the server could only answer "wrong user
// or password", which sends the user looking for a typo. An empty password
// given on purpose (user-password= in PAYLOAD) is sent, for an --auth-url
// service that may accept it.
func checkCredentials(req protocol.Request) error {
	_, password := req.Params[protocol.KeyUserPassword]
	_, token := req.Params[protocol.KeyToken]
	if !password && !token {
		return usageErrorf("no password given (use --user-password or %s)", envUserPassword)
	}
	return nil
}
