package hls

import (
	"bytes"
	"context"
	"time"

	"github.com/asticode/go-astits"
)

const (
	// videoPID is the PID of the one elementary stream of packetised
	// Annex B input.
	videoPID = 0x100
	// tsOffset starts the timestamps a second in, so that the PCR, which
	// runs a little ahead of them, never goes below zero.
	tsOffset = 90000
	// pcrLead is how far the PCR is ahead of the DTS it is sent with.
	pcrLead = 9000
)

// auMuxer packetises an H.264 or H.265 Annex B stream into MPEG-TS with
// go-astits: one PES per access unit, the PAT and PMT before every
// keyframe (and every 40 PES), a PCR in every PES's first packet. A
// segment starts at a keyframe at least MinSegment after the last.
//
// Decode timestamps come from the frame rate in the parameter sets (the
// timing information of an H.264 SPS, an H.265 SPS or VPS) when they have
// one, one frame per access unit, else from each access unit's arrival
// time. Presentation timestamps come from each picture's order count
// (poc.go), so B-frames show in the right order; streams timed by arrival
// get PTS = DTS.
type auMuxer struct {
	s     *Segmenter
	hevc  bool
	split *auSplitter
	out   bytes.Buffer
	mux   *astits.Muxer

	poc      pocTracker
	ps       [3][]byte // latest VPS/SPS/PPS with start codes (psIndex)
	frameDur int64     // 90 kHz ticks per frame from the timing info; 0 = none
	now      time.Time // arrival of the bytes being written

	started bool
	t0      time.Time // arrival of the first access unit
	next    int64     // timestamp of the next access unit

	// The last keyframe's DTS and order count: the presentation times of
	// the pictures after it count from there.
	keyDTS  int64
	keyPOC  int
	haveKey bool

	open     bool // a segment is being cut
	segTS    int64
	segStart time.Time
}

func newAUMuxer(s *Segmenter, hevc bool) *auMuxer {
	m := &auMuxer{s: s, hevc: hevc, poc: pocTracker{hevc: hevc}}
	m.split = newAUSplitter(hevc, m.accessUnit, m.paramSet)
	m.mux = astits.NewMuxer(context.Background(), &m.out)
	st := astits.StreamTypeH264Video
	if hevc {
		st = astits.StreamTypeH265Video
	}
	// Only fails for a PID already added.
	_ = m.mux.AddElementaryStream(astits.PMTElementaryStream{ElementaryPID: videoPID, StreamType: st})
	m.mux.SetPCRPID(videoPID)
	return m
}

func (m *auMuxer) write(p []byte, now time.Time) {
	m.now = now
	m.split.write(p)
}

func (m *auMuxer) paramSet(ps int, nal []byte) {
	i := psIndex(ps)
	m.ps[i] = append(append(m.ps[i][:0], 0, 0, 0, 1), nal...)
	m.poc.paramSet(ps, nal)
	var d int64
	switch ps {
	case 7:
		d = h264FrameDuration(nal)
	case 32:
		d = h265FrameDuration(nal)
	case 33:
		d = h265SPSFrameDuration(nal)
	default:
		return
	}
	if d > 0 {
		m.frameDur = d
	}
}

// timestamp returns the 90 kHz timestamp of the next access unit and
// where it came from.
func (m *auMuxer) timestamp() (int64, string) {
	if !m.started {
		m.started, m.t0, m.next = true, m.now, tsOffset
	}
	ts := m.next
	clock := "sps"
	if m.frameDur > 0 {
		m.next += m.frameDur
	} else {
		clock = "arrival"
		// Access units that arrive together still get distinct times.
		ts = max(ts, tsOffset+int64(m.now.Sub(m.t0)*90000/time.Second))
		m.next = ts + 1
	}
	return ts, clock
}

func (m *auMuxer) accessUnit(au accessUnit) {
	if !m.open && !au.key {
		m.s.Dropped += int64(len(au.data)) // a segment starts at a keyframe
		return
	}
	ts, clock := m.timestamp()
	if au.key {
		if m.open && time.Duration(ts-m.segTS)*time.Second/90000 >= m.s.cfg.MinSegment {
			m.finish(ts, clock)
		}
		if !m.open {
			m.open, m.segTS, m.segStart = true, ts, m.now
		}
	}
	data := au.data
	if au.key && !m.hasAllPS(au) {
		data = m.withParamSets(au.data)
	}
	opt := &astits.PESOptionalHeader{MarkerBits: 2, PTSDTSIndicator: astits.PTSDTSIndicatorOnlyPTS,
		PTS: &astits.ClockReference{Base: ts}}
	if pts := m.presentation(au, ts); pts != ts {
		opt.PTSDTSIndicator = astits.PTSDTSIndicatorBothPresent
		opt.PTS, opt.DTS = &astits.ClockReference{Base: pts}, &astits.ClockReference{Base: ts}
	}
	_, err := m.mux.WriteData(&astits.MuxerData{
		PID: videoPID,
		AdaptationField: &astits.PacketAdaptationField{
			RandomAccessIndicator: au.key,
			HasPCR:                true,
			PCR:                   &astits.ClockReference{Base: ts - pcrLead},
		},
		PES: &astits.PESData{Header: &astits.PESHeader{OptionalHeader: opt}, Data: data},
	})
	if err != nil { // writes to a bytes.Buffer do not fail
		m.s.lost(m.out.Len())
		m.out.Reset()
		m.open = false
	}
	if m.out.Len() > m.s.cfg.MaxSegmentBytes {
		m.s.lost(m.out.Len())
		m.out.Reset()
		m.open = false
	}
}

// presentation returns the PTS of an access unit decoded at dts: from its
// picture order count when the stream has a frame rate and the count can
// be read, reorderFrames frames after the DTS otherwise; equal to the DTS
// for streams timed by arrival.
func (m *auMuxer) presentation(au accessUnit, dts int64) int64 {
	if m.frameDur <= 0 {
		return dts
	}
	pts := dts + reorderFrames*m.frameDur
	poc, ok := m.poc.picture(au.data)
	if !ok {
		return pts
	}
	if au.key {
		m.keyDTS, m.keyPOC, m.haveKey = dts, poc, true
	}
	if m.haveKey {
		pts = m.keyDTS + int64((poc-m.keyPOC)/m.poc.pocStep()+reorderFrames)*m.frameDur
	}
	return max(pts, dts)
}

// hasAllPS reports whether the keyframe carries the parameter sets a
// decoder needs.
func (m *auMuxer) hasAllPS(au accessUnit) bool {
	if !au.ps[0] || !au.ps[1] {
		return false
	}
	return !m.hevc || au.ps[2]
}

// withParamSets returns the cached parameter sets followed by data.
func (m *auMuxer) withParamSets(data []byte) []byte {
	var out []byte
	for _, i := range []int{2, 0, 1} {
		if i == 2 && !m.hevc {
			continue
		}
		out = append(out, m.ps[i]...)
	}
	return append(out, data...)
}

// finish emits the open segment; it ends at timestamp end.
func (m *auMuxer) finish(end int64, clock string) {
	d := time.Duration(end-m.segTS) * time.Second / 90000
	m.s.put(cut{Data: bytes.Clone(m.out.Bytes()), Duration: d, Start: m.segStart, Clock: clock})
	m.out.Reset()
	m.open = false
}

func (m *auMuxer) flush(now time.Time) {
	m.now = now
	m.split.flush()
	if m.open && m.out.Len() > 0 {
		end, clock := m.timestamp()
		m.finish(end, clock)
	}
}
