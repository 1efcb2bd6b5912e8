package media

import (
	"bytes"
	"time"
)

// Tracker follows one live stream, detects its format and keeps the newest
// join point. It only reads the stream: Write never modifies or retains the
// caller's slice. A Tracker is not safe for concurrent use; the relay calls
// it from the broadcaster's goroutine.
type Tracker struct {
	cfg    TrackerConfig
	n      int64 // bytes written so far
	format Format
	first  time.Time // arrival time of byte 0
	js     joinState

	// Detection state, used while format is FormatUnknown. buf holds the
	// stream's first bytes (nil once they are no longer needed); abFrom is
	// where the search for the second start code resumes; abNo is set once
	// the stream is known not to be Annex B.
	buf    []byte
	abFrom int
	abNo   bool

	ts tsParser
	ab annexB
}

// NewTracker returns a Tracker for a new stream. Zero or negative fields of
// cfg take their defaults (see TrackerConfig.Validate).
func NewTracker(cfg TrackerConfig) *Tracker {
	cfg = cfg.withDefaults()
	t := &Tracker{cfg: cfg}
	t.buf = make([]byte, 0, min(detectBufSize, cfg.DetectLimit))
	t.ts.init(&t.js, cfg.JoinInterval)
	return t
}

// Write feeds the next bytes of the stream, in order, in pieces of any size
// (a TS packet or a start code may be split across calls). It never fails:
// bytes that do not parse just yield no join points. now is the arrival
// time of p.
func (t *Tracker) Write(p []byte, now time.Time) {
	if len(p) == 0 {
		return
	}
	start := t.n
	if start == 0 {
		t.first = now
	}
	t.n += int64(len(p))
	switch t.format {
	case FormatUnknown:
		t.detect(p, start, now)
	case FormatMPEGTS:
		t.ts.now = now
		t.ts.write(p)
	case FormatH264, FormatH265:
		t.ab.now = now
		t.ab.write(p)
	}
}

// Format returns the detected format, FormatUnknown while still detecting.
func (t *Tracker) Format() Format {
	return t.format
}

// Info describes the stream as seen so far.
func (t *Tracker) Info() Info {
	inf := Info{
		Format:      t.format,
		GOPBytes:    t.js.gopBytes,
		GOPDuration: t.js.gopDuration,
		Keyframes:   t.js.keyframes,
	}
	switch t.format {
	case FormatMPEGTS:
		inf.Codec = t.ts.es.codec
		if t.ts.es.class != classVideo {
			inf.Codec = ""
		}
		inf.AudioCodec = t.ts.audioCodec
	case FormatH264:
		inf.Codec = "h264"
	case FormatH265:
		inf.Codec = "h265"
	}
	return inf
}

// JoinPoint returns the newest safe place for a new watcher to start, and
// false if there is none yet.
func (t *Tracker) JoinPoint() (JoinPoint, bool) {
	return t.js.jp, t.js.ok
}

// FallbackPoint returns the newest place where a watcher that waited too
// long for a join point can start with the least damage, and false if there
// is none yet. For MPEG-TS it is the newest packet boundary, with the cached
// PAT and PMT as Prefix (false until both were seen); for Annex B the start
// of the newest access unit, with the cached parameter sets as Prefix. A
// decoder starting there may show errors until the next keyframe, but it
// parses the stream from its first byte. Its Pos is never before RetainFrom,
// so a relay that keeps what RetainFrom asks still has its bytes; it is
// false for Annex B while the access unit is longer than the keyframe lead
// bound (try again after the next Write), and for generic streams. It is
// cheap enough to call after every Write: it allocates only to build the
// prefix for a PAT/PMT counter pair not seen before, and while an Annex B
// stream's cached parameter sets are incomplete.
func (t *Tracker) FallbackPoint() (JoinPoint, bool) {
	switch t.format {
	case FormatMPEGTS:
		return t.ts.fallback()
	case FormatH264, FormatH265:
		return t.ab.fallback()
	}
	return JoinPoint{}, false
}

// WholeEnd returns the end of the stream's last whole unit: for a synced
// MPEG-TS stream the end of the last whole packet, else the end of the
// stream. A relay shows watchers bytes up to here only, so that a stream
// cut by a takeover or a broken connection never ends in a torn packet
// that the next stream would be spliced onto. Annex B needs no such care:
// its start codes resynchronise a decoder, and holding back the access
// unit being parsed would cost a frame of latency.
func (t *Tracker) WholeEnd() int64 {
	if t.format == FormatMPEGTS && t.ts.synced {
		return t.ts.next
	}
	return t.n
}

