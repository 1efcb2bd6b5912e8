package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fstream/fstream/internal/hls"
	"github.com/fstream/fstream/internal/record"
	"github.com/fstream/fstream/internal/server"
)

// Config configures an API.
type Config struct {
	// Server is the relay whose channels the API serves. Required.
	Server *server.Server
	// Recordings, if set, are listed at /api/v1/recordings and served at
	// /recordings/{user}/{channel}/{file} to the clients the status page
	// is for (recordings.go).
	Recordings *record.Recorder
	// AdminToken guards the operator actions (kick), given as
	// "Authorization: Bearer <token>". Empty makes the API read-only: the
	// actions answer 403.
	AdminToken string
	// AllowRemoteReads serves the read endpoints (status page, JSON API,
	// metrics) to any client. When false they answer 403 to clients that
	// are not on a loopback address. /watch, /play, /assets and /healthz
	// are always open. Behind a reverse proxy on the same host every
	// client would look like loopback: set TrustedProxies, and restrict
	// the read paths in the proxy too. A request with forwarding headers
	// from a peer that is not a trusted proxy is never served them.
	AllowRemoteReads bool
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For (or Forwarded) header names the client: a request
	// from one of them is treated as coming from the right-most address
	// in that header that is not itself a trusted proxy. Connections from
	// them are also free of the relay's per-address connection limit.
	TrustedProxies []netip.Prefix
	// Logger receives operator actions and HTTP watcher refusals. Nil
	// discards.
	Logger *slog.Logger
	// Now is the clock for uptimes and bitrate samples. Nil means time.Now.
	Now func() time.Time
	// Version is reported by the fstream_build_info metric. Empty means
	// the module version from the binary's build info.
	Version string
	// HLS, if set, serves channels as HLS under /hls/ (hls.go); nil turns
	// HLS off.
	HLS *hls.Config
	// HLSCORS is the Access-Control-Allow-Origin of HLS answers ("*" for
	// any origin); empty sends none.
	HLSCORS string
}

// sampleInterval is how often the sampler reads the channels' counters.
const sampleInterval = time.Second

// API is the HTTP side listener's handler. It implements http.Handler.
// Close stops its sampler.
type API struct {
	srv       *server.Server
	rec       *record.Recorder // nil: no recording
	log       *slog.Logger
	now       func() time.Time
	tokenHash *[sha256.Size]byte // nil: read-only
	remote    bool
	proxies   proxies
	mux       *http.ServeMux
	rates     *rateTable
	reg       *prometheus.Registry
	metrics   *httpMetrics
	hls       *hls.Manager // nil: HLS is off
	signer    *hls.Signer
	cors      string
	sessions  *sessionSet
	// hlsPasswords remembers channel passwords that opened a playlist.
	hlsPasswords passwordCache

	quit      chan struct{}
	closeOnce sync.Once
	proxyWarn sync.Once // a proxy that is not trusted was seen
	wg        sync.WaitGroup
}

// New returns an API for cfg and starts its bitrate sampler; Close stops it.
func New(cfg Config) (*API, error) {
	return newAPI(cfg, sampleInterval)
}

