package server_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/certs/certstest"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	c := certstest.New(t, "127.0.0.1")
	cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certstest.Pool(c)
}

func dialTLS(t *testing.T, addr string, pool *x509.CertPool) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTLSAndPlainSharePort: a TLS broadcaster, a TLS watcher and a plain
// legacy watcher on one port, all byte-exact.
func TestTLSAndPlainSharePort(t *testing.T) {
	cert, pool := selfSigned(t)
	ts := servertest.Start(t, func(c *server.Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		c.BroadcasterGrace = 0
	})
	b := dialTLS(t, ts.Addr, pool)
	b.Write(servertest.Frame("broadcast,ack=1,user=fier,user-password=123"))
	if st, err := servertest.ReadStatus(b); st != "ok" {
		t.Fatalf("TLS broadcaster: %q %v", st, err)
	}
	tw := dialTLS(t, ts.Addr, pool)
	tw.Write(servertest.Frame("watch,ack=1,user=fier"))
	if st, err := servertest.ReadStatus(tw); st != "ok" {
		t.Fatalf("TLS watcher: %q %v", st, err)
	}
	plain := servertest.Dial(t, ts.Addr)
	plain.Write(servertest.Frame("watch,user=fier"))
	servertest.WaitFor(t, "two watchers", func() bool { return ts.Watchers("fier", "default") == 2 })

	data := servertest.Payload(31, 4<<20)
	d1, d2 := servertest.StartDrain(tw), servertest.StartDrain(plain)
	servertest.WriteInPieces(b, data, 31)
	b.CloseWrite()
	want := sha256.Sum256(data)
	if d1.Wait(); d1.Sum != want {
		t.Errorf("TLS watcher got %d bytes, hash mismatch", d1.N)
	}
	if d2.Wait(); d2.Sum != want {
		t.Errorf("plain watcher got %d bytes, hash mismatch", d2.N)
	}
}

func TestTLSRequired(t *testing.T) {
	cert, pool := selfSigned(t)
	ts := servertest.Start(t, func(c *server.Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		c.TLSRequired = true
	})
	_, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier")
	if !strings.HasPrefix(st, "error,reason=forbidden,message=this server requires TLS") {
		t.Fatalf("plain client: %q", st)
	}
	c := dialTLS(t, ts.Addr, pool)
	c.Write(servertest.Frame("watch,ack=1,user=fier"))
	if st, _ := servertest.ReadStatus(c); !strings.HasPrefix(st, "error,reason=not-found,") {
		t.Fatalf("TLS client: %q, want not-found (TLS accepted)", st)
	}
}

// TestTLSClientPlainServer: a TLS client gets a plain error frame, which
// its TLS stack reports as not being TLS.
func TestTLSClientPlainServer(t *testing.T) {
	ts := servertest.Start(t, nil)
	_, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ts.Addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil || !strings.Contains(err.Error(), "does not look like a TLS handshake") {
		t.Fatalf("TLS dial to a plain server: %v", err)
	}
}

func TestLimits(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		ts := servertest.Start(t, func(c *server.Config) { c.MaxConnsPerIP = 2 })
		servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
		servertest.MustHandshake(t, ts.Addr, "watch,user=fier")
		_, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier")
		if !strings.HasPrefix(st, "error,reason=busy,message=too many connections from 127.0.0.1") {
			t.Fatalf("third connection: %q", st)
		}
	})
	t.Run("channels", func(t *testing.T) {
		ts := servertest.Start(t, func(c *server.Config) { c.MaxChannels = 1 })
		servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=a")
		_, st := servertest.DialHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=b")
		if !strings.HasPrefix(st, "error,reason=busy,") {
			t.Fatalf("second channel: %q", st)
		}
		// Taking over an existing channel is not a new channel.
		servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=a")
	})
	t.Run("watchers per channel", func(t *testing.T) {
		ts := servertest.Start(t, func(c *server.Config) { c.MaxWatchersPerChannel = 1 })
		servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
		servertest.MustHandshake(t, ts.Addr, "watch,user=fier")
		_, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier")
		if !strings.HasPrefix(st, "error,reason=busy,") {
			t.Fatalf("second watcher: %q", st)
		}
	})
	t.Run("failed logins", func(t *testing.T) {
		ts := servertest.Start(t, func(c *server.Config) { c.AuthFailuresPerMinute = 3 })
		for i := range 3 {
			if _, st := servertest.DialHandshake(t, ts.Addr, "broadcast,user=fier,user-password=guess"); !strings.HasPrefix(st, "error,reason=unauthorized,") {
				t.Fatalf("guess %d: %q", i, st)
			}
		}
		// Now even the right password waits: guessing must not go on.
		if _, st := servertest.DialHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123"); !strings.HasPrefix(st, "error,reason=busy,message=too many failed logins") {
			t.Fatalf("after 3 failures: %q", st)
		}
		// Watchers do not log in and are not throttled.
		if _, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier"); !strings.HasPrefix(st, "error,reason=not-found,") {
			t.Fatalf("watcher: %q", st)
		}
	})
}

