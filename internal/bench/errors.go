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

// Sentinel errors returned (wrapped) by SuiteResult.Err.
var (
	// ErrScenarioFailed means a scenario of the suite could not run.
	ErrScenarioFailed = errors.New("bench: a scenario could not run")
	// ErrTargetFailed means a number of the suite missed its target.
	ErrTargetFailed = errors.New("bench: a target was missed")
)
