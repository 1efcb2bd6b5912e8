package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

// envUserPassword supplies the broadcaster's password without putting it on
// the command line, where ps shows it.
const envUserPassword = "FSTREAM_USER_PASSWORD"

// overrides are handshake values given by flags or the environment rather
// than in PAYLOAD. A nil field was not given.
type overrides struct {
	User            *string
	UserPassword    *string
	Channel         *string
	ChannelPassword *string
	Delay           *string // decimal seconds
	// EnvUserPassword is the password from the environment; PAYLOAD and
	// the flag both win over it.
	EnvUserPassword string
}

// requestFlags are the flags of watch and broadcast that build the
// handshake.
type requestFlags struct {
	user, userPassword, channel, channelPassword string
	delay                                        float64
	timeout                                      time.Duration
}

func (f *requestFlags) register(fs *pflag.FlagSet, cmd protocol.Command) {
	fs.StringVar(&f.user, "user", "", "user `NAME` (overrides user= in PAYLOAD)")
	fs.StringVar(&f.userPassword, "user-password", "", "user `PASSWORD`; prefer $"+envUserPassword+", which ps does not show")
	fs.StringVar(&f.channel, "channel", "", "channel `NAME` (default \""+protocol.DefaultChannel+"\")")
	fs.StringVar(&f.channelPassword, "channel-password", "", "channel `PASSWORD`")
	if cmd == protocol.CommandBroadcast {
		fs.Float64Var(&f.delay, "delay", 0, "`SECONDS` the server may batch the stream before sending it to watchers (0 to 10)")
	}
	fs.DurationVar(&f.timeout, "connect-timeout", client.DefaultHandshakeTimeout, "bound on connecting and on the server's answer to the handshake")
}

// overrides returns the flags that were given.
func (f *requestFlags) overrides(fs *pflag.FlagSet) overrides {
	var o overrides
	set := func(name string, v string) *string {
		if fs.Changed(name) {
			return &v
		}
		return nil
	}
	o.User = set("user", f.user)
	o.UserPassword = set("user-password", f.userPassword)
	o.Channel = set("channel", f.channel)
	o.ChannelPassword = set("channel-password", f.channelPassword)
	o.Delay = set("delay", strconv.FormatFloat(f.delay, 'f', -1, 64))
	return o
}

// streamArgs checks ADDR [PAYLOAD].
func streamArgs(_ *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usageErrorf("missing ADDR")
	case len(args) > 2:
		return usageErrorf("too many arguments: want ADDR [PAYLOAD], got %d arguments", len(args))
	}
	return nil
}

// newClientOptions builds the client's options from ADDR [PAYLOAD] and the
// overrides. Every error is a usage error.
func newClientOptions(cmd protocol.Command, args []string, o overrides, timeout time.Duration) (client.Options, error) {
	addr, err := client.NormalizeAddr(args[0])
	if err != nil {
		return client.Options{}, asUsage(err)
	}
	var payload string
	if len(args) > 1 {
		payload = args[1]
	}
	req, err := buildRequest(cmd, payload, o)
	if err != nil {
		return client.Options{}, asUsage(err)
	}
	return client.Options{Addr: addr, Request: req, DialTimeout: timeout, HandshakeTimeout: timeout}, nil
}

// buildRequest merges PAYLOAD (the handshake text, with or without its
// leading command) with the overrides. Precedence: flag, then PAYLOAD, then
// environment. Keys it does not know are kept.
func buildRequest(cmd protocol.Command, payload string, o overrides) (protocol.Request, error) {
	fields := strings.Split(payload, ",")
	switch first := protocol.Command(fields[0]); first {
	case cmd:
		fields = fields[1:]
	case protocol.CommandWatch, protocol.CommandBroadcast:
		return protocol.Request{}, fmt.Errorf("PAYLOAD starts with %q, but this is fstream %s", first, cmd)
	}
	values := make(map[string]string, len(fields)+5)
	if o.EnvUserPassword != "" {
		if strings.Contains(o.EnvUserPassword, ",") {
			return protocol.Request{}, fmt.Errorf("$%s cannot contain a comma (the handshake is comma-separated)", envUserPassword)
		}
		values[protocol.KeyUserPassword] = o.EnvUserPassword
	}
	for _, f := range fields {
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return protocol.Request{}, fmt.Errorf("PAYLOAD field %q is not key=value", f)
		}
		values[k] = v
	}
	for _, f := range []struct {
		key string
		v   *string
	}{
		{protocol.KeyUser, o.User},
		{protocol.KeyUserPassword, o.UserPassword},
		{protocol.KeyChannel, o.Channel},
		{protocol.KeyChannelPassword, o.ChannelPassword},
		{protocol.KeyDelay, o.Delay},
	} {
		if f.v == nil {
			continue
		}
		if strings.Contains(*f.v, ",") {
			return protocol.Request{}, fmt.Errorf("--%s cannot contain a comma (the handshake is comma-separated)", f.key)
		}
		values[f.key] = *f.v
	}
	if _, ok := values[protocol.KeyUser]; !ok {
		return protocol.Request{}, fmt.Errorf("missing user: give --user NAME or user=NAME in PAYLOAD")
	}
	// Let the protocol package judge the result, so the CLI accepts
	// exactly what a server accepts.
	var b strings.Builder
	b.WriteString(string(cmd))
	for _, k := range slices.Sorted(maps.Keys(values)) {
		b.WriteString("," + k + "=" + values[k])
	}
	req, err := protocol.ParseRequest(b.String())
	if err != nil {
		return protocol.Request{}, fmt.Errorf("invalid request: %w", err)
	}
	return req, nil
}
