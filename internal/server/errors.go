package server

import "errors"

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("server: closed")

// ErrThrottled means a watcher's address, or the channel it asked for, has
// made too many failed channel-password attempts lately; the watcher is
// refused without its password being checked.
var ErrThrottled = errors.New("server: too many failed channel passwords")

// Cluster refusals of watchers, in *hub.JoinError.Err.
var (
	// ErrPullToken means a watch handshake carried a pull token that this
	// node did not mint for that channel, or that was used or expired.
	ErrPullToken = errors.New("server: invalid pull token")
	// ErrUpstream means the node that carries a channel could not be
	// reached in time.
	ErrUpstream = errors.New("server: upstream node did not answer")
)
