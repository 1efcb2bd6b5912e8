package protocol

import (
	"fmt"
	"slices"
	"strings"
)

// Reason is the machine-readable code of a refused handshake.
type Reason string

// The reasons a server gives in an error status frame.
const (
	ReasonBadRequest   Reason = "bad-request"  // the handshake could not be parsed or a value is invalid
	ReasonUnauthorized Reason = "unauthorized" // wrong user or user password
	ReasonNotFound     Reason = "not-found"    // the channel is not live
	ReasonForbidden    Reason = "forbidden"    // wrong channel password
	ReasonBusy         Reason = "busy"         // a server limit is reached, or it is shutting down
	ReasonTooLarge     Reason = "too-large"    // the handshake is longer than the server accepts
)

// Reasons lists every reason code of a refused handshake, in the order of
// the documentation.
var Reasons = []Reason{ReasonBadRequest, ReasonUnauthorized, ReasonNotFound, ReasonForbidden, ReasonBusy, ReasonTooLarge}

// The reasons a server gives in the status frame it sends a broadcaster
// (that asked for ack=1) when it ends the stream, just before it closes the
// connection. A broadcaster's downstream direction is otherwise unused after
// "ok", so a client that does not read it only sees the close.
const (
	ReasonTakenOver Reason = "taken-over" // a new broadcaster of the same channel arrived
	ReasonKicked    Reason = "kicked"     // an operator removed the broadcaster
	ReasonShutdown  Reason = "shutdown"   // the server is shutting down
)

// EndReasons lists every reason code of a stream the server ended, in the
// order of the documentation.
var EndReasons = []Reason{ReasonTakenOver, ReasonKicked, ReasonShutdown}

// Status is the server's answer to a handshake sent with ack=1.
type Status struct {
	OK bool
	// Waiting is the interim answer to a watcher that asked for wait=1
	// when its channel is not live: "waiting", optionally with a message.
	// The final answer ("ok" or an error) follows when the channel goes
	// live or the server stops waiting.
	Waiting bool
	Reason  Reason
	Message string
	// Params are key=value pairs an "ok" may carry after it, such as the
	// token a "token" request asks for ("ok,token=...,expires-in=120").
	// Plain watch and broadcast answers carry none.
	Params map[string]string
}

const (
	statusOK      = "ok"
	statusWaiting = "waiting"
)

// OKStatus is the status of an accepted handshake.
var OKStatus = Status{OK: true}

// Text encodes the status. The message is the last field and runs to the end
// of the frame, so it may contain commas.
func (s Status) Text() string {
	if s.Waiting {
		if s.Message == "" {
			return statusWaiting
		}
		return statusWaiting + ",message=" + s.Message
	}
	if s.OK {
		if len(s.Params) == 0 {
			return statusOK
		}
		var b strings.Builder
		b.WriteString(statusOK)
		for _, k := range sortedKeys(s.Params) {
			b.WriteString("," + k + "=" + s.Params[k])
		}
		return b.String()
	}
	return "error,reason=" + string(s.Reason) + ",message=" + s.Message
}

// ParseStatus parses a status frame's text.
func ParseStatus(text string) (Status, error) {
	if text == statusOK {
		return OKStatus, nil
	}
	if text == statusWaiting {
		return Status{Waiting: true}, nil
	}
	if msg, ok := strings.CutPrefix(text, statusWaiting+",message="); ok {
		return Status{Waiting: true, Message: msg}, nil
	}
	if rest, ok := strings.CutPrefix(text, statusOK+","); ok {
		st := Status{OK: true, Params: make(map[string]string)}
		for _, f := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(f, "=")
			if !ok || k == "" {
				return Status{}, fmt.Errorf("%w: field %q of ok is not key=value", ErrBadStatus, truncate(f))
			}
			st.Params[k] = v
		}
		return st, nil
	}
	rest, ok := strings.CutPrefix(text, "error,reason=")
	if !ok {
		return Status{}, fmt.Errorf("%w: %q", ErrBadStatus, truncate(text))
	}
	reason, msg, _ := strings.Cut(rest, ",")
	msg, _ = strings.CutPrefix(msg, "message=")
	if reason == "" {
		return Status{}, fmt.Errorf("%w: empty reason", ErrBadStatus)
	}
	return Status{Reason: Reason(reason), Message: msg}, nil
}

// Known reports whether r is one of the reasons this version defines, for a
// refusal or for the end of a stream.
func (r Reason) Known() bool { return slices.Contains(Reasons, r) || slices.Contains(EndReasons, r) }

// RefusedError is a handshake the server refused, as a client sees it.
type RefusedError struct {
	Reason  Reason
	Message string
}

func (e *RefusedError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server refused: %s", e.Reason)
	}
	return fmt.Sprintf("server refused (%s): %s", e.Reason, e.Message)
}

// Err returns nil for an OK status and a *RefusedError otherwise. A
// Waiting status is not an answer yet: Err says so.
func (s Status) Err() error {
	if s.OK {
		return nil
	}
	if s.Waiting {
		return fmt.Errorf("%w: %q is not a final answer", ErrBadStatus, statusWaiting)
	}
	return &RefusedError{Reason: s.Reason, Message: s.Message}
}
