package record

import "errors"

var (
	// ErrBadKeep means a --record-keep value does not parse.
	ErrBadKeep = errors.New("record: bad keep")
	// ErrBadGlob means a --record-channels pattern is malformed.
	ErrBadGlob = errors.New("record: bad channel pattern")
	// ErrBadConfig means a Config setting is out of range.
	ErrBadConfig = errors.New("record: bad config")
	// ErrNotFound means a recording asked for by name does not exist or
	// its name is not one the recorder could have made.
	ErrNotFound = errors.New("record: no such recording")
)
