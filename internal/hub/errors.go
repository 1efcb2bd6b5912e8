package hub

import (
	"errors"
	"fmt"

	"github.com/fstream/fstream/internal/protocol"
)

// Sentinel errors.
var (
	// ErrNotLive means a watcher asked for a channel that has no broadcaster.
	ErrNotLive = errors.New("hub: channel is not live")
	// ErrWrongPassword means a watcher gave the wrong channel password.
	ErrWrongPassword = errors.New("hub: wrong channel password")
	// ErrNoPassword means a watcher gave no password for a protected
	// channel. It wraps ErrWrongPassword, so callers that only check for a
	// refused password need not know it.
	ErrNoPassword = fmt.Errorf("%w: none given", ErrWrongPassword)
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
	// ErrIdle is not an end: Next returns it to a watcher that has had
	// nothing to write for a while (Config.IdleTick), so that the caller
	// can check its connection, then call Next again.
	ErrIdle = errors.New("hub: watcher idle")
	// ErrDirect is not an end either: Next returns it to a watcher with a
	// SubscribeOptions.Direct once it is caught up. The channel's writers
	// write to it from then on; the caller waits in WaitDirect.
	ErrDirect = errors.New("hub: watcher written directly")
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

// JoinError is the hub turning a broadcaster or a watcher away, before it
// joined a channel. Reason and Msg are what the peer is told, in a status
// frame or an HTTP answer, and Reason is what the refusal is counted as.
// errors.Is matches the sentinel in Err.
type JoinError struct {
	Reason protocol.Reason
	Msg    string // for the peer: what is wrong, in words it can act on
	Err    error  // ErrNotLive, ErrWrongPassword, ErrChannelFull, ...
}

func (e *JoinError) Error() string { return e.Err.Error() + ": " + e.Msg }

func (e *JoinError) Unwrap() error { return e.Err }

// refusal is the one table of the hub's refusals: for each sentinel the
// reason a peer is given and a message it can act on. TCP status frames,
// HTTP answers and the handshake counters all take them from here (through
// ReasonOf). detail completes the message of ErrBadJoin.
//
//nolint:errorlint // called with the sentinels themselves, never wrapped
func (h *Hub) refusal(err error, key Key, detail string) *JoinError {
	e := &JoinError{Err: err}
	switch err {
	case ErrNotLive:
		e.Reason, e.Msg = protocol.ReasonNotFound, fmt.Sprintf("channel %q of user %q is not live", key.Channel, key.User)
	case ErrWrongPassword:
		e.Reason, e.Msg = protocol.ReasonForbidden, "wrong channel password"
	case ErrNoPassword:
		e.Reason, e.Msg = protocol.ReasonForbidden, "channel is protected: give its password"
	case ErrChannelFull:
		e.Reason, e.Msg = protocol.ReasonBusy, fmt.Sprintf("channel %q of user %q has as many watchers as the server allows (%d); try again later",
			key.Channel, key.User, h.cfg.MaxWatchers)
	case ErrTooManyChannels:
		e.Reason, e.Msg = protocol.ReasonBusy, fmt.Sprintf("server has its maximum of %d live channels", h.cfg.MaxChannels)
	case ErrHubClosed:
		e.Reason, e.Msg = protocol.ReasonBusy, "server is shutting down"
	case ErrBadJoin:
		e.Reason, e.Msg = protocol.ReasonBadRequest, detail
	default:
		panic("hub: no refusal for " + err.Error())
	}
	return e
}

// ReasonOf returns what a peer the hub refused is told: the reason code and
// a message. ok is false when err is not a refusal (nil, or an error after
// the peer joined).
func ReasonOf(err error) (reason protocol.Reason, msg string, ok bool) {
	var je *JoinError
	if !errors.As(err, &je) {
		return "", "", false
	}
	return je.Reason, je.Msg, true
}
