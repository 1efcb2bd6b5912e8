// Package certs serves a TLS certificate that can be replaced while the
// server runs.
//
// A Reloader holds the certificate and key loaded from two PEM files. A
// tls.Config built by TLSConfig asks it for the certificate at every
// handshake, so after Reload (on SIGHUP, when an ACME client has renewed
// the files) new connections get the new certificate while established
// ones carry on with the keys they negotiated. A reload that fails keeps
// the certificate being served.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
)

// Reloader serves the certificate from a certificate file and a key file,
// reloading them on request. It is safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	// mu serializes Reload so that a slow load cannot replace a newer one.
	mu   sync.Mutex
	cert atomic.Pointer[tls.Certificate]
}

// NewReloader loads the PEM certificate chain in certFile and the private
// key in keyFile. The error names both files.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, ErrNoFile
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	c, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cert.Store(c)
	return r, nil
}

// Reload reads the files again and serves the new certificate to new
// connections. If that fails it keeps serving the old one and returns the
// error.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.load()
	if err != nil {
		return err
	}
	r.cert.Store(c)
	return nil
}

func (r *Reloader) load() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w %s with key %s: %w", ErrLoad, r.certFile, r.keyFile, err)
	}
	if c.Leaf == nil { // LoadX509KeyPair fills it unless GODEBUG says not to
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrLoad, r.certFile, err)
		}
	}
	return &c, nil
}

// GetCertificate returns the current certificate; it is the
// tls.Config.GetCertificate of TLSConfig.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Leaf returns the current certificate's parsed leaf, to log its names
// and expiry.
func (r *Reloader) Leaf() *x509.Certificate {
	return r.cert.Load().Leaf
}

// TLSConfig returns a server configuration, TLS 1.2 or newer, that serves
// the current certificate.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
	}
}
