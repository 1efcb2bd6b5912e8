package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
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
	// Token is a one-time token from "fstream token"; it replaces the
	// user password (broadcast only).
	Token *string
	// EnvUserPassword is the password from the environment; PAYLOAD and
	// the flag both win over it, and a token replaces it.
	EnvUserPassword string
	// TLS are the TLS flags; tls:// in ADDR also asks for TLS.
	TLS tlsFlags
}

// tlsFlags are the client's TLS flags, shared by watch, broadcast and
// token.
type tlsFlags struct {
	enable   bool
	caFile   string
	insecure bool
}

func (f *tlsFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.enable, "tls", false, "connect with TLS (as does a tls:// ADDR), trusting the system's certificate authorities")
	fs.StringVar(&f.caFile, "tls-ca", "", "trust only the certificate authorities in PEM `FILE` (implies --tls)")
	fs.BoolVar(&f.insecure, "tls-insecure", false, "do not verify the server's certificate, for a self-signed test setup (implies --tls)")
}

// wanted reports whether a flag asks for TLS.
func (f tlsFlags) wanted() bool { return f.enable || f.caFile != "" || f.insecure }

// config returns the TLS configuration the flags describe. Every error is
// a usage error.
func (f tlsFlags) config() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case f.caFile != "" && f.insecure:
		return nil, usageErrorf("--tls-ca and --tls-insecure exclude each other: --tls-insecure trusts any certificate")
	case f.insecure:
		conf.InsecureSkipVerify = true
	case f.caFile != "":
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, usageErrorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageErrorf("--tls-ca %s: no PEM certificate in it", f.caFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// explainTLS adds to the client's TLS errors what to do about them on the
// command line.
func explainTLS(err error) error {
	switch {
	case errors.Is(err, client.ErrNotTLS):
		return fmt.Errorf("%w; drop tls:// or --tls", err)
	case isA[x509.UnknownAuthorityError](err):
		return fmt.Errorf("%w; give the authority that signed the server's certificate with --tls-ca FILE (or --tls-insecure for a test setup)", err)
	}
	return err
}

// requestFlags are the flags of watch and broadcast that build the
// handshake.
type requestFlags struct {
	user, userPassword, channel, channelPassword string
	token                                        string
	delay                                        float64
	timeout                                      time.Duration
	tls                                          tlsFlags
}

func (f *requestFlags) register(fs *pflag.FlagSet, cmd protocol.Command) {
	if cmd == protocol.CommandBroadcast {
		fs.StringVar(&f.user, "user", "", "user `NAME` to broadcast as (overrides user= in PAYLOAD)")
		fs.StringVar(&f.userPassword, "user-password", "", "user `PASSWORD`; prefer $"+envUserPassword+", which ps does not show")
	} else {
		// A watcher needs no account: --user names whose channel to watch.
		fs.StringVar(&f.user, "user", "", "`NAME` of the user whose channel to watch (overrides user= in PAYLOAD)")
	}
	fs.StringVar(&f.channel, "channel", "", "channel `NAME` (default \""+protocol.DefaultChannel+"\")")
	fs.StringVar(&f.channelPassword, "channel-password", "", "channel `PASSWORD`")
	if cmd == protocol.CommandBroadcast {
		fs.Float64Var(&f.delay, "delay", 0, "`SECONDS` the server may batch the stream before sending it to watchers (0 to 10)")
		fs.StringVar(&f.token, "token", "", "one-time `TOKEN` from \"fstream token\", instead of the user password")
	}
	fs.DurationVar(&f.timeout, "connect-timeout", client.DefaultHandshakeTimeout, "bound on connecting and on the server's answer to the handshake")
	f.tls.register(fs)
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
	o.Token = set("token", f.token)
	o.TLS = f.tls
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
	addr, conf, err := clientAddr(args[0], o.TLS)
	if err != nil {
		return client.Options{}, err
	}
	var payload string
	if len(args) > 1 {
		payload = args[1]
	}
	req, err := buildRequest(cmd, payload, o)
	if err != nil {
		return client.Options{}, asUsage(err)
	}
	return client.Options{Addr: addr, TLS: conf, Request: req, DialTimeout: timeout, HandshakeTimeout: timeout}, nil
}

// clientAddr normalizes ADDR, one address or several separated by commas,
// and builds the TLS configuration when ADDR or the flags ask for TLS. The
// addresses it returns keep tls://, so that messages show how fstream
// connected. Every error is a usage error.
func clientAddr(arg string, f tlsFlags) (string, *tls.Config, error) {
	list, err := client.SplitAddrs(arg)
	if err != nil {
		return "", nil, asUsage(err)
	}
	anyTLS := f.wanted()
	for i, a := range list {
		addr, schemeTLS, _ := client.NormalizeAddr(a) // checked by SplitAddrs
		list[i], anyTLS = addr, anyTLS || schemeTLS
	}
	if !anyTLS {
		return strings.Join(list, ","), nil, nil
	}
	conf, err := f.config()
	if err != nil {
		return "", nil, err
	}
	for i := range list {
		list[i] = client.SchemeTLS + list[i]
	}
	return strings.Join(list, ","), conf, nil
}

// buildRequest merges PAYLOAD (the handshake text, with or without its
// leading command) with the overrides. Precedence: flag, then PAYLOAD, then
// environment. Keys it does not know are kept.
func buildRequest(cmd protocol.Command, payload string, o overrides) (protocol.Request, error) {
	fields := strings.Split(payload, ",")
	switch first := protocol.Command(fields[0]); first {
	case cmd:
		fields = fields[1:]
	case protocol.CommandWatch, protocol.CommandBroadcast, protocol.CommandToken:
		return protocol.Request{}, fmt.Errorf("PAYLOAD starts with %q, but this is fstream %s", first, cmd)
	}
	values := make(map[string]string, len(fields)+6)
	// envPassword says the password is the environment's default: it does
	// not count as given when a token is.
	envPassword := false
	if o.EnvUserPassword != "" {
		if strings.Contains(o.EnvUserPassword, ",") {
			return protocol.Request{}, fmt.Errorf("$%s cannot contain a comma (the handshake is comma-separated)", envUserPassword)
		}
		values[protocol.KeyUserPassword] = o.EnvUserPassword
		envPassword = true
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
		if k == protocol.KeyUserPassword {
			envPassword = false
		}
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
		{protocol.KeyToken, o.Token},
	} {
		if f.v == nil {
			continue
		}
		if strings.Contains(*f.v, ",") {
			return protocol.Request{}, fmt.Errorf("--%s cannot contain a comma (the handshake is comma-separated)", f.key)
		}
		values[f.key] = *f.v
		if f.key == protocol.KeyUserPassword {
			envPassword = false
		}
	}
	if token, ok := values[protocol.KeyToken]; ok && cmd == protocol.CommandBroadcast {
		switch _, hasPassword := values[protocol.KeyUserPassword]; {
		case token == "":
			return protocol.Request{}, fmt.Errorf("empty token: give the one \"fstream token\" printed")
		case hasPassword && !envPassword:
			return protocol.Request{}, fmt.Errorf("give a token or a user password, not both")
		}
		// The token proves who the user is; the password need not travel.
		delete(values, protocol.KeyUserPassword)
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
