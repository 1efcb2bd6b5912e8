package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/certs"
	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/config"
	"github.com/fstream/fstream/internal/httpapi"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/record"
	"github.com/fstream/fstream/internal/server"
)

// Defaults of serve flags that are not server.Config settings.
const (
	// defaultShutdownTimeout bounds a graceful shutdown; live streams never
	// end on their own, so after it the remaining connections are closed.
	defaultShutdownTimeout = 10 * time.Second
	// certExpiryWarning is how close to its expiry a certificate is
	// logged as a warning.
	certExpiryWarning = 7 * 24 * time.Hour
	// authCacheTTL is how long an --auth-url answer is reused, so that a
	// broadcaster reconnecting in a loop does not hammer the service.
	authCacheTTL = 10 * time.Second
)

// serveOptions is a parsed "fstream serve".
type serveOptions struct {
	Listen string
	Users  string
	// Config holds the server settings from flags; runServe adds Auth,
	// Logger and TLS.
	Config server.Config
	// Join and SlowPolicy are the join and slow-watcher policies, by name.
	Join, SlowPolicy string
	LogFormat        string // "text" or "json"
	LogLevel         slog.Level
	Log              io.Writer

	// ConfigFile is the settings file read (--config or $FSTREAM_CONFIG),
	// or ""; Settings lists the flags not at their defaults and where
	// their values came from.
	ConfigFile string
	Settings   []setting

	// TLSCert and TLSKey are PEM files, both set or neither.
	TLSCert, TLSKey string
	// ShutdownTimeout bounds the graceful shutdown after SIGINT or SIGTERM.
	ShutdownTimeout time.Duration

	// HTTPAddr is the address of the HTTP listener, "" for none;
	// HTTPAdminToken guards its admin endpoints.
	HTTPAddr       string
	HTTPAdminToken string
	// HTTPPublicStatus serves the status page, API and metrics to any
	// address, not only loopback.
	HTTPPublicStatus bool
	// HTTPTrustedProxies are reverse proxies whose X-Forwarded-For names
	// the client.
	HTTPTrustedProxies []netip.Prefix
	// AuthURL, if set, decides who may broadcast instead of the users
	// folder, waiting at most AuthTimeout per request.
	AuthURL     string
	AuthTimeout time.Duration
	// TokenTTL is how long a one-time broadcast token stays good.
	TokenTTL time.Duration
	// Cluster holds the cluster flags (serve_cluster.go).
	Cluster clusterOptions
	// HLS holds the HLS flags (serve_hls.go).
	HLS hlsOptions
	// Record holds the recording flags (serve_record.go).
	Record recordOptions

	// Self is the command as the user typed it, for hints that tell them
	// what to run ("bin/fstream user add ...").
	Self string

	// hangups delivers SIGHUP, which reloads the certificate. If nil,
	// runServe subscribes to the process's SIGHUP; tests send their own.
	hangups <-chan os.Signal
}

