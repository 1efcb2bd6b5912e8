package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/certs/certstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startEcho runs a TLS echo server on 127.0.0.1:0 with cfg until the test
// ends, and returns its address.
func startEcho(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c) // the TLS handshake happens on the first read
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dial connects to addr trusting roots and returns the connection and the
// certificate the server presented.
func dial(t *testing.T, addr string, roots *x509.CertPool) (*tls.Conn, *x509.Certificate) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.ConnectionState().PeerCertificates[0]
}

// echo checks that c still carries bytes both ways.
func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails fast
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo %q: got %q, %v", msg, buf, err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second := certstest.New(t), certstest.New(t)
	roots := certstest.Pool(first, second)
	first.WriteFiles(t, certFile, keyFile)

	r, err := NewReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Leaf().Equal(first.Leaf) {
		t.Fatal("Leaf is not the loaded certificate")
	}
	addr := startEcho(t, r.TLSConfig())
	old, got := dial(t, addr, roots)
	if !got.Equal(first.Leaf) {
		t.Fatalf("server presented %s, want %s", got.Subject, first.Leaf.Subject)
	}
	echo(t, old, "before")

	second.WriteFiles(t, certFile, keyFile)
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if _, got := dial(t, addr, roots); !got.Equal(second.Leaf) {
		t.Fatalf("after reload, server presented %s, want %s", got.Subject, second.Leaf.Subject)
	}
	echo(t, old, "after reload") // the old connection stays up

	// Broken files: the reload fails and the second certificate stays.
	for _, tt := range []struct {
		name       string
		cert, key  []byte
		wantInErr  string
		wantErrIs  error
		removeCert bool
	}{
		{name: "key that does not match", cert: first.CertPEM, key: second.KeyPEM, wantInErr: "private key does not match"},
		{name: "garbage key", cert: second.CertPEM, key: []byte("not a key"), wantInErr: "key.pem"},
		{name: "empty certificate", cert: nil, key: second.KeyPEM, wantInErr: "cert.pem"},
		{name: "missing certificate", removeCert: true, wantErrIs: fs.ErrNotExist, wantInErr: "cert.pem"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.removeCert {
				if err := os.Remove(certFile); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, certFile, tt.cert)
				writeFile(t, keyFile, tt.key)
			}
			err := r.Reload()
			if !errors.Is(err, ErrLoad) || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Reload: %v; want ErrLoad mentioning %q", err, tt.wantInErr)
			}
			if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
				t.Errorf("Reload: %v is not %v", err, tt.wantErrIs)
			}
			if _, got := dial(t, addr, roots); !got.Equal(second.Leaf) {
				t.Fatalf("after a failed reload, server presented %s, want %s", got.Subject, second.Leaf.Subject)
			}
			if !r.Leaf().Equal(second.Leaf) {
				t.Error("Leaf changed on a failed reload")
			}
			echo(t, old, "after "+tt.name)
		})
	}
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewReloaderErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certstest.New(t).WriteFiles(t, certFile, keyFile)
	for _, tt := range []struct {
		name       string
		cert, key  string
		want       error
		wantInText []string
	}{
		{"no cert", "", keyFile, ErrNoFile, nil},
		{"no key", certFile, "", ErrNoFile, nil},
		{"missing key", certFile, filepath.Join(dir, "nope.pem"), fs.ErrNotExist, []string{certFile, "nope.pem"}},
		{"swapped", keyFile, certFile, ErrLoad, []string{certFile, keyFile}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReloader(tt.cert, tt.key)
			if r != nil || !errors.Is(err, tt.want) {
				t.Fatalf("NewReloader: %v, %v; want %v", r, err, tt.want)
			}
			for _, s := range tt.wantInText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certstest.New(t).WriteFiles(t, certFile, keyFile)
	r, err := NewReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 || cfg.GetCertificate == nil || len(cfg.Certificates) != 0 {
		t.Errorf("TLSConfig: min version %x, GetCertificate set %v, %d static certificates",
			cfg.MinVersion, cfg.GetCertificate != nil, len(cfg.Certificates))
	}
}
