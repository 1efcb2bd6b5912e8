package hls

import (
	"time"

	"github.com/fstream/fstream/internal/media"
)

// feedPiece is the most bytes fed to the tracker at once: the tracker keeps
// only its newest join point, so a piece must not hold two keyframes.
const feedPiece = 7 * 188

// detectHold bounds the bytes held while the tracker detects the format.
const detectHold = 64 << 10

// A cut is one finished segment as a cutter hands it over.
type cut struct {
	Data     []byte
	Duration time.Duration
	Start    time.Time // arrival time of its first byte
	Disc     bool      // a discontinuity comes before it
	Clock    string    // where Duration came from: "pts", "sps" or "arrival"
}

// Segmenter cuts one stream into segments. It is fed the stream's bytes in
// order (from a hub subscription) and calls emit for each finished segment.
// MPEG-TS is cut at the tracker's join points; H.264 and H.265 Annex B are
// packetised into MPEG-TS first (annexb.go, mux.go). It is not safe for
// concurrent use; it has no goroutines.
type Segmenter struct {
	cfg  Config
	emit func(cut)

	tr     *media.Tracker
	format media.Format
	pre    []byte // bytes held while detecting
	ts     *tsCutter
	ab     *auMuxer
	disc   bool // the next segment follows a discontinuity
	// Dropped counts bytes dropped: a segment over MaxSegmentBytes, an
	// undetectable stream.
	Dropped int64
}

// NewSegmenter returns a Segmenter that calls emit for every segment.
func NewSegmenter(cfg Config, emit func(cut)) *Segmenter {
	s := &Segmenter{cfg: cfg.withDefaults(), emit: emit}
	s.reset()
	return s
}

func (s *Segmenter) reset() {
	s.tr = media.NewTracker(media.TrackerConfig{})
	s.format = media.FormatUnknown
	s.pre = nil
	s.ts, s.ab = nil, nil
}

// Format returns the detected format.
func (s *Segmenter) Format() media.Format { return s.format }

// Discontinuity starts over: the bytes that follow are a new stream (a
// broadcaster change). The segment being cut is finished first, and the
// next one carries a discontinuity tag.
func (s *Segmenter) Discontinuity(now time.Time) {
	s.Flush(now)
	s.reset()
	s.disc = true
}

// Flush finishes the segment being cut, if any (the stream ended).
func (s *Segmenter) Flush(now time.Time) {
	switch {
	case s.ts != nil:
		s.ts.flush(now)
	case s.ab != nil:
		s.ab.flush(now)
	}
}

// Write feeds the next bytes of the stream; now is their arrival time.
func (s *Segmenter) Write(p []byte, now time.Time) {
	for len(p) > 0 {
		n := min(len(p), feedPiece)
		s.write(p[:n], now)
		p = p[n:]
	}
}

func (s *Segmenter) write(p []byte, now time.Time) {
	s.tr.Write(p, now)
	if s.format == media.FormatUnknown {
		s.format = s.tr.Format()
		switch s.format {
		case media.FormatUnknown:
			if len(s.pre)+len(p) > detectHold {
				s.Dropped += int64(len(s.pre))
				s.pre = s.pre[:0]
			}
			s.pre = append(s.pre, p...)
			return
		case media.FormatMPEGTS:
			s.ts = newTSCutter(s)
		case media.FormatH264, media.FormatH265:
			s.ab = newAUMuxer(s, s.format == media.FormatH265)
		default:
			s.Dropped += int64(len(s.pre) + len(p))
			s.pre = nil
			return
		}
		pre := s.pre
		s.pre = nil
		if len(pre) > 0 {
			s.feed(pre, now)
		}
	}
	s.feed(p, now)
}

// feed hands bytes the tracker has seen to the format's cutter.
func (s *Segmenter) feed(p []byte, now time.Time) {
	switch {
	case s.ts != nil:
		s.ts.write(p, now)
	case s.ab != nil:
		s.ab.write(p, now)
	default:
		s.Dropped += int64(len(p))
	}
}

// put hands a finished segment to emit, with the pending discontinuity.
func (s *Segmenter) put(c cut) {
	c.Disc = s.disc
	s.disc = false
	s.emit(c)
}

// lost drops bytes that could not become a segment; the next segment is
// marked discontinuous.
func (s *Segmenter) lost(n int) {
	s.Dropped += int64(n)
	s.disc = true
}
