package hls

import "bytes"

// maxAUBytes bounds one access unit being assembled.
const maxAUBytes = 16 << 20

// nalKind is what an Annex B NAL unit means for access unit splitting.
type nalKind uint8

const (
	nalOther  nalKind = iota
	nalAUD            // access unit delimiter: always starts an access unit
	nalPrefix         // parameter sets, SEI: start one after a picture
	nalVCL            // slice of a picture, not its first
	nalFirst          // first slice of a picture
)

// nalInfo classifies the NAL unit whose header starts h (at least 3 bytes
// for H.265, 2 for H.264). key is set for IDR (H.264) and IRAP (H.265)
// slices; ps is 7, 8 (H.264 SPS, PPS) or 32, 33, 34 (H.265 VPS, SPS, PPS),
// else 0.
func nalInfo(h []byte, hevc bool) (k nalKind, key bool, ps int) {
	if !hevc {
		t := int(h[0] & 0x1f)
		switch {
		case t >= 1 && t <= 5:
			if h[1]&0x80 != 0 { // first_mb_in_slice == 0
				return nalFirst, t == 5, 0
			}
			return nalVCL, t == 5, 0
		case t == 9:
			return nalAUD, false, 0
		case t == 7 || t == 8:
			return nalPrefix, false, t
		case t == 6 || (t >= 14 && t <= 18):
			return nalPrefix, false, 0
		}
		return nalOther, false, 0
	}
	t := int(h[0] >> 1 & 0x3f)
	layer := int(h[0]&1)<<5 | int(h[1]>>3)
	if layer != 0 {
		return nalOther, false, 0
	}
	switch {
	case t <= 31:
		if t > 21 { // reserved VCL types
			return nalOther, false, 0
		}
		key = t >= 16 && t <= 21
		if h[2]&0x80 != 0 { // first_slice_segment_in_pic_flag
			return nalFirst, key, 0
		}
		return nalVCL, key, 0
	case t == 35:
		return nalAUD, false, 0
	case t >= 32 && t <= 34:
		return nalPrefix, false, t
	case t == 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55):
		return nalPrefix, false, 0
	}
	return nalOther, false, 0
}

// accessUnit is one picture's NAL units with their start codes.
type accessUnit struct {
	data []byte
	key  bool
	ps   [3]bool // carries VPS/SPS, SPS/PPS...: see psIndex
}

// auSplitter groups an Annex B byte stream into access units (H.264
// 7.4.1.2.3, H.265 7.4.2.4.4, as package media does) and caches the latest
// parameter sets. It calls emit with each access unit once the next one
// starts; emit must not keep au.data.
type auSplitter struct {
	hevc bool
	emit func(au accessUnit)
	// paramSet is called with each complete parameter set NAL unit (no
	// start code).
	paramSet func(ps int, nal []byte)

	buf     []byte // the access unit being assembled, then unscanned bytes
	scan    int    // where the start code search resumes
	hasVCL  bool
	key     bool
	ps      [3]bool
	nalAt   int // start of the current NAL unit's header; -1 none
	nalPS   int
	Dropped int64
}

func newAUSplitter(hevc bool, emit func(accessUnit), paramSet func(int, []byte)) *auSplitter {
	return &auSplitter{hevc: hevc, emit: emit, paramSet: paramSet, nalAt: -1}
}

// headerLen is how many header bytes nalInfo needs.
func (a *auSplitter) headerLen() int {
	if a.hevc {
		return 3
	}
	return 2
}

// psIndex maps a parameter set type to its slot in accessUnit.ps.
func psIndex(ps int) int {
	switch ps {
	case 7, 33: // SPS
		return 0
	case 8, 34: // PPS
		return 1
	}
	return 2 // VPS
}

// write feeds the next bytes.
func (a *auSplitter) write(p []byte) {
	a.buf = append(a.buf, p...)
	hl := a.headerLen()
	for {
		i := bytes.Index(a.buf[a.scan:], startCode)
		if i < 0 {
			a.scan = max(a.scan, len(a.buf)-len(startCode)+1)
			break
		}
		sc := a.scan + i
		h := sc + len(startCode)
		if len(a.buf)-h < hl {
			break // the header is not all here yet: look again later
		}
		a.scan = h
		a.endNAL(sc)
		k, key, ps := nalInfo(a.buf[h:], a.hevc)
		begin := sc
		if begin > 0 && a.buf[begin-1] == 0 {
			begin-- // a four-byte start code
		}
		if a.hasVCL && (k == nalAUD || k == nalPrefix || k == nalFirst) {
			a.cut(begin)
			h -= begin
		}
		switch k {
		case nalVCL, nalFirst:
			a.hasVCL = true
			a.key = a.key || key
		}
		a.nalAt, a.nalPS = h, ps
	}
	if len(a.buf) > maxAUBytes {
		a.Dropped += int64(len(a.buf))
		a.buf, a.scan, a.nalAt = a.buf[:0], 0, -1
		a.hasVCL, a.key, a.ps = false, false, [3]bool{}
	}
}

// endNAL ends the current NAL unit at the start code at sc.
func (a *auSplitter) endNAL(sc int) {
	if a.nalAt < 0 || a.nalPS == 0 {
		return
	}
	end := sc
	for end > a.nalAt && a.buf[end-1] == 0 {
		end-- // trailing zeros belong to no NAL unit
	}
	a.ps[psIndex(a.nalPS)] = true
	a.paramSet(a.nalPS, a.buf[a.nalAt:end])
}

// cut emits buf[:n] as an access unit and keeps the rest.
func (a *auSplitter) cut(n int) {
	a.emit(accessUnit{data: a.buf[:n], key: a.key, ps: a.ps})
	a.buf = a.buf[:copy(a.buf, a.buf[n:])]
	a.scan -= n
	a.hasVCL, a.key, a.ps = false, false, [3]bool{}
}

// flush emits the access unit being assembled.
func (a *auSplitter) flush() {
	if a.hasVCL {
		a.endNAL(len(a.buf))
		a.nalAt = -1
		a.cut(len(a.buf))
	}
}

// startCode is the Annex B start code prefix.
var startCode = []byte{0, 0, 1}
