package httpapi

import "errors"

// Sentinel errors.
var (
	// ErrNoServer means Config.Server is nil.
	ErrNoServer = errors.New("httpapi: no server")
	// ErrNoChannel means the channel named in a request is not known to
	// the hub (not live and not in its grace period).
	ErrNoChannel = errors.New("httpapi: no such channel")
)
