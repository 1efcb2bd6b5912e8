package media

import (
	"bytes"
	"time"
)

// startCode4 is written before every cached parameter set.
var startCode4 = []byte{0, 0, 0, 1}

// annexB tracks access units and parameter sets in an H.264 or H.265 Annex B
// byte stream and publishes a join point at the start of every access unit
// that holds an IDR (H.264) or IRAP (H.265) picture.
type annexB struct {
	hevc   bool
	hdrLen int // NAL unit header size: 1 for H.264, 2 for H.265
	js     *joinState
	now    time.Time
	sc     startCodeScanner

	// nalStart is where the NAL unit whose header was reported last (or is
	// being collected) begins, start code included.
	nalStart int64

	// The access unit being parsed.
	auStart int64
	auTime  time.Time
	auVCL   bool           // it has a VCL NAL unit already
	auKey   bool           // it is an IDR/IRAP access unit
	auPS    [numSlots]bool // parameter sets it carries itself

	// The parameter set NAL unit being copied, if capturing.
	capturing bool
	capSlot   int
	capFrom   int    // index in the current write's p to copy from next
	capBuf    []byte // preallocated, never grown
	capOver   bool   // the NAL unit did not fit in capBuf

	// ps holds the latest complete parameter set of each slot, with a
	// 4-byte start code. A slice is replaced, never modified.
	ps [numSlots][]byte
	// prefix is ps concatenated, rebuilt when psDirty; shared by join
	// points, so never modified once built.
	prefix  []byte
	psDirty bool
}

func (a *annexB) init(hevc bool, js *joinState, maxPS int) {
	a.hevc = hevc
	a.hdrLen = 1
	if hevc {
		a.hdrLen = 2
	}
	a.js = js
	a.sc.sink = a
	// One byte past the header: first_mb_in_slice (H.264) or
	// first_slice_segment_in_pic_flag (H.265) is its first bit.
	a.sc.need = a.hdrLen + 1
	a.capBuf = make([]byte, 0, maxPS+len(startCode4))
}

// write feeds the next bytes of the stream.
func (a *annexB) write(p []byte) {
	if a.capturing {
		a.capFrom = 0
	}
	a.sc.write(p)
	if a.capturing {
		a.capAppend(p[a.capFrom:])
	}
}

// retainFrom returns the oldest offset a future join point could have.
func (a *annexB) retainFrom() int64 {
	if a.sc.pos-a.auStart <= maxKeyLead {
		// The access unit being parsed may still turn out to be a key one
		// (see keyframe for the bound), and its start is the fallback
		// point.
		return a.auStart
	}
	if a.sc.collecting {
		// A NAL unit whose header has not fully arrived may open one.
		return a.nalStart
	}
	// A start code may be in progress in the last zero bytes.
	return a.sc.pos - int64(a.sc.zeros)
}

// startCode implements nalSink: it ends the previous NAL unit.
func (a *annexB) startCode(p []byte, end int, nalStart int64) {
	if a.capturing {
		if a.capFrom <= end {
			a.capAppend(p[a.capFrom : end+1])
		}
		a.finishCapture()
	}
	a.nalStart = nalStart
}

// header implements nalSink: it classifies a NAL unit.
func (a *annexB) header(h []byte, p []byte, next int) {
	// The scanner updates its position after a write, so during one it is
	// the offset of p[0].
	end := a.sc.pos + int64(next)
	var slot int
	if a.hevc {
		slot = a.headerH265(h, end)
	} else {
		slot = a.headerH264(h, end)
	}
	if slot < 0 {
		return
	}
	a.auPS[slot] = true
	a.capturing = true
	a.capSlot = slot
	a.capOver = false
	a.capBuf = append(a.capBuf[:0], startCode4...)
	a.capAppend(h)
	a.capFrom = next
}

// headerH264 applies an H.264 NAL unit header, which ends before offset end,
// to the access unit state (H.264 7.4.1.2.3) and returns the parameter set
// slot to cache it in, or -1.
func (a *annexB) headerH264(h []byte, end int64) int {
	if h[0]&0x80 != 0 {
		return -1 // forbidden_zero_bit: not a NAL unit
	}
	switch t := h[0] & 0x1f; {
	case t == h264AUD:
		a.newAU()
	case t == h264SEI || t == h264SPS || t == h264PPS || (t >= h264Prefix && t <= h264Prefix+4):
		if a.auVCL {
			a.newAU()
		}
		switch t {
		case h264SPS:
			return slotSPS
		case h264PPS:
			return slotPPS
		}
	case t == h264Slice || t == h264PartA || t == h264IDR:
		// first_mb_in_slice is ue(v); it is 0 exactly when its first bit
		// is 1, which marks the first slice of a new picture.
		if h[1]&0x80 != 0 && a.auVCL {
			a.newAU()
		}
		// Only the first VCL NAL unit decides: an IDR slice after a
		// non-IDR one in the same picture is a broken stream.
		if t == h264IDR && !a.auVCL {
			a.keyframe(end)
		}
		a.auVCL = true
	case t > h264PartA && t <= h264PartC:
		a.auVCL = true
	}
	return -1
}