func newServeCmd(s *streams, runF func(context.Context, *serveOptions) error) *cobra.Command {
	opts := &serveOptions{Config: server.DefaultConfig(), Log: s.Err, Self: s.Self}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the relay server",
		Long: fmt.Sprintf(`Run the fstream server: accept broadcasters and watchers on --listen until
SIGINT or SIGTERM, then shut down gracefully within --shutdown-timeout (a
second signal stops at once). SIGHUP reloads the TLS certificate.

Who may broadcast is decided by the users folder: a user NAME may broadcast
with PASSWORD if NAME.ini in it holds
  [DEFAULT]
  password=PASSWORD
Watchers need no account. Logs go to stderr.

With --cluster the server is one node of a cluster kept in NATS (2.11 or
newer, with JetStream): any node serves any live channel, pulling it from
the node its broadcaster is on (docs/CLUSTER.md).

Every flag can also be set in a settings file named by --config (or
$%s), one "flag-name = value" per line, and in an environment
variable %s<FLAG_NAME>, such as %sMAX_LAG=5s. A flag on the command
line wins over the environment, which wins over the file, which wins over
the default. fstream.example.ini lists every setting.`, envConfig, envPrefix, envPrefix),
		Example: `  fstream serve
  fstream serve --listen 127.0.0.1:0 --users /etc/fstream/users --log-format json
  fstream serve --config /etc/fstream/fstream.ini --tls-cert cert.pem --tls-key key.pem
  fstream serve --cluster nats://nats1:4222,nats://nats2:4222 --advertise node1.example.org:61920`,
		Args: withUsageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			set, err := applySettings(fl, s.Getenv)
			if err != nil {
				return asUsage(err)
			}
			opts.ConfigFile = set.File
			opts.Settings = set.changed(fl)
			if err := opts.check(set); err != nil {
				return asUsage(err)
			}
			return runF(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	c := &opts.Config
	fl.String(configFlag, "", "settings `FILE` (INI, flag-name = value; see fstream.example.ini); default $"+envConfig)
	fl.StringVar(&opts.Listen, "listen", fmt.Sprintf(":%d", client.DefaultPort), "TCP `ADDRESS` to listen on (port 0 picks a free port, which is logged)")
	fl.StringVar(&opts.Users, "users", "./users", "`FOLDER` of NAME.ini files of the users who may broadcast")
	fl.DurationVar(&c.HandshakeTimeout, "handshake-timeout", c.HandshakeTimeout, "time a client has to send its handshake")
	fl.IntVar(&c.MaxHandshake, "max-handshake", c.MaxHandshake, "largest handshake accepted, in `BYTES`")
	fl.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "most open connections (0: no limit)")
	fl.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "most open connections from one IP address (0: no limit)")
	fl.IntVar(&c.MaxChannels, "max-channels", c.MaxChannels, "most live channels (0: no limit)")
	fl.IntVar(&c.MaxWatchersPerChannel, "max-watchers-per-channel", c.MaxWatchersPerChannel, "most watchers of one channel (0: no limit)")
	fl.IntVar(&c.AuthFailuresPerMinute, "auth-failures-per-minute", c.AuthFailuresPerMinute, "failed logins one IP address may make per minute before it is refused (0: no limit)")
	fl.DurationVar(&c.BroadcasterGrace, "broadcaster-grace", c.BroadcasterGrace, "how long watchers wait for their broadcaster to come back")
	fl.DurationVar(&c.MaxWatchWait, "max-watch-wait", c.MaxWatchWait, "how long a watcher that asked to wait (watch --wait) is held for a channel that is not live (0: not at all)")
	fl.DurationVar(&c.StallTimeout, "stall-timeout", c.StallTimeout, "how long a watcher may hold its broadcaster back before it is dropped")
	fl.DurationVar(&c.MaxLag, "max-lag", c.MaxLag, "largest delay of a watcher behind the live stream before it is dropped (0: no limit)")
	fl.IntVar(&c.ChannelBuffer, "channel-buffer", c.ChannelBuffer, "`BYTES` each channel buffers for its slowest watcher")
	fl.DurationVar(&c.Coalesce, "coalesce", c.Coalesce, "how long a channel's new bytes may wait to go to watchers in fewer, larger writes (0: at once; a broadcaster's longer delay= wins)")
	fl.IntVar(&c.Writers, "writers", c.Writers, "goroutines per channel that write to the watchers whose sockets have room (0: one per CPU; -1: each watcher writes from its own goroutine)")
	fl.IntVar(&c.WatcherSendBuffer, "watcher-sndbuf", c.WatcherSendBuffer, "kernel send buffer of each watcher socket in `BYTES` (0: kernel autotuning)")
	fl.IntVar(&c.GOPCache, "gop-cache", c.GOPCache, "`BYTES` of the latest group of pictures kept for joining watchers (at most half the channel buffer)")
	fl.Var(newChoiceValue(&opts.Join, string(c.DefaultJoin), string(hub.JoinGOP), string(hub.JoinKeyframe), string(hub.JoinLive)), "join", "where watchers start in a media stream: gop, keyframe or live")
	fl.DurationVar(&c.JoinTimeout, "join-timeout", c.JoinTimeout, "how long a watcher waits for a keyframe to start at before it starts at the safest boundary the stream offers")
	fl.Var(newChoiceValue(&opts.SlowPolicy, string(c.SlowPolicy), string(hub.SlowSkip), string(hub.SlowDisconnect)), "slow-policy", "what happens to a media watcher past --max-lag: skip (to the newest keyframe) or disconnect")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "PEM `FILE` of the TLS certificate chain; TLS and plain clients share --listen")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "PEM `FILE` of the TLS private key")
	fl.BoolVar(&c.TLSRequired, "tls-required", c.TLSRequired, "refuse clients that do not use TLS")
	fl.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long a graceful shutdown may take before the remaining connections are closed")
	fl.StringVar(&opts.HTTPAddr, "http", "", "`ADDRESS` of the HTTP listener (empty: none); keep it on loopback or behind a proxy")
	fl.StringVar(&opts.HTTPAdminToken, "http-admin-token", "", "bearer `TOKEN` for the HTTP admin endpoints; prefer $"+config.EnvName(envPrefix, "http-admin-token"))
	markSecret(fl, "http-admin-token")
	fl.BoolVar(&opts.HTTPPublicStatus, "http-public-status", false, "serve the status page, JSON API and metrics to any address (default: loopback only; /watch, /play and /healthz are always open)")
	fl.Var(prefixListValue{&opts.HTTPTrustedProxies}, "http-trusted-proxies", "reverse proxies (`CIDR`s or addresses, comma-separated) whose X-Forwarded-For or Forwarded header names the HTTP client; see docs/DEPLOY.md")
	fl.StringVar(&opts.AuthURL, "auth-url", "", "decide who may broadcast by POSTing each attempt to this http(s) `URL` (2xx allows) instead of the users folder")
	fl.DurationVar(&opts.AuthTimeout, "auth-timeout", auth.DefaultHTTPTimeout, "how long one --auth-url request may take")
	fl.DurationVar(&opts.TokenTTL, "token-ttl", auth.DefaultTokenTTL, "how long a one-time broadcast token stays good")
	addClusterFlags(fl, &opts.Cluster)
	addHLSFlags(fl, &opts.HLS)
	addRecordFlags(fl, &opts.Record)
	fl.Var(newChoiceValue(&opts.LogFormat, "text", "text", "json"), "log-format", "log format: text or json")
	opts.LogLevel = slog.LevelInfo
	fl.Var(levelValue{&opts.LogLevel}, "log-level", "log level: debug, info, warn or error")
	for flag, placeholder := range map[string]string{"join": "POLICY", "slow-policy": "POLICY", "log-format": "FORMAT"} {
		setPlaceholder(fl, flag, placeholder)
	}
	return cmd
}

