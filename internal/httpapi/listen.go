package httpapi

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Limits of the HTTP side's connections, which anyone can open.
const (
	// MaxHeaderBytes bounds a request's header. The API's requests are
	// small; net/http's default (1 MiB) would let each connection hold a
	// megabyte with one unfinished header line.
	MaxHeaderBytes = 16 << 10
	// ReadHeaderTimeout bounds the time a client has to send its request
	// header (and to complete a TLS handshake), as the relay's handshake
	// timeout does.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes kept-alive connections nobody uses.
	IdleTimeout = time.Minute
)

// HTTPServer returns an http.Server for the API with the limits a public
// listener needs; errorLog receives net/http's own complaints at debug
// level. There is no ReadTimeout or WriteTimeout: a stream is long, and
// each of its writes has the hub's deadline.
func (a *API) HTTPServer(errorLog *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           a,
		MaxHeaderBytes:    MaxHeaderBytes,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		ErrorLog:          slog.NewLogLogger(errorLog.Handler(), slog.LevelDebug),
	}
}

// Listener returns ln with the relay's connection limits (MaxConns,
// MaxConnsPerIP) applied to the HTTP connections it accepts, counted
// together with the relay's TCP connections. Trusted proxies are free of
// the per-address limit. Wrap it in TLS, if any, afterwards.
func (a *API) Listener(ln net.Listener) net.Listener {
	return a.srv.LimitListener(ln, a.proxies.contains)
}