// newAPI is New with the sampler's interval; zero starts no sampler (tests
// call sample themselves).
func newAPI(cfg Config, interval time.Duration) (*API, error) {
	if cfg.Server == nil {
		return nil, ErrNoServer
	}
	a := &API{
		srv:      cfg.Server,
		rec:      cfg.Recordings,
		log:      cfg.Logger,
		now:      cfg.Now,
		remote:   cfg.AllowRemoteReads,
		proxies:  proxies(cfg.TrustedProxies),
		rates:    newRateTable(),
		quit:     make(chan struct{}),
		signer:   hls.NewSigner(),
		cors:     cfg.HLSCORS,
		sessions: newSessionSet(),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if cfg.AdminToken != "" {
		h := sha256.Sum256([]byte(cfg.AdminToken))
		a.tokenHash = &h
	}
	if cfg.HLS != nil {
		m, err := hls.NewManager(a.srv.Hub(), *cfg.HLS, a.log)
		if err != nil {
			return nil, fmt.Errorf("httpapi: %w", err)
		}
		a.hls = m
	}
	reg, m, err := newRegistry(a, cfg.Version)
	if err != nil {
		if a.hls != nil {
			a.hls.Close()
		}
		return nil, fmt.Errorf("httpapi: metrics: %w", err)
	}
	a.reg, a.metrics = reg, m
	a.mux = a.routes()
	a.sample()
	if interval > 0 {
		a.wg.Add(1)
		go a.runSampler(interval)
	}
	return a, nil
}

func (a *API) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /watch/{user}/{channel}", a.watch)
	mux.HandleFunc("GET /play/{user}/{channel}", a.play)
	a.hlsRoutes(mux)
	mux.Handle("GET /assets/", assetHandler("/assets/", "web/static"))
	mux.Handle("GET /assets/vendor/", assetHandler("/assets/vendor/", "web/vendor"))

	mux.Handle("GET /{$}", a.reads(http.HandlerFunc(a.statusPage)))
	mux.Handle("GET /api/v1/channels", a.reads(http.HandlerFunc(a.listChannels)))
	mux.Handle("GET /api/v1/channels/{user}/{channel}", a.reads(http.HandlerFunc(a.getChannel)))
	mux.Handle("GET /api/v1/nodes", a.reads(http.HandlerFunc(a.listNodes)))
	mux.Handle("GET /api/v1/bitrates", a.reads(http.HandlerFunc(a.listBitrates)))
	mux.Handle("GET /api/v1/recordings", a.reads(http.HandlerFunc(a.listRecordings)))
	mux.Handle("GET /recordings/{user}/{channel}/{file}", a.reads(http.HandlerFunc(a.downloadRecording)))
	mux.Handle("GET /metrics", a.reads(promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})))

	mux.Handle("POST /api/v1/channels/{user}/{channel}/kick", a.admin(http.HandlerFunc(a.kick)))
	mux.Handle("POST /api/v1/channels/{user}/{channel}/kick/{id}", a.admin(http.HandlerFunc(a.kick)))
	return mux
}

// ServeHTTP serves the API's endpoints.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	a.mux.ServeHTTP(w, a.fromClient(r))
}

// Close stops the bitrate sampler and the HLS segmenters and waits for
// them. It is idempotent. Streams being served are not affected: they end
// with the server or with the http.Server that serves the API.
func (a *API) Close() {
	a.closeOnce.Do(func() { close(a.quit) })
	if a.hls != nil {
		a.hls.Close()
	}
	a.wg.Wait()
}

func (a *API) runSampler(interval time.Duration) {
	defer a.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-a.quit:
			return
		case <-t.C:
			a.sample()
		}
	}
}

// sample records every channel's byte counters for the bitrates.
func (a *API) sample() {
	a.rates.record(a.srv.Hub().Channels(), a.now())
}

func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

// reads limits a read endpoint to loopback clients unless remote reads are
// allowed.
func (a *API) reads(h http.Handler) http.Handler {
	if a.remote {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isLoopback(r.RemoteAddr) || a.forwardedUntrusted(r) {
			textError(w, http.StatusForbidden, "this endpoint is only served to loopback clients (the server does not allow remote reads)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// admin guards an operator action with the admin token.
func (a *API) admin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.tokenHash == nil {
			textError(w, http.StatusForbidden, "the API is read-only: no admin token is configured")
			return
		}
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		// Hash both sides so that the comparison takes the same time
		// whatever the length of the guess.
		if sum := sha256.Sum256([]byte(tok)); !ok || subtle.ConstantTimeCompare(sum[:], a.tokenHash[:]) != 1 {
			a.log.Warn("operator action refused: missing or wrong admin token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="fstream"`)
			textError(w, http.StatusUnauthorized, "missing or wrong admin token (send Authorization: Bearer <token>)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// isLoopback reports whether a request's RemoteAddr is a loopback address.
func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// textError answers with a status and a one-line plain-text body.
func textError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, code)
}
