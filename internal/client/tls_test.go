package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/certs/certstest"
	"github.com/fstream/fstream/internal/protocol"
)

// testCA is a self-signed certificate for 127.0.0.1 made for one test,
// and a pool that trusts it.
type testCA struct {
	pool   *x509.CertPool
	server tls.Certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	c := certstest.New(t, "127.0.0.1")
	cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{pool: certstest.Pool(c), server: cert}
}

// startFakeTLS is startFake behind TLS with ca's server certificate.
func startFakeTLS(t *testing.T, ca *testCA, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFake(t, tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{ca.server}}), handle)
}

// tlsOpts returns options for a TLS connection to addr that trust ca.
func tlsOpts(addr string, ca *testCA, req protocol.Request) Options {
	return Options{Addr: SchemeTLS + addr, Request: req, TLS: &tls.Config{RootCAs: ca.pool}}
}

// TestTLSOptionWithoutScheme checks that Options.TLS alone asks for TLS.
func TestTLSOptionWithoutScheme(t *testing.T) {
	ca := newTestCA(t)
	addr := startFakeTLS(t, ca, func(c net.Conn) {
		readHandshake(t, c)
		sendStatus(t, c, protocol.OKStatus)
		c.Write([]byte("over TLS"))
	})
	o := tlsOpts(addr, ca, watchReq)
	o.Addr = addr
	var out bytes.Buffer
	if err := Watch(t.Context(), o, &out); err != nil || out.String() != "over TLS" {
		t.Fatalf("Watch = %v, got %q", err, out.String())
	}
}

// TestTLSClientPlainServer plays a server without TLS: it answers the TLS
// hello with a plain fstream error frame, as the real one does.
func TestTLSClientPlainServer(t *testing.T) {
	addr := startFake(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		c.Read(make([]byte, 512)) // the ClientHello, or its start
		sendStatus(t, c, protocol.Status{Reason: protocol.ReasonBadRequest, Message: "this server does not speak TLS"})
	})
	err := Watch(t.Context(), opts(SchemeTLS+addr, watchReq), io.Discard)
	if !errors.Is(err, ErrNotTLS) {
		t.Fatalf("err = %v, want ErrNotTLS", err)
	}
	if !strings.HasPrefix(err.Error(), "watch tls://"+addr+": connect: client: server does not speak TLS") {
		t.Errorf("err = %q", err)
	}
}

func TestTLSServerHangsUp(t *testing.T) {
	addr := startFake(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		c.Read(make([]byte, 512))
	})
	err := Watch(t.Context(), opts(SchemeTLS+addr, watchReq), io.Discard)
	if !errors.Is(err, ErrTLSHandshake) || !strings.Contains(err.Error(), "does it speak TLS?") {
		t.Fatalf("err = %v, want ErrTLSHandshake asking whether it speaks TLS", err)
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	addr := startFake(t, waitClose) // accepts, then says nothing
	o := opts(SchemeTLS+addr, watchReq)
	o.DialTimeout = 50 * time.Millisecond
	err := Watch(t.Context(), o, io.Discard)
	if !errors.Is(err, ErrTLSHandshake) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTLSHandshake with DeadlineExceeded", err)
	}
}

func TestTLSHandshakeCancel(t *testing.T) {
	accepted := make(chan struct{})
	addr := startFake(t, func(c net.Conn) {
		close(accepted)
		waitClose(c)
	})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- Watch(ctx, opts(SchemeTLS+addr, watchReq), io.Discard) }()
	<-accepted
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestTLSVerify checks whom the client trusts: the system roots by
// default (which do not know a test CA), the CA it is given, or anyone
// when told to skip verification.
func TestTLSVerify(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	tests := []struct {
		name    string
		conf    *tls.Config // nil: tls:// with the defaults
		wantErr bool
		unknown bool // the error is an unknown authority
	}{
		{name: "system roots", conf: nil, wantErr: true, unknown: true},
		{name: "the right CA", conf: &tls.Config{RootCAs: ca.pool}},
		{name: "another CA", conf: &tls.Config{RootCAs: other.pool}, wantErr: true, unknown: true},
		{name: "insecure", conf: &tls.Config{InsecureSkipVerify: true}},
		{name: "another name", conf: &tls.Config{RootCAs: ca.pool, ServerName: "fstream.example"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startFakeTLS(t, ca, func(c net.Conn) {
				c.SetDeadline(time.Now().Add(ioTimeout))
				if _, err := protocol.ReadFrame(c, protocol.DefaultMaxText); err != nil {
					return // the client refused the certificate
				}
				sendStatus(t, c, protocol.OKStatus)
			})
			o := opts(SchemeTLS+addr, watchReq)
			o.TLS = tt.conf
			err := Watch(t.Context(), o, io.Discard)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Watch: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTLSVerify) {
				t.Fatalf("err = %v, want ErrTLSVerify", err)
			}
			if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok != tt.unknown {
				t.Fatalf("err = %v; unknown authority: %v, want %v", err, ok, tt.unknown)
			}
		})
	}
}

// TestTLSConfigNotModified checks that the caller's configuration is
// cloned, not filled in, so it can be shared between connections.
func TestTLSConfigNotModified(t *testing.T) {
	ca := newTestCA(t)
	addr := startFakeTLS(t, ca, func(c net.Conn) {
		readHandshake(t, c)
		sendStatus(t, c, protocol.OKStatus)
	})
	conf := &tls.Config{RootCAs: ca.pool}
	o := opts(addr, watchReq)
	o.TLS = conf
	if err := Watch(t.Context(), o, io.Discard); err != nil {
		t.Fatal(err)
	}
	if conf.ServerName != "" || conf.MinVersion != 0 {
		t.Fatalf("Watch changed the caller's tls.Config: %q, %x", conf.ServerName, conf.MinVersion)
	}
}
