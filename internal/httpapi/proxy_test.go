package httpapi

import (
	"net/http"
	"net/netip"
	"testing"
)

// clientAddrCases drive TestClientAddr and seed FuzzClientAddr.
var clientAddrCases = []struct {
	name, remote, xff, fwd string
	want                   string
	proxied                bool
}{
	{"untrusted peer", "192.0.2.1:5000", "127.0.0.1", "", "192.0.2.1:5000", false},
	{"trusted peer, no header", "127.0.0.1:5000", "", "", "127.0.0.1:5000", false},
	{"one hop", "127.0.0.1:5000", "203.0.113.7", "", "203.0.113.7", true},
	{"right-most untrusted", "127.0.0.1:5000", "198.51.100.1, 203.0.113.7", "", "203.0.113.7", true},
	{"trusted hops skipped", "127.0.0.1:5000", "203.0.113.7, 10.1.2.3", "", "203.0.113.7", true},
	{"all trusted", "127.0.0.1:5000", "10.0.0.5, 127.0.0.1", "", "10.0.0.5", true},
	{"port and brackets", "127.0.0.1:5000", "[2001:db8::1]:443", "", "2001:db8::1", true},
	{"IPv4 with port", "127.0.0.1:5000", "203.0.113.7:1234", "", "203.0.113.7", true},
	{"mapped", "[::ffff:127.0.0.1]:5000", "::ffff:203.0.113.7", "", "203.0.113.7", true},
	{"garbage", "127.0.0.1:5000", "evil", "", unknownClient, true},
	{"empty hop", "127.0.0.1:5000", "203.0.113.7,", "", unknownClient, true},
	{"Forwarded", "127.0.0.1:5000", "", `for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`, "2001:db8:cafe::17", true},
	{"Forwarded, case", "127.0.0.1:5000", "", `For=203.0.113.7`, "203.0.113.7", true},
	{"Forwarded, hidden", "127.0.0.1:5000", "", `for=_hidden`, unknownClient, true},
	{"Forwarded, no for", "127.0.0.1:5000", "", `proto=https`, unknownClient, true},
	{"X-Forwarded-For wins", "127.0.0.1:5000", "203.0.113.7", "for=127.0.0.1", "203.0.113.7", true},
}

var testProxies = proxies{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}

func TestClientAddr(t *testing.T) {
	for _, tt := range clientAddrCases {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.fwd != "" {
			r.Header.Set("Forwarded", tt.fwd)
		}
		got, proxied := testProxies.clientAddr(r)
		if got != tt.want || proxied != tt.proxied {
			t.Errorf("%s: clientAddr = %q, %v; want %q, %v", tt.name, got, proxied, tt.want, tt.proxied)
		}
	}
}

// FuzzClientAddr: whatever the headers, the client is the peer itself (when
// it is not a trusted proxy or names nobody), an address that is not a
// trusted proxy unless every hop is, or "unknown".
func FuzzClientAddr(f *testing.F) {
	for _, c := range clientAddrCases {
		f.Add(c.remote, c.xff, c.fwd)
	}
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if fwd != "" {
			r.Header.Set("Forwarded", fwd)
		}
		got, proxied := testProxies.clientAddr(r)
		if !proxied {
			if got != remote {
				t.Fatalf("not proxied, but the client %q is not the peer %q", got, remote)
			}
			return
		}
		peer, err := netip.ParseAddr(hostPart(remote))
		if err != nil || !testProxies.contains(peer) {
			t.Fatalf("headers believed from peer %q, which is not trusted", remote)
		}
		if got == unknownClient {
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("client %q is neither an address nor %q", got, unknownClient)
		}
		if testProxies.contains(a) {
			// Only when every hop is trusted: the left-most one.
			for _, hop := range forwardedFor(r.Header) {
				if h, ok := parseHop(hop); !ok || !testProxies.contains(h) {
					t.Fatalf("client %q is a trusted proxy although hop %q is not", got, hop)
				}
			}
		}
	})
}
