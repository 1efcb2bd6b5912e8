package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
)

// errTLSPolicy marks a TLS handshake refused because the client offered
// only protocol versions the server does not accept (TLS 1.0 and 1.1 by
// default): a policy decision, logged at INFO, not a fault.
var errTLSPolicy = errors.New("server: client offered only TLS versions below the minimum")

// defaultTLSMin is the lowest version crypto/tls accepts as a server when
// the configuration names none.
const defaultTLSMin = tls.VersionTLS12

// tlsServer runs the server side of TLS on nc with base. The returned
// classify turns a failed handshake's error into one wrapping errTLSPolicy
// when the client offered only versions below base's minimum.
func tlsServer(nc net.Conn, base *tls.Config) (tc *tls.Conn, classify func(error) error) {
	var offered []uint16 // set during the handshake, read after it
	cfg := &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		offered = slices.Clone(hello.SupportedVersions)
		if base.GetConfigForClient != nil {
			if c, err := base.GetConfigForClient(hello); c != nil || err != nil {
				return c, err
			}
		}
		return base, nil
	}}
	classify = func(err error) error {
		min := base.MinVersion
		if min == 0 {
			min = defaultTLSMin
		}
		if len(offered) > 0 && !slices.ContainsFunc(offered, func(v uint16) bool { return v >= min }) {
			return fmt.Errorf("%w (offered %s): %w", errTLSPolicy, versionNames(offered), err)
		}
		return err
	}
	return tls.Server(nc, cfg), classify
}

// versionNames names TLS versions for the log: "TLS 1.0, TLS 1.1".
func versionNames(vs []uint16) string {
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += ", "
		}
		s += tls.VersionName(v)
	}
	return s
}