// check reports settings that are wrong together or out of range, naming
// where each came from; server.Config.Validate checks the server's own.
func (o *serveOptions) check(set settings) error {
	var errs []error
	switch {
	case (o.TLSCert == "") != (o.TLSKey == ""):
		errs = append(errs, fmt.Errorf("%s and %s go together: set both, or neither", set.flag("tls-cert"), set.flag("tls-key")))
	case o.Config.TLSRequired && o.TLSCert == "":
		errs = append(errs, fmt.Errorf("%s needs a certificate: set --tls-cert and --tls-key", set.flag("tls-required")))
	}
	if o.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s %v must not be negative", set.flag("shutdown-timeout"), o.ShutdownTimeout))
	}
	if o.AuthTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%s %v must be positive", set.flag("auth-timeout"), o.AuthTimeout))
	}
	errs = append(errs, o.HLS.check(set)...)
	if o.TokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("%s %v must be positive", set.flag("token-ttl"), o.TokenTTL))
	}
	if o.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(o.HTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want HOST:PORT, such as 127.0.0.1:8080", set.flag("http"), o.HTTPAddr))
		}
	}
	if o.AuthURL != "" {
		if u, err := url.Parse(o.AuthURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: want an http:// or https:// URL", set.flag("auth-url")))
		}
	}
	errs = append(errs, o.Cluster.check(set, o.Listen)...)
	errs = append(errs, o.Record.check(set)...)
	return errors.Join(errs...)
}

