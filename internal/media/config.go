package media

import (
	"fmt"
	"time"
)

const (
	// DefaultDetectLimit is how many bytes a Tracker looks at before it
	// decides that a stream is generic.
	DefaultDetectLimit = 64 << 10

	// DefaultMaxParamSetBytes bounds one cached VPS, SPS or PPS NAL unit.
	// Real parameter sets are tens to a few hundred bytes; a larger one is
	// not cached (the access units that carry their own stay joinable).
	DefaultMaxParamSetBytes = 4 << 10

	// detectBufSize is how many of a stream's first bytes are kept while the
	// format is unknown, so that the parser chosen can start from byte 0
	// whatever the sizes of the first writes were.
	detectBufSize = 4 << 10

	// maxKeyLead is how far into an access unit (Annex B) or a PES (TS) its
	// first VCL NAL unit may start and still make it a join point. What
	// comes before it (AUD, parameter sets, SEI, the PES header) is a few
	// KiB at most; the bound keeps a broken stream from pinning RetainFrom
	// to an old offset forever.
	maxKeyLead = 256 << 10

	// DefaultJoinInterval is the least stream time between two join points
	// that are just PES starts (audio-only MPEG-TS, and streams of codecs
	// that are not parsed and have no random_access_indicator). Audio PES
	// come every 20 ms to a few hundred: a join point for each would flood
	// the relay's keyframe bookkeeping for no gain, as a joining player
	// buffers longer than this anyway.
	DefaultJoinInterval = 250 * time.Millisecond
)

// TrackerConfig configures a Tracker. The zero value is usable: each zero
// field takes its default.
type TrackerConfig struct {
	// DetectLimit is how many bytes are looked at before a stream that is
	// neither MPEG-TS nor Annex B is declared generic (default
	// DefaultDetectLimit).
	DetectLimit int

	// MaxParamSetBytes bounds the size of one cached parameter set NAL unit
	// (default DefaultMaxParamSetBytes).
	MaxParamSetBytes int

	// JoinInterval is the least time, by the streams' own timestamps (PTS
	// or DTS), between two join points taken at mere PES starts (default
	// DefaultJoinInterval). Keyframes are never held back by it.
	JoinInterval time.Duration
}

// Validate reports a field that NewTracker would replace by its default
// because it is negative.
func (c TrackerConfig) Validate() error {
	if c.DetectLimit < 0 {
		return fmt.Errorf("%w: DetectLimit %d is negative", ErrInvalidConfig, c.DetectLimit)
	}
	if c.MaxParamSetBytes < 0 {
		return fmt.Errorf("%w: MaxParamSetBytes %d is negative", ErrInvalidConfig, c.MaxParamSetBytes)
	}
	if c.JoinInterval < 0 {
		return fmt.Errorf("%w: JoinInterval %v is negative", ErrInvalidConfig, c.JoinInterval)
	}
	return nil
}

// withDefaults returns c with every zero or negative field set to its
// default.
func (c TrackerConfig) withDefaults() TrackerConfig {
	if c.DetectLimit <= 0 {
		c.DetectLimit = DefaultDetectLimit
	}
	if c.MaxParamSetBytes <= 0 {
		c.MaxParamSetBytes = DefaultMaxParamSetBytes
	}
	if c.JoinInterval <= 0 {
		c.JoinInterval = DefaultJoinInterval
	}
	return c
}