// fakeTokens is a minimal TokenStore for the server's side of tokens.
type fakeTokens struct {
	mu     sync.Mutex
	issued map[string]string
}

func (f *fakeTokens) Issue(user string) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := fmt.Sprintf("tok-%s-%d", user, len(f.issued))
	f.issued[user] = tok
	return tok, time.Now().Add(2 * time.Minute), nil
}

func (f *fakeTokens) Redeem(user, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.issued[user] != token || token == "" {
		return auth.ErrDenied
	}
	delete(f.issued, user)
	return nil
}

func TestTokens(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.Tokens = &fakeTokens{issued: map[string]string{}} })
	if _, st := servertest.DialHandshake(t, ts.Addr, "token,user=fier,user-password=nope"); !strings.HasPrefix(st, "error,reason=unauthorized,") {
		t.Fatalf("token with a wrong password: %q", st)
	}
	// A token request is always answered, even without ack=1.
	c := servertest.Dial(t, ts.Addr)
	c.Write(servertest.Frame("token,user=fier,user-password=123"))
	st, err := servertest.ReadStatus(c)
	if err != nil || !strings.HasPrefix(st, "ok,expires-in=") || !strings.Contains(st, ",token=tok-fier-0") {
		t.Fatalf("token: %q %v", st, err)
	}
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,token=tok-fier-0")
	if _, st := servertest.DialHandshake(t, ts.Addr, "broadcast,user=fier,token=tok-fier-0"); !strings.HasPrefix(st, "error,reason=unauthorized,") {
		t.Fatalf("token used twice: %q", st)
	}
	// A bad token is named as such, the same for any user.
	for _, text := range []string{"broadcast,user=fier,token=tok-fier-0", "broadcast,user=nobody,token=x"} {
		if _, st := servertest.DialHandshake(t, ts.Addr, text); st != "error,reason=unauthorized,message=token unknown, used or expired" {
			t.Errorf("%s: %q", text, st)
		}
	}
}

func TestKickAndCounters(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.BroadcasterGrace = time.Hour })
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	w1 := servertest.MustHandshake(t, ts.Addr, "watch,user=fier")
	w2 := servertest.MustHandshake(t, ts.Addr, "watch,user=fier")
	b.Write([]byte("12345"))
	for _, w := range []net.Conn{w1, w2} {
		w.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.ReadFull(w, make([]byte, 5))
	}
	ch := ts.Channel("fier", "default")
	info := ch.Info()
	if info.Broadcaster == nil || len(info.Watchers) != 2 || info.Stats.BytesIn != 5 {
		t.Fatalf("info: %+v", info)
	}
	servertest.WaitFor(t, "bytes out counted", func() bool { return ch.Stats().BytesOut == 10 })
	if !ch.Kick(info.Watchers[0].ID) {
		t.Fatal("kick by id removed nothing")
	}
	servertest.WaitFor(t, "one watcher left", func() bool { return len(ch.Info().Watchers) == 1 })
	ch.Kick(0)
	servertest.ExpectClosed(t, b)
	servertest.ExpectClosed(t, w1)
	servertest.ExpectClosed(t, w2)
	cs := ts.Counters()
	if cs.Handshakes[server.HandshakeOK] != 3 || cs.Hub.BytesIn != 5 || cs.Hub.BytesOut != 10 || cs.Hub.Evictions[hub.ReasonKicked] != 3 {
		t.Fatalf("counters: %+v", cs)
	}
}
