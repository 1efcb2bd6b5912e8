package hub

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrNotLive means a watcher asked for a channel that has no broadcaster.
	ErrNotLive = errors.New("hub: channel is not live")
	// ErrWrongPassword means a watcher gave the wrong channel password.
	ErrWrongPassword = errors.New("hub: wrong channel password")
	// ErrChannelEnded means the channel's broadcaster left and did not come
	// back within the grace period; every byte was delivered.
	ErrChannelEnded = errors.New("hub: channel ended")
	// ErrTooManyChannels means the hub has MaxChannels live channels.
	ErrTooManyChannels = errors.New("hub: too many live channels")
	// ErrChannelFull means the channel has MaxWatchers watchers.
	ErrChannelFull = errors.New("hub: channel has too many watchers")
	// ErrBadJoin means a watcher asked for an unknown join policy.
	ErrBadJoin = errors.New("hub: bad join policy")
	// ErrHubClosed means the hub was closed (the server is shutting down).
	ErrHubClosed = errors.New("hub: closed")
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

func (e *EvictedError) Error() string { return fmt.Sprintf("hub: ended: %s", e.Reason) }
