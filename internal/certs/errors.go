package certs

import "errors"

// Sentinel errors.
var (
	// ErrNoFile means the certificate or the key file was not named.
	ErrNoFile = errors.New("certs: a certificate file and a key file are both needed")
	// ErrLoad wraps the reason a certificate and key could not be loaded
	// (a missing file, bad PEM, a key that does not match).
	ErrLoad = errors.New("certs: load certificate")
)