// RetainFrom returns the oldest absolute offset that a future join point
// could start at: the start of the TS packet, PES, NAL unit or access unit
// still being parsed, or 0 while the format is being detected from the
// first bytes. The relay keeps bytes from min(RetainFrom, JoinPoint.Pos).
func (t *Tracker) RetainFrom() int64 {
	switch t.format {
	case FormatUnknown:
		if t.buf != nil {
			return 0
		}
	case FormatMPEGTS:
		return t.ts.retainFrom()
	case FormatH264, FormatH265:
		return t.ab.retainFrom()
	}
	return t.n
}

// detect looks at p, the bytes from absolute offset base on, while the format
// is unknown. Every decision is taken at a stream offset that depends only on
// the stream's bytes, never on how they were split into writes: this keeps
// the join points the same for any write sizes.
func (t *Tracker) detect(p []byte, base int64, now time.Time) {
	limit := int64(t.cfg.DetectLimit)
	q := p
	if rem := limit - base; int64(len(q)) > rem {
		q = q[:rem]
	}
	copied := 0
	if t.buf != nil {
		copied = min(len(q), cap(t.buf)-len(t.buf))
		t.buf = append(t.buf, q[:copied]...)
	}

	abFmt, abAt := FormatUnknown, int64(-1)
	if !t.abNo && t.buf != nil {
		var at int
		abFmt, at = annexBVerdict(t.buf, len(t.buf) == cap(t.buf), &t.abFrom)
		abAt = int64(at)
		if abFmt == FormatGeneric {
			t.abNo = true
			abFmt = FormatUnknown
		}
	}
	idx, runStart := t.ts.sync.find(q, base)
	tsAt := base + int64(idx)

	switch {
	case abFmt != FormatUnknown && (idx < 0 || abAt <= tsAt):
		// Annex B wins ties: it is checked first, as the original tool's
		// documented broadcaster sends raw H.264.
		t.format = abFmt
		t.ab.init(abFmt == FormatH265, &t.js, t.cfg.MaxParamSetBytes)
		t.ab.now = now
		t.ab.auTime = t.first // the first access unit began with the stream
		t.ab.write(t.buf)
		t.ab.write(p[copied:])
		t.buf = nil
	case idx >= 0:
		t.format = FormatMPEGTS
		t.ts.now = now
		t.ts.sync.reset()
		if t.buf != nil && tsAt < int64(len(t.buf)) {
			// The run's first packets are still buffered: start there, so
			// that the stream's first PAT, PMT and keyframe count.
			t.ts.start(runStart)
			t.ts.write(t.buf[runStart:])
			t.ts.write(p[copied:])
		} else {
			t.ts.start(tsAt)
			t.ts.write(p[idx:])
		}
		t.buf = nil
	case base+int64(len(q)) >= limit:
		t.format = FormatGeneric
		t.buf = nil
	case t.abNo && t.buf != nil && len(t.buf) == cap(t.buf):
		// A TS alignment found from now on could not be replayed.
		t.buf = nil
	}
}

// startCode3 is the Annex B start code prefix.
var startCode3 = []byte{0, 0, 1}

// annexBVerdict looks at b, the first bytes of a stream, and says whether
// they start an H.264 or H.265 Annex B byte stream: zero bytes, 0x01, a
// plausible NAL unit header, confirmed by a second one when it arrives
// before b is full. It returns FormatUnknown while it needs more bytes, and
// FormatGeneric when b is not Annex B; at is the offset of the byte that
// settled it. from remembers where the search for the second start code
// resumes, so that calls with a growing b cost O(new bytes).
func annexBVerdict(b []byte, full bool, from *int) (f Format, at int) {
	i := 0
	for i < len(b) && b[i] == 0 {
		i++
	}
	switch {
	case i == len(b):
		if full {
			return FormatGeneric, len(b) - 1
		}
		return FormatUnknown, 0
	case i < 2 || b[i] != 1:
		return FormatGeneric, i
	}
	h1 := i + 1
	*from = max(*from, h1+1)
	h2 := -1
	if *from < len(b) {
		if k := bytes.Index(b[*from:], startCode3); k >= 0 {
			*from += k
			h2 = *from + len(startCode3)
		} else {
			*from = max(*from, len(b)-len(startCode3)+1)
		}
	}
	if h2 >= 0 && h2 < len(b) {
		if plausibleH264(b[h1]) && plausibleH264(b[h2]) {
			return FormatH264, h2
		}
		if h2+1 < len(b) {
			if plausibleH265(b[h1], b[h1+1]) && plausibleH265(b[h2], b[h2+1]) {
				return FormatH265, h2 + 1
			}
			return FormatGeneric, h2 + 1
		}
	}
	if !full {
		return FormatUnknown, 0
	}
	// Only one NAL unit header fits in b: decide on it alone.
	at = len(b) - 1
	switch {
	case h1 < len(b) && plausibleH264(b[h1]):
		return FormatH264, at
	case h1+1 < len(b) && plausibleH265(b[h1], b[h1+1]):
		return FormatH265, at
	}
	return FormatGeneric, at
}
