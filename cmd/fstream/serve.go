package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/server"
)

// shutdownTimeout bounds a graceful shutdown; live streams never end on
// their own, so after it the remaining connections are closed.
const shutdownTimeout = 5 * time.Second

// serveOptions is a parsed "fstream serve".
type serveOptions struct {
	Listen string
	Users  string
	// Config holds the server settings from flags; runServe adds Auth and
	// Logger.
	Config    server.Config
	LogFormat string // "text" or "json"
	LogLevel  slog.Level
	Log       io.Writer
}

func newServeCmd(s *streams, runF func(context.Context, *serveOptions) error) *cobra.Command {
	opts := &serveOptions{Config: server.DefaultConfig(), Log: s.Err}
	var logLevel string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the relay server",
		Long: fmt.Sprintf(`Run the fstream server: accept broadcasters and watchers on --listen until
SIGINT or SIGTERM, then shut down (at most %v).

Who may broadcast is decided by the users folder: a user NAME may broadcast
with PASSWORD if NAME.ini in it holds
  [DEFAULT]
  password=PASSWORD
Watchers need no account. Logs go to stderr.`, shutdownTimeout),
		Example: `  fstream serve
  fstream serve --listen 127.0.0.1:0 --users /etc/fstream/users --log-format json`,
		Args: withUsageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.LogFormat {
			case "text", "json":
			default:
				return usageErrorf("--log-format %q: want text or json", opts.LogFormat)
			}
			if err := opts.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
				return usageErrorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			return runF(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	c := &opts.Config
	fl.StringVar(&opts.Listen, "listen", fmt.Sprintf(":%d", client.DefaultPort), "TCP `ADDRESS` to listen on (port 0 picks a free port, which is logged)")
	fl.StringVar(&opts.Users, "users", "./users", "`FOLDER` of NAME.ini files of the users who may broadcast")
	fl.DurationVar(&c.HandshakeTimeout, "handshake-timeout", c.HandshakeTimeout, "time a client has to send its handshake")
	fl.IntVar(&c.MaxHandshake, "max-handshake", c.MaxHandshake, "largest handshake accepted, in `BYTES`")
	fl.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "most open connections (0: no limit)")
	fl.DurationVar(&c.BroadcasterGrace, "broadcaster-grace", c.BroadcasterGrace, "how long watchers wait for their broadcaster to come back")
	fl.DurationVar(&c.StallTimeout, "stall-timeout", c.StallTimeout, "how long a watcher may hold its broadcaster back before it is dropped")
	fl.DurationVar(&c.MaxLag, "max-lag", c.MaxLag, "largest delay of a watcher behind the live stream before it is dropped (0: no limit)")
	fl.IntVar(&c.ChannelBuffer, "channel-buffer", c.ChannelBuffer, "`BYTES` each channel buffers for its slowest watcher")
	fl.StringVar(&opts.LogFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func runServe(ctx context.Context, opts *serveOptions) error {
	logger := newLogger(opts)
	users := auth.NewDir(opts.Users)
	cfg := opts.Config
	cfg.Auth = users
	cfg.Logger = logger
	if err := cfg.Validate(); err != nil {
		return asUsage(err)
	}
	srv, err := server.New(cfg)
	if err != nil {
		return asUsage(err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("listening", "addr", ln.Addr().String(), "users", opts.Users)
	logUsers(logger, users, opts.Users)

	// Serve's goroutine is owned here: every path below waits for it.
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		// Serve failed on its own; release what it and the server hold.
		_ = ln.Close()
		_ = srv.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("graceful shutdown incomplete; closing the remaining connections", "err", err)
		_ = srv.Close() // the error of interest was just logged
	}
	if err := <-served; err != nil && !errors.Is(err, server.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

func newLogger(opts *serveOptions) *slog.Logger {
	ho := &slog.HandlerOptions{Level: opts.LogLevel}
	if opts.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(opts.Log, ho))
	}
	return slog.New(slog.NewTextHandler(opts.Log, ho))
}

// logUsers tells a new operator how to let someone broadcast. The server
// reads the folder on each handshake, so this is advice, not a check.
func logUsers(logger *slog.Logger, users *auth.Dir, path string) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		logger.Warn("users folder does not exist: nobody can broadcast until it does", "users", path)
		return
	}
	names, err := users.Users()
	switch {
	case err != nil:
		logger.Warn("cannot list users", "users", path, "err", err)
	case len(names) == 0:
		// No backslash in the hint: both log formats would double it and
		// break the command for whoever copies it.
		logger.Info(fmt.Sprintf("no users yet: add one with `{ echo '[DEFAULT]'; echo 'password=...'; } > %s`",
			filepath.Join(path, "NAME.ini")), "users", path)
	default:
		logger.Info("users", "count", len(names))
	}
}
