package bench

import "errors"

// Sentinel errors returned (wrapped) by Run.
var (
	// ErrBadOptions means Options are inconsistent or out of range.
	ErrBadOptions = errors.New("bench: invalid options")
	// ErrServerStart means the child server did not start listening.
	ErrServerStart = errors.New("bench: server did not start")
	// ErrInterrupted means the context ended before the measured window
	// began, so there is nothing to report.
	ErrInterrupted = errors.New("bench: interrupted before the measurement")
)