func runServe(ctx context.Context, opts *serveOptions) error {
	// Subscribe first: SIGHUP's default action would end the process.
	hangups := opts.hangups
	reloadable := true
	if hangups == nil {
		ch := make(chan os.Signal, 1)
		reloadable = notifyReload(ch) // no SIGHUP on Windows
		defer signal.Stop(ch)
		hangups = ch
	}
	logger := newLogger(opts)
	logSettings(logger, opts)
	users := auth.NewDir(opts.Users)
	cfg := opts.Config
	cfg.DefaultJoin = hub.JoinPolicy(opts.Join)
	cfg.SlowPolicy = hub.SlowPolicy(opts.SlowPolicy)
	cfg.Auth = users
	if opts.AuthURL != "" {
		remote, err := auth.NewHTTP(opts.AuthURL, opts.AuthTimeout, authCacheTTL)
		if err != nil {
			return asUsage(fmt.Errorf("--auth-url: %w", err))
		}
		defer remote.Close()
		cfg.Auth = remote
		logger.Info("broadcasters are authorised by the auth URL", "url", remote.URL())
	}
	cfg.Tokens = auth.NewTokens(opts.TokenTTL, time.Now)
	cfg.Logger = logger
	var reloader *certs.Reloader
	if opts.TLSCert != "" {
		var err error
		if reloader, err = certs.NewReloader(opts.TLSCert, opts.TLSKey); err != nil {
			return err // it names both files
		}
		cfg.TLS = reloader.TLSConfig()
		logCertificate(logger, "certificate loaded", reloader.Leaf())
		if !reloadable {
			logger.Info("this system has no SIGHUP: restart the server to load a renewed certificate")
		}
	}
	srv, err := server.New(cfg) // validates cfg: a bad setting is a usage error
	if err != nil {
		return asUsage(err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("listening", "addr", ln.Addr().String(), "users", opts.Users,
		"tls", cfg.TLS != nil, "tls_required", cfg.TLSRequired)
	logUsers(logger, users, opts.Users, opts.Self)
	if err := joinCluster(ctx, opts, srv, ln); err != nil {
		_ = ln.Close()
		_ = srv.Close()
		return err
	}
	rec, web, err := startRecorderAndHTTP(opts, srv, ln.Addr().String(), cfg.TLS, logger)
	if err != nil {
		_ = ln.Close()
		_ = srv.Close()
		return err
	}
	defer rec.Close() // after the HTTP side stops serving recordings
	defer web.stop(logger, opts.ShutdownTimeout)

	// Serve's goroutine is owned here: every path below waits for it.
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
wait:
	for {
		select {
		case err := <-served:
			// Serve failed on its own; release what it and the server hold.
			_ = ln.Close()
			_ = srv.Close()
			return fmt.Errorf("serve: %w", err)
		case <-hangups:
			reloadCertificate(logger, reloader)
		case <-ctx.Done():
			break wait
		}
	}

	// A second SIGINT or SIGTERM now ends the process at once (see main).
	logger.Info("shutting down", "timeout", opts.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
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

// logSettings says which settings file was read and, at debug level,
// where each setting not at its default came from.
func logSettings(logger *slog.Logger, opts *serveOptions) {
	if opts.ConfigFile != "" {
		logger.Info("settings file read", "path", opts.ConfigFile)
	}
	for _, s := range opts.Settings {
		logger.Debug("setting", "name", s.Name, "value", s.Value, "from", s.Origin.String())
	}
}

// httpSide is the optional HTTP listener (--http): status API, metrics,
// HTTP watching and the browser player.
type httpSide struct {
	api    *httpapi.API
	srv    *http.Server
	served chan error
}

// startHTTP starts the HTTP listener if --http is set; its goroutine is
// owned by the returned httpSide, which stop waits for.
func startHTTP(opts *serveOptions, srv *server.Server, rec *record.Recorder, streamAddr string, tlsConfig *tls.Config, logger *slog.Logger) (*httpSide, error) {
	if opts.HTTPAddr == "" {
		return nil, nil
	}
	api, err := httpapi.New(httpapi.Config{
		Server:           srv,
		Recordings:       rec,
		AdminToken:       opts.HTTPAdminToken,
		AllowRemoteReads: opts.HTTPPublicStatus,
		TrustedProxies:   opts.HTTPTrustedProxies,
		Logger:           logger,
		Version:          versionString(),
		HLS:              opts.HLS.config(),
		HLSCORS:          opts.HLS.CORS,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		api.Close()
		return nil, fmt.Errorf("listen --http: %w", err)
	}
	// The relay's connection limits count the raw connections, before
	// any TLS handshake; each port tells a client that mixed them up where
	// to go.
	srv.SetHTTPAddr(ln.Addr().String())
	ln = httpapi.NewListener(api.Listener(ln), streamAddr)
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	h := &httpSide{api: api, srv: api.HTTPServer(logger), served: make(chan error, 1)}
	go func() { h.served <- h.srv.Serve(ln) }()
	logger.Info("http listening", "addr", ln.Addr().String(), "tls", tlsConfig != nil,
		"admin", opts.HTTPAdminToken != "", "public_status", opts.HTTPPublicStatus,
		"trusted_proxies", prefixListValue{&opts.HTTPTrustedProxies}.String())
	warnHTTPExposure(logger, opts, ln.Addr())
	return h, nil
}

// stop shuts the HTTP side down after the relay (whose Shutdown already
// ended the HTTP streams) and waits for its goroutines.
func (h *httpSide) stop(logger *slog.Logger, timeout time.Duration) {
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		logger.Warn("http shutdown incomplete", "err", err)
		_ = h.srv.Close()
	}
	if err := <-h.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("http server stopped", "err", err)
	}
	h.api.Close()
}

// reloadCertificate reloads the TLS certificate on SIGHUP. A failure is
// logged and the previous certificate stays in service.
func reloadCertificate(logger *slog.Logger, r *certs.Reloader) {
	if r == nil {
		logger.Info("SIGHUP: no TLS certificate to reload (the users folder is read at every login anyway)")
		return
	}
	if err := r.Reload(); err != nil {
		logger.Error("certificate reload failed; still serving the previous certificate", "err", err)
		return
	}
	logCertificate(logger, "certificate reloaded", r.Leaf())
}

// logCertificate logs what a certificate is for and when it expires,
// as a warning when that is soon or past.
func logCertificate(logger *slog.Logger, msg string, leaf *x509.Certificate) {
	names := leaf.DNSNames
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	attrs := []any{"subject", leaf.Subject.CommonName, "names", strings.Join(names, ","),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
	switch left := time.Until(leaf.NotAfter); {
	case left <= 0:
		logger.Warn(msg+"; it has EXPIRED: clients will refuse it", attrs...)
	case left < certExpiryWarning:
		logger.Warn(msg+"; it expires soon", append(attrs, "expires_in", left.Round(time.Minute).String())...)
	default:
		logger.Info(msg, attrs...)
	}
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
func logUsers(logger *slog.Logger, users *auth.Dir, path, self string) {
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
		logger.Info(fmt.Sprintf("no users yet: add one with `%s user add NAME --users %s` (or `{ echo '[DEFAULT]'; echo 'password=...'; } > %s`)",
			commandName(self), path, filepath.Join(path, "NAME.ini")), "users", path)
	default:
		logger.Info("users", "count", len(names))
		warnWeakHashes(logger, users)
	}
}

// commandName is fstream as the user must type it: the path they ran it by
// (bin/fstream, ./fstream) when it has one, else "fstream", found in PATH.
func commandName(self string) string {
	if self == "" || !strings.ContainsAny(self, `/\`) {
		return "fstream"
	}
	return self
}
