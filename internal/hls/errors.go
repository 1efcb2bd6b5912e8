package hls

import "errors"

// Errors callers branch on.
var (
	// ErrClosed is returned once the Manager is closed.
	ErrClosed = errors.New("hls: closed")
	// ErrDisabled means HLS is off for the channel (operator switch).
	ErrDisabled = errors.New("hls: disabled for this channel")
	// ErrNotMedia means the channel is not MPEG-TS, H.264 or H.265.
	ErrNotMedia = errors.New("hls: channel is not a media stream")
	// ErrNoSegment means the segment asked for is not (or no longer) held.
	ErrNoSegment = errors.New("hls: no such segment")
	// ErrNotReady means no segment was finished before the wait ended.
	ErrNotReady = errors.New("hls: no segment yet")
	// ErrBadName means a segment name or signature does not parse.
	ErrBadName = errors.New("hls: bad segment name")
	// ErrBadSignature means a signed segment URL is forged or expired.
	ErrBadSignature = errors.New("hls: bad or expired segment signature")
)