// headerH265 is headerH264 for H.265 (H.265 7.4.2.4.4).
func (a *annexB) headerH265(h []byte, end int64) int {
	if h[0]&0x80 != 0 || h[1]&7 == 0 {
		return -1 // forbidden_zero_bit or nuh_temporal_id_plus1 == 0
	}
	if h[0]&1 != 0 || h[1]>>3 != 0 {
		return -1 // nuh_layer_id > 0: part of the current access unit
	}
	switch t := h[0] >> 1 & 0x3f; {
	case t == h265AUD:
		a.newAU()
	case (t >= h265VPS && t <= h265PPS) || t == h265PrefixSEI || (t >= 41 && t <= 44) || (t >= 48 && t <= 55):
		if a.auVCL {
			a.newAU()
		}
		switch t {
		case h265VPS:
			return slotVPS
		case h265SPS:
			return slotSPS
		case h265PPS:
			return slotPPS
		}
	case t <= h265MaxVCL:
		if h[2]&0x80 != 0 && a.auVCL { // first_slice_segment_in_pic_flag
			a.newAU()
		}
		if t >= h265BLAWLP && t <= h265CRA && !a.auVCL {
			a.keyframe(end)
		}
		a.auVCL = true
	}
	return -1
}

// newAU starts an access unit at the NAL unit just reported.
func (a *annexB) newAU() {
	a.auStart = a.nalStart
	a.auTime = a.now
	a.auVCL = false
	a.auKey = false
	a.auPS = [numSlots]bool{}
}

// keyframe makes the current access unit a join point, once; end is where
// the header of its first VCL NAL unit ends.
func (a *annexB) keyframe(end int64) {
	if a.auKey || end-a.auStart > maxKeyLead {
		return
	}
	a.auKey = true
	first := a.firstSlot()
	own := true
	for s := first; s < numSlots; s++ {
		own = own && a.auPS[s]
	}
	var prefix []byte
	if !own {
		for s := first; s < numSlots; s++ {
			if a.ps[s] == nil {
				return // a decoder could not start here
			}
		}
		prefix = a.paramSets(first)
	}
	a.js.publish(a.auStart, prefix, a.auTime)
}

// fallback returns the start of the newest access unit, with the cached
// parameter sets, while its bytes are retained.
func (a *annexB) fallback() (JoinPoint, bool) {
	if a.auStart < a.retainFrom() {
		return JoinPoint{}, false
	}
	return JoinPoint{Pos: a.auStart, Prefix: a.cachedSets(), Time: a.auTime}, true
}

// cachedSets returns the cached parameter sets: the shared prefix when all
// of them are cached, else a new slice with those that are (nil if none).
func (a *annexB) cachedSets() []byte {
	first := a.firstSlot()
	all := true
	for s := first; s < numSlots; s++ {
		all = all && a.ps[s] != nil
	}
	if all {
		return a.paramSets(first)
	}
	var b []byte
	for s := first; s < numSlots; s++ {
		b = append(b, a.ps[s]...)
	}
	return b
}

// firstSlot is the first parameter set slot the codec uses.
func (a *annexB) firstSlot() int {
	if a.hevc {
		return slotVPS
	}
	return slotSPS
}

// paramSets returns the cached parameter sets from slot first on, as one
// immutable slice that is rebuilt only when one of them changed.
func (a *annexB) paramSets(first int) []byte {
	if a.prefix != nil && !a.psDirty {
		return a.prefix
	}
	n := 0
	for s := first; s < numSlots; s++ {
		n += len(a.ps[s])
	}
	b := make([]byte, 0, n)
	for s := first; s < numSlots; s++ {
		b = append(b, a.ps[s]...)
	}
	a.prefix = b
	a.psDirty = false
	return b
}

// capAppend copies b into the capture buffer, or gives up on this NAL unit
// when it would not fit.
func (a *annexB) capAppend(b []byte) {
	if a.capOver {
		return
	}
	if len(a.capBuf)+len(b) > cap(a.capBuf) {
		a.capOver = true
		return
	}
	a.capBuf = append(a.capBuf, b...)
}

// finishCapture ends the parameter set being copied at the start code just
// found, and caches it if it is complete and new.
func (a *annexB) finishCapture() {
	a.capturing = false
	if a.capOver {
		return
	}
	b := a.capBuf
	// The copy ends with the next start code's 0x01 and zeros; a NAL unit
	// never ends with a zero byte (rbsp_stop_one_bit), so drop them all.
	if n := len(b); n > 0 && b[n-1] == 1 {
		b = b[:n-1]
	}
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	if len(b) <= len(startCode4)+a.hdrLen {
		return
	}
	if bytes.Equal(a.ps[a.capSlot], b) {
		return // the usual case: the encoder repeats the same sets
	}
	a.ps[a.capSlot] = bytes.Clone(b)
	a.psDirty = true
}
