package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Behind a reverse proxy every request comes from the proxy's address, which
// is loopback when the proxy runs on the same host: the loopback-only paths
// would be open to everyone, and throttles and limits would count every
// client as one. Requests from a trusted proxy are therefore attributed to
// the client its X-Forwarded-For (or, without one, Forwarded) header names:
// the right-most address in it that is not itself a trusted proxy, since
// each proxy appends the address it received the request from and only the
// part written by trusted proxies can be believed. Headers from any other
// peer are ignored.
//
// X-Forwarded-For wins over Forwarded because it is what common proxies
// write (nginx, Caddy, HAProxy, Traefik); a proxy that writes only
// Forwarded must drop any X-Forwarded-For its clients send.

// unknownClient stands for a hop a trusted proxy wrote that is not an
// address (such as Forwarded's "unknown"): never loopback.
const unknownClient = "unknown"

// proxies is a set of trusted proxy addresses.
type proxies []netip.Prefix

// contains reports whether a is a trusted proxy.
func (p proxies) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address of the client behind a request, and
// whether it came from the request's headers rather than its peer.
func (p proxies) clientAddr(r *http.Request) (string, bool) {
	peer, err := netip.ParseAddr(hostPart(r.RemoteAddr))
	if err != nil || !p.contains(peer) {
		return r.RemoteAddr, false
	}
	hops := forwardedFor(r.Header)
	if hops == nil {
		return r.RemoteAddr, false // the proxy itself, or one that says nothing
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return unknownClient, true
		}
		if !p.contains(a) {
			return a.String(), true
		}
	}
	// Every hop is trusted: the request started at the left-most one.
	a, _ := parseHop(hops[0])
	return a.String(), true
}

// forwardedFor returns the client addresses a request's headers list, the
// original client first: X-Forwarded-For if present, else the for=
// parameters of Forwarded (RFC 7239). Several header lines count as one
// list in order.
func forwardedFor(h http.Header) []string {
	var hops []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, line := range xff {
			for _, hop := range strings.Split(line, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		return hops
	}
	for _, line := range h.Values("Forwarded") {
		for _, elem := range strings.Split(line, ",") {
			hop := unknownClient // an element without for= hides its client
			for _, pair := range strings.Split(elem, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(k, "for") {
					hop = strings.Trim(v, `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}

// parseHop parses one hop: an IP address, with or without a port, IPv6 in
// brackets or not.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// hasForwardingHeaders reports whether a request says it was forwarded by a
// proxy.
func hasForwardingHeaders(h http.Header) bool {
	return h.Get("X-Forwarded-For") != "" || h.Get("Forwarded") != "" || h.Get("X-Real-Ip") != ""
}

// hostPart returns the host of a host:port address, or the address itself.
func hostPart(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// forwardedKey marks, in a request's context, a request that carries
// forwarding headers but did not come from a trusted proxy.
type forwardedKey struct{}

// fromClient returns r as coming from its client: with the client's address
// as RemoteAddr when a trusted proxy forwarded it, and marked when a peer
// that is not trusted sent forwarding headers.
func (a *API) fromClient(r *http.Request) *http.Request {
	if client, ok := a.proxies.clientAddr(r); ok {
		r = r.WithContext(r.Context()) // a shallow copy: r is not ours to change
		r.RemoteAddr = client
		return r
	}
	if hasForwardingHeaders(r.Header) {
		r = r.WithContext(context.WithValue(r.Context(), forwardedKey{}, true))
	}
	return r
}

// forwardedUntrusted reports whether r came through a proxy that is not
// trusted: then its peer's address, loopback for a proxy on the same host,
// says nothing about the client, and the loopback-only paths are refused.
// The first such request is logged, as it means a misconfiguration.
func (a *API) forwardedUntrusted(r *http.Request) bool {
	if v, _ := r.Context().Value(forwardedKey{}).(bool); !v {
		return false
	}
	a.proxyWarn.Do(func() {
		a.log.Warn("a request with X-Forwarded-For or Forwarded came from an address not in --http-trusted-proxies: "+
			"refusing it the status page, JSON API and metrics; if a reverse proxy forwards to fstream, add its address",
			"remote", r.RemoteAddr)
	})
	return true
}
