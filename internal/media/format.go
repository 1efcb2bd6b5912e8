package media

import "time"

// Format is what a Tracker detected from a stream's first bytes.
type Format int

// The formats a Tracker tells apart.
const (
	// FormatUnknown means detection is still looking at the first bytes.
	FormatUnknown Format = iota
	// FormatGeneric is any byte stream that is not one of the media formats
	// below; it has no join points.
	FormatGeneric
	// FormatMPEGTS is an MPEG transport stream (ISO/IEC 13818-1).
	FormatMPEGTS
	// FormatH264 is a raw H.264 Annex B byte stream.
	FormatH264
	// FormatH265 is a raw H.265/HEVC Annex B byte stream.
	FormatH265
)

// String returns the lower-case name used in logs and status output.
func (f Format) String() string {
	switch f {
	case FormatUnknown:
		return "unknown"
	case FormatGeneric:
		return "generic"
	case FormatMPEGTS:
		return "mpegts"
	case FormatH264:
		return "h264"
	case FormatH265:
		return "h265"
	}
	return "invalid"
}

// IsMedia reports whether streams of this format can have join points.
func (f Format) IsMedia() bool {
	return f == FormatMPEGTS || f == FormatH264 || f == FormatH265
}

// Info describes a stream as far as a Tracker has seen it.
type Info struct {
	Format Format
	// Codec is the video codec: "h264", "h265", "mpeg2video", "mpeg1video",
	// "mpeg4" and the other names of tsStreamType, or "" while unknown (and
	// for generic streams and MPEG-TS without video).
	Codec string
	// AudioCodec is the codec of the first audio stream of an MPEG-TS
	// program: "aac", "aac_latm", "mp1", "mp2", "mp3", "ac3", "eac3" or
	// "opus" (ffmpeg's names); "" when there is none the tracker knows.
	AudioCodec string
	// GOPBytes and GOPDuration are the distance in bytes and in arrival time
	// between the last two join points; zero until two have been seen. For
	// audio-only MPEG-TS they measure the spacing of the join points (about
	// TrackerConfig.JoinInterval), not a GOP.
	GOPBytes    int64
	GOPDuration time.Duration
	// Keyframes counts the join points found so far.
	Keyframes int64
}

// JoinPoint is a place in the stream where a new watcher can start and
// decode a clean picture (or, for audio-only MPEG-TS, clean sound) from its
// first byte. Tracker.FallbackPoint returns one too, for a place that is
// merely safe to start at.
type JoinPoint struct {
	// Pos is the absolute offset (bytes since the start of the stream fed to
	// Write) of the first stream byte a joining watcher gets.
	Pos int64
	// Prefix holds bytes to send before Pos: the cached PAT and PMT packets
	// for MPEG-TS; the cached parameter sets (with start codes) for Annex B
	// when the access unit at Pos does not carry its own; nil otherwise.
	// It is never modified once returned, so many watchers may share it.
	Prefix []byte
	// Seq increments with every new join point, so a waiting watcher can see
	// that a new keyframe arrived. It is 0 for a fallback point.
	Seq uint64
	// Time is the arrival time of the keyframe (the now passed to Write);
	// for a fallback point, about that of the byte at Pos.
	Time time.Time
}

// joinState is the join point bookkeeping shared by the parsers.
type joinState struct {
	jp          JoinPoint
	ok          bool
	gopBytes    int64
	gopDuration time.Duration
	keyframes   int64
}

// publish records a new newest join point.
func (j *joinState) publish(pos int64, prefix []byte, at time.Time) {
	if j.ok {
		j.gopBytes = pos - j.jp.Pos
		j.gopDuration = at.Sub(j.jp.Time)
	}
	j.keyframes++
	j.jp = JoinPoint{Pos: pos, Prefix: prefix, Seq: j.jp.Seq + 1, Time: at}
	j.ok = true
}
