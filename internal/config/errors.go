package config

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of problems. An *Error wraps one of them; test with errors.Is.
var (
	// ErrSyntax is a line that is neither a comment, a [section] header nor
	// key = value.
	ErrSyntax = errors.New("config: syntax error")
	// ErrSection is a [section] header other than [DEFAULT]: settings go at
	// the top level.
	ErrSection = errors.New("config: unexpected section")
	// ErrDuplicate is a key set twice in one file.
	ErrDuplicate = errors.New("config: duplicate key")
	// ErrUnknownKey is a key that names no setting.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrNotSettable is a key for a flag that only the command line may set.
	ErrNotSettable = errors.New("config: not settable here")
	// ErrBadValue is a value the setting does not accept.
	ErrBadValue = errors.New("config: bad value")
)

// Error is one problem with a setting, located in its file (and line) or
// environment variable. Its message reads
//
//	fstream.ini:7: max-lag = "5": missing unit in duration "5"; fix: write a duration with a unit (ms, s, m, h), such as 10s
//
// or, for a value from the environment,
//
//	$FSTREAM_MAX_LAG = "5": missing unit in duration "5"; fix: ...
type Error struct {
	// File and Line locate a problem in a settings file; Line is 0 when
	// only the key is known.
	File string
	Line int
	// Env is the environment variable the value came from, if it did.
	Env string
	// Key is the key or flag name concerned, as written.
	Key string
	// Value is the offending value, quoted in the message; ShowValue says
	// whether there is one to show.
	Value     string
	ShowValue bool
	// Kind is one of the sentinel errors above.
	Kind error
	// Msg says what is wrong; Fix says what to do about it.
	Msg string
	Fix string
	// Cause is the underlying error, such as the value parser's.
	Cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Env != "":
		b.WriteString("$" + e.Env)
		if e.ShowValue {
			fmt.Fprintf(&b, " = %q", e.Value)
		}
	case e.Line > 0:
		fmt.Fprintf(&b, "%s:%d", e.File, e.Line)
	default:
		b.WriteString(e.File)
	}
	if e.Env == "" && e.Key != "" {
		b.WriteString(": " + e.Key)
		if e.ShowValue {
			fmt.Fprintf(&b, " = %q", e.Value)
		}
	}
	b.WriteString(": " + e.Msg)
	if e.Fix != "" {
		b.WriteString("; fix: " + e.Fix)
	}
	return b.String()
}

// Unwrap returns the kind and the cause, so that errors.Is works with both.
func (e *Error) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}
