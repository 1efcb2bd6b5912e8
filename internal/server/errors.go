package server

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("server: closed")
	// ErrNotLive means a watcher asked for a channel that has no broadcaster.
	ErrNotLive = errors.New("server: channel is not live")
	// ErrWrongPassword means a watcher gave the wrong channel password.
	ErrWrongPassword = errors.New("server: wrong channel password")
	// ErrChannelEnded means the channel's broadcaster left and did not come
	// back within the grace period; every byte was delivered.
	ErrChannelEnded = errors.New("server: channel ended")
	// ErrTooManyChannels means the hub has MaxChannels live channels.
	ErrTooManyChannels = errors.New("server: too many live channels")
	// ErrChannelFull means the channel has MaxWatchers watchers.
	ErrChannelFull = errors.New("server: channel has too many watchers")
	// ErrBadJoin means a watcher asked for an unknown join policy.
	ErrBadJoin = errors.New("server: bad join policy")
	// ErrHubClosed means the hub was closed (the server is shutting down).
	ErrHubClosed = errors.New("server: hub closed")
)

// CloseReason says why the hub ended a broadcaster or a watcher. It is
// logged and counted.
type CloseReason string

// The reasons the hub ends a connection.
const (
	ReasonStalled   CloseReason = "stalled"    // no progress for the stall timeout while holding the channel back
	ReasonLagging   CloseReason = "lagging"    // oldest undelivered byte older than max-lag
	ReasonTakenOver CloseReason = "taken-over" // a new broadcaster for the same channel arrived
	ReasonShutdown  CloseReason = "shutdown"   // the server is shutting down
	ReasonKicked    CloseReason = "kicked"     // an operator removed the connection
)

// CloseReasons lists every reason, for counters.
var CloseReasons = []CloseReason{ReasonStalled, ReasonLagging, ReasonTakenOver, ReasonShutdown, ReasonKicked}

// EvictedError is returned to a watcher or broadcaster the hub ended.
type EvictedError struct{ Reason CloseReason }

func (e *EvictedError) Error() string { return fmt.Sprintf("server: ended by hub: %s", e.Reason) }

// ErrThrottled means a watcher's address, or the channel it asked for, has
// made too many failed channel-password attempts lately; the watcher is
// refused without its password being checked.
var ErrThrottled = errors.New("server: too many failed channel passwords")
