package hls

import "bytes"

// reorderFrames is how many frames each PTS is put after its DTS when the
// picture order count gives the presentation order: a decoder may hold
// that many frames back for B-frames (x264 and x265 defaults need 2 or 3).
const reorderFrames = 4

// sliceHeadBytes bounds the bytes of a slice copied to read its header.
const sliceHeadBytes = 64

// pocTracker reads each picture's order count (H.264 8.2.1.1 for
// pic_order_cnt_type 0, H.265 8.3.1) from its first slice header, so that
// the packetiser can give B-frames their presentation time. Streams whose
// order it cannot read (H.264 order count types 1 and 2; type 2 has no
// B-frames) keep PTS = DTS.
type pocTracker struct {
	hevc bool
	sps  spsInfo
	// From the H.265 PPS: fields before the order count in a slice header.
	ppsOK, dependentSlices, outputFlag bool
	extraBits                          int

	started         bool
	prevMsb, prevLs int
}

// paramSet takes a parameter set NAL unit (header included).
func (p *pocTracker) paramSet(ps int, nal []byte) {
	switch ps {
	case 7:
		p.sps = parseH264SPS(nal)
	case 33:
		p.sps = parseH265SPS(nal)
	case 34:
		if len(nal) < 3 {
			return
		}
		r := newRBSP(nal[2:min(len(nal), sliceHeadBytes)])
		r.ue() // pps_pic_parameter_set_id
		r.ue() // pps_seq_parameter_set_id
		p.dependentSlices = r.flag()
		p.outputFlag = r.flag()
		p.extraBits = int(r.u(3))
		p.ppsOK = r.err == nil
	}
}

// picture returns the order count of the access unit au, and whether it
// could be read.
func (p *pocTracker) picture(au []byte) (poc int, ok bool) {
	nal := firstVCL(au, p.hevc)
	if nal == nil || !p.sps.ok {
		return 0, false
	}
	if p.hevc {
		return p.picture265(nal)
	}
	return p.picture264(nal)
}

func (p *pocTracker) picture264(nal []byte) (int, bool) {
	s := p.sps
	if s.pocType != 0 || len(nal) < 2 {
		return 0, false
	}
	idr := nal[0]&0x1f == 5
	ref := nal[0]&0x60 != 0
	r := newRBSP(nal[1:min(len(nal), sliceHeadBytes)])
	r.ue() // first_mb_in_slice
	r.ue() // slice_type
	r.ue() // pic_parameter_set_id
	if s.separateColour {
		r.u(2)
	}
	r.u(s.log2MaxFrameNum)
	if !s.frameMbsOnly && r.flag() { // field_pic_flag
		r.u(1)
	}
	if idr {
		r.ue() // idr_pic_id
	}
	lsb := int(r.u(s.log2MaxPocLsb))
	if r.err != nil {
		return 0, false
	}
	if idr {
		p.prevMsb, p.prevLs = 0, 0
	}
	poc := p.order(lsb, idr)
	if ref || idr {
		p.prevMsb, p.prevLs = poc-lsb, lsb
	}
	return poc, true
}

func (p *pocTracker) picture265(nal []byte) (int, bool) {
	if !p.ppsOK || len(nal) < 3 {
		return 0, false
	}
	t := int(nal[0] >> 1 & 0x3f)
	tid := int(nal[1]&7) - 1
	r := newRBSP(nal[2:min(len(nal), sliceHeadBytes)])
	if !r.flag() { // first_slice_segment_in_pic_flag
		return 0, false
	}
	if t >= 16 && t <= 23 {
		r.u(1) // no_output_of_prior_pics_flag
	}
	r.ue() // slice_pic_parameter_set_id
	r.u(p.extraBits)
	r.ue() // slice_type
	if p.outputFlag {
		r.u(1)
	}
	if p.sps.separateColour {
		r.u(2)
	}
	lsb := 0
	idr := t == 19 || t == 20
	if !idr {
		lsb = int(r.u(p.sps.log2MaxPocLsb))
	}
	if r.err != nil {
		return 0, false
	}
	// IDR and BLA pictures, and the stream's first picture, restart the
	// count.
	if idr || (t >= 16 && t <= 18) || !p.started {
		p.prevMsb, p.prevLs = 0, lsb
	}
	poc := p.order(lsb, idr || (t >= 16 && t <= 18) || !p.started)
	// The next picture's order count is relative to the last picture of
	// temporal layer 0 that is no RADL, RASL or sub-layer non-reference.
	subLayerNonRef := t <= 14 && t%2 == 0
	if tid == 0 && (t < 6 || t > 9) && !subLayerNonRef {
		p.prevMsb, p.prevLs = poc-lsb, lsb
	}
	return poc, true
}

// order derives the full order count from its low bits. reset means the
// picture starts the count (its most significant part is 0).
func (p *pocTracker) order(lsb int, reset bool) int {
	p.started = true
	if reset {
		return lsb
	}
	maxLsb := 1 << p.sps.log2MaxPocLsb
	msb := p.prevMsb
	switch {
	case lsb < p.prevLs && p.prevLs-lsb >= maxLsb/2:
		msb += maxLsb
	case lsb > p.prevLs && lsb-p.prevLs > maxLsb/2:
		msb -= maxLsb
	}
	return msb + lsb
}

// pocStep is how much the order count grows per frame: 2 in H.264 (a
// frame is two fields), 1 in H.265.
func (p *pocTracker) pocStep() int {
	if p.hevc {
		return 1
	}
	return 2
}

// firstVCL returns the first slice NAL unit of an access unit (from its
// header on), or nil.
func firstVCL(au []byte, hevc bool) []byte {
	for i := 0; ; {
		k := bytes.Index(au[i:], startCode)
		if k < 0 {
			return nil
		}
		h := i + k + len(startCode)
		if h+3 > len(au) {
			return nil
		}
		if kind, _, _ := nalInfo(au[h:], hevc); kind == nalVCL || kind == nalFirst {
			return au[h:]
		}
		i = h
	}
}
