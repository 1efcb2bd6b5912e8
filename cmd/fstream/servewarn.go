package main

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/fstream/fstream/internal/auth"
)

// warnWeakHashes names the users whose bcrypt hashes are cheaper than the
// default cost: quick to crack if the users folder leaks. Their logins are
// padded to the default cost, so timing does not single them out.
func warnWeakHashes(logger *slog.Logger, users *auth.Dir) {
	entries, err := users.List()
	if err != nil {
		return // logUsers has reported the folder already
	}
	var weak []string
	for _, e := range entries {
		if e.Cost > 0 && e.Cost < auth.WeakCost {
			weak = append(weak, e.Name)
		}
	}
	if len(weak) > 0 {
		logger.Warn("weak password hashes: bcrypt cost below the default; run `fstream user passwd NAME` for each",
			"users", strings.Join(weak, ","), "min_cost", auth.WeakCost)
	}
}

// warnHTTPExposure warns about HTTP settings under which the status page,
// the JSON API (with every client's address) and the metrics may be
// served to anyone.
func warnHTTPExposure(logger *slog.Logger, opts *serveOptions, addr net.Addr) {
	for _, p := range opts.HTTPTrustedProxies {
		if p.Bits() == 0 {
			logger.Warn("--http-trusted-proxies includes every address: any client can claim to be any other, loopback included",
				"prefix", p.String())
		}
	}
	switch {
	case opts.HTTPPublicStatus:
		logger.Warn("--http-public-status: the status page, the JSON API (with every client's address) and the metrics are served to anyone")
	case len(opts.HTTPTrustedProxies) == 0 && isLoopbackAddr(addr):
		logger.Warn("the HTTP side is on a loopback address: if a reverse proxy on this host forwards to it, every client looks local "+
			"and would get the status page, JSON API and metrics; set --http-trusted-proxies to the proxy's address and block /, /api/ "+
			"and /metrics in the proxy (docs/DEPLOY.md). Requests that carry X-Forwarded-For or Forwarded are refused them meanwhile",
			"addr", addr.String())
	}
}

// isLoopbackAddr reports whether a listener's address is a loopback one.
func isLoopbackAddr(addr net.Addr) bool {
	ap, err := netip.ParseAddrPort(addr.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
