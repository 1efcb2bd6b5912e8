package protocol

import "errors"

// Sentinel errors returned (wrapped) by the decoders. Callers branch on them
// with errors.Is to pick a Reason for the peer.
var (
	// ErrFrameTooLarge means the length prefix exceeds the reader's limit.
	ErrFrameTooLarge = errors.New("protocol: frame too large")
	// ErrBadFrame means the frame header is malformed (the byte after the
	// length is not 0x00).
	ErrBadFrame = errors.New("protocol: malformed frame header")
	// ErrNotUTF8 means the frame text is not valid UTF-8.
	ErrNotUTF8 = errors.New("protocol: text is not valid UTF-8")
	// ErrBadRequest means the handshake text is not a valid request.
	ErrBadRequest = errors.New("protocol: bad request")
	// ErrBadName means a user or channel name is not a plain name.
	ErrBadName = errors.New("protocol: bad name")
	// ErrBadStatus means a status reply could not be parsed.
	ErrBadStatus = errors.New("protocol: bad status reply")
)
