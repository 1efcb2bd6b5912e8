package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

// tokenOptions is a parsed "fstream token".
type tokenOptions struct {
	Client client.Options
	// Out gets the token alone; Err gets its lifetime, for a human.
	Out, Err io.Writer
}

func newTokenCmd(s *streams, runF func(context.Context, *tokenOptions) error, readPassword passwordReader) *cobra.Command {
	var (
		user, password string
		passwordStdin  bool
		timeout        time.Duration
		tf             tlsFlags
	)
	cmd := &cobra.Command{
		Use:   "token ADDR --user NAME",
		Short: "Get a one-time broadcast token",
		Long: `Ask the fstream server at ADDR for a one-time token that lets user NAME
broadcast once, so that the password itself need not be given to the process
that broadcasts (a camera script, a CI job). The token is printed alone on
stdout; how long it stays good (2 minutes unless the server says otherwise) on
stderr. A new token for the same user replaces the previous one.

The password is taken, in this order, from --user-password, stdin with
--password-stdin, or $` + envUserPassword + `; otherwise it is asked on the
terminal, without echo. With tls://host[:port] or --tls the connection uses
TLS, as it should: the password travels in the handshake.

Exit status: 0 with a token, 1 on an error, 2 on a usage error, 3 when the
server refuses, 130 on a signal.`,
		Example: `  T=$(fstream token tls://example.com --user fier)
  ffmpeg -re -i in.mp4 -c copy -f mpegts - | fstream broadcast tls://example.com --user fier --channel cam --token "$T"`,
		Args: withUsageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("user") {
				return usageErrorf("missing user: give --user NAME")
			}
			if err := protocol.ValidateName(user); err != nil {
				return usageErrorf("user: %w", err)
			}
			addr, conf, err := clientAddr(args[0], tf)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("user-password") && passwordStdin {
				return usageErrorf("--user-password and --password-stdin exclude each other")
			}
			pw, err := tokenPassword(cmd.Context(), s, readPassword, user, password, cmd.Flags().Changed("user-password"), passwordStdin)
			if err != nil {
				return err
			}
			if strings.Contains(pw, ",") {
				return usageErrorf("the password cannot contain a comma (the handshake is comma-separated)")
			}
			req := protocol.Request{Command: protocol.CommandToken, User: user, UserPassword: pw}
			opts := &tokenOptions{
				Client: client.Options{Addr: addr, TLS: conf, Request: req, DialTimeout: timeout, HandshakeTimeout: timeout},
				Out:    s.Out,
				Err:    s.Err,
			}
			return runF(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&user, "user", "", "user `NAME` the token is for")
	fl.StringVar(&password, "user-password", "", "user `PASSWORD`; prefer $"+envUserPassword+" or --password-stdin, which ps does not show")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin (one line)")
	fl.DurationVar(&timeout, "connect-timeout", client.DefaultHandshakeTimeout, "bound on connecting and on the server's answer")
	tf.register(fl)
	return cmd
}

// tokenPassword finds the user's password: the flag, stdin, the
// environment, or the terminal, in that order.
func tokenPassword(ctx context.Context, s *streams, read passwordReader, user, flag string, flagSet, fromStdin bool) (string, error) {
	switch {
	case flagSet:
		if flag == "" {
			return "", usageErrorf("--user-password is empty")
		}
		return flag, nil
	case fromStdin:
		return readPasswordLine(s.In)
	}
	if env := s.Getenv(envUserPassword); env != "" {
		return env, nil
	}
	pw, err := read(ctx, s.In, s.Err, "Password for "+user+": ")
	if err != nil {
		if errors.Is(err, errNoTerminal) {
			return "", usageErrorf("no password: give --password-stdin or $%s (stdin is not a terminal to type it on)", envUserPassword)
		}
		return "", err
	}
	if pw == "" {
		return "", usageErrorf("empty password")
	}
	return pw, nil
}

func runToken(ctx context.Context, opts *tokenOptions) error {
	token, expiresIn, err := client.RequestToken(ctx, opts.Client)
	if err != nil {
		return explainTLS(err)
	}
	fmt.Fprintln(opts.Out, token)
	if expiresIn > 0 {
		fmt.Fprintf(opts.Err, "token for %s: good for one broadcast within %v\n", opts.Client.Request.User, expiresIn)
	} else {
		fmt.Fprintf(opts.Err, "token for %s: good for one broadcast\n", opts.Client.Request.User)
	}
	return nil
}
