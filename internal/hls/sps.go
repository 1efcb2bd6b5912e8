package hls

import "errors"

// errShort is a parameter set that ends before the field sought.
var errShort = errors.New("hls: parameter set too short")

// bitReader reads an RBSP (emulation prevention bytes removed) bit by bit.
type bitReader struct {
	b   []byte
	pos int // in bits
	err error
}

func newRBSP(nal []byte) *bitReader {
	out := make([]byte, 0, len(nal))
	zeros := 0
	for _, c := range nal {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return &bitReader{b: out}
}

func (r *bitReader) u(n int) uint64 {
	if n < 0 || r.pos+n > 8*len(r.b) {
		r.err = errShort
		r.pos = 8 * len(r.b)
		return 0
	}
	var v uint64
	for range n {
		v = v<<1 | uint64(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

func (r *bitReader) flag() bool { return r.u(1) == 1 }

// ue reads an unsigned Exp-Golomb number.
func (r *bitReader) ue() uint64 {
	n := 0
	for !r.flag() {
		if r.err != nil || n > 31 {
			r.err = errShort
			return 0
		}
		n++
	}
	return 1<<n - 1 + r.u(n)
}

func (r *bitReader) se() { r.ue() }

// frameDuration converts timing information to 90 kHz ticks per frame;
// ticksPerFrame is 2 for H.264 (its ticks count fields).
func frameDuration(units, scale uint64, ticksPerFrame uint64) int64 {
	if units == 0 || scale == 0 {
		return 0
	}
	d := int64(90000 * ticksPerFrame * units / scale)
	if d <= 0 || d > 90000 { // under 1 fps: not believed
		return 0
	}
	return d
}

// spsInfo is what the packetiser reads from a sequence parameter set: the
// frame rate, and the fields slice headers need for their picture order
// count (poc.go).
type spsInfo struct {
	frameDur        int64 // 90 kHz ticks per frame; 0 = no timing information
	ok              bool  // parsed up to the picture order count fields
	separateColour  bool
	frameMbsOnly    bool
	log2MaxFrameNum int
	pocType         int
	log2MaxPocLsb   int
}

// h264FrameDuration reads the frame duration from an H.264 SPS NAL unit
// (header included) with VUI timing information; 0 if it has none.
func h264FrameDuration(nal []byte) int64 { return parseH264SPS(nal).frameDur }

// parseH264SPS reads an H.264 SPS NAL unit (header included).
func parseH264SPS(nal []byte) (si spsInfo) {
	if len(nal) < 4 {
		return si
	}
	r := newRBSP(nal[1:])
	profile := r.u(8)
	r.u(16) // constraint flags, level
	r.ue()  // seq_parameter_set_id
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma := r.ue()
		if chroma == 3 {
			si.separateColour = r.flag()
		}
		r.ue() // bit depths
		r.ue()
		r.u(1)
		if r.flag() { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if r.flag() {
					size := 64
					if i < 6 {
						size = 16
					}
					skipScalingList(r, size)
				}
			}
		}
	}
	si.log2MaxFrameNum = int(r.ue()) + 4
	si.pocType = int(r.ue())
	switch si.pocType {
	case 0:
		si.log2MaxPocLsb = int(r.ue()) + 4
	case 1:
		r.u(1)
		r.se()
		r.se()
		n := r.ue()
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.se()
		}
	}
	r.ue() // max_num_ref_frames
	r.u(1) // gaps
	r.ue() // width
	r.ue() // height
	si.frameMbsOnly = r.flag()
	if !si.frameMbsOnly {
		r.u(1)
	}
	si.ok = r.err == nil && si.log2MaxFrameNum <= 16 && si.log2MaxPocLsb <= 16
	r.u(1)
	if r.flag() { // frame_cropping_flag
		r.ue()
		r.ue()
		r.ue()
		r.ue()
	}
	if !r.flag() || !skipVUIHead(r) { // vui_parameters_present_flag
		return si
	}
	units, scale := r.u(32), r.u(32)
	if r.err == nil {
		si.frameDur = frameDuration(units, scale, 2)
	}
	return si
}

func skipScalingList(r *bitReader, size int) {
	last, next := int64(8), int64(8)
	for range size {
		if next != 0 {
			v := r.ue() // se(v): only its magnitude matters for the skip
			d := int64((v + 1) / 2)
			if v%2 == 0 {
				d = -d
			}
			next = (last + d + 256) % 256
		}
		if next != 0 {
			last = next
		}
		if r.err != nil {
			return
		}
	}
}

// skipVUIHead reads an H.264 VUI up to timing_info_present_flag and
// returns it.
func skipVUIHead(r *bitReader) bool {
	skipVUIStart(r)
	return r.flag() && r.err == nil
}

// skipVUIStart reads the fields H.264 and H.265 VUIs begin with alike:
// aspect ratio, overscan, video signal type and chroma location.
func skipVUIStart(r *bitReader) {
	if r.flag() { // aspect_ratio_info_present_flag
		if r.u(8) == 255 {
			r.u(32)
		}
	}
	if r.flag() { // overscan_info_present_flag
		r.u(1)
	}
	if r.flag() { // video_signal_type_present_flag
		r.u(4)
		if r.flag() {
			r.u(24)
		}
	}
	if r.flag() { // chroma_loc_info_present_flag
		r.ue()
		r.ue()
	}
}

// h265FrameDuration reads the frame duration from an H.265 VPS NAL unit
// (header included) with timing information; 0 if it has none.
func h265FrameDuration(nal []byte) int64 {
	if len(nal) < 6 {
		return 0
	}
	r := newRBSP(nal[2:])
	r.u(4 + 1 + 1 + 6) // vps id, base layer flags, max layers
	subLayers := int(r.u(3))
	r.u(1 + 16)
	skipProfileTierLevel(r, subLayers)
	ordering := r.flag()
	from := subLayers
	if ordering {
		from = 0
	}
	for i := from; i <= subLayers && r.err == nil; i++ {
		r.ue()
		r.ue()
		r.ue()
	}
	maxLayerID := int(r.u(6))
	sets := r.ue()
	for i := uint64(1); i <= sets && r.err == nil; i++ {
		r.u(maxLayerID + 1)
	}
	if !r.flag() { // vps_timing_info_present_flag
		return 0
	}
	units, scale := r.u(32), r.u(32)
	if r.err != nil {
		return 0
	}
	return frameDuration(units, scale, 1)
}

func skipProfileTierLevel(r *bitReader, subLayers int) {
	r.u(96) // general profile, tier, level
	profile := make([]bool, subLayers)
	level := make([]bool, subLayers)
	for i := range subLayers {
		profile[i], level[i] = r.flag(), r.flag()
	}
	if subLayers > 0 {
		r.u(2 * (8 - subLayers))
	}
	for i := range subLayers {
		if profile[i] {
			r.u(88)
		}
		if level[i] {
			r.u(8)
		}
	}
}
