package media

// NAL unit types used here: ITU-T H.264 table 7-1.
const (
	h264Slice  = 1 // coded slice of a non-IDR picture
	h264PartA  = 2 // slice data partition A
	h264PartC  = 4 // slice data partition C
	h264IDR    = 5 // coded slice of an IDR picture
	h264SEI    = 6
	h264SPS    = 7
	h264PPS    = 8
	h264AUD    = 9  // access unit delimiter
	h264Prefix = 14 // first of the types that, after a VCL NAL, open an access unit (14..18)
)

// NAL unit types used here: ITU-T H.265 table 7-1.
const (
	h265MaxVCL    = 31 // 0..31 are VCL types
	h265BLAWLP    = 16 // first IRAP type (BLA, IDR, CRA: 16..21)
	h265CRA       = 21 // last IRAP type
	h265VPS       = 32
	h265SPS       = 33
	h265PPS       = 34
	h265AUD       = 35
	h265PrefixSEI = 39
)

// Slots of the cached parameter sets, in the order they are sent.
const (
	slotVPS = iota
	slotSPS
	slotPPS
	numSlots
)

// plausibleH264 reports whether b could be the header byte of the first NAL
// units of an H.264 stream: forbidden_zero_bit clear, a type an encoder
// starts with, and a nal_ref_idc the standard allows for that type. The
// nal_ref_idc rules are what tell 0x46 (an H.265 AUD) from an H.264 SEI.
func plausibleH264(b byte) bool {
	if b&0x80 != 0 {
		return false
	}
	ref := b >> 5 & 3
	switch b & 0x1f {
	case h264Slice:
		return true
	case h264IDR, h264SPS, h264PPS:
		return ref != 0
	case h264SEI, h264AUD:
		return ref == 0
	}
	return false
}

// plausibleH265 reports whether b0 b1 could be the header of the first NAL
// units of an H.265 stream: forbidden_zero_bit clear, base layer,
// nuh_temporal_id_plus1 not zero (and one for parameter sets and IRAPs), and
// a type an encoder starts with.
func plausibleH265(b0, b1 byte) bool {
	if b0&0x80 != 0 || b0&1 != 0 || b1>>3 != 0 {
		return false
	}
	tid1 := b1 & 7
	t := b0 >> 1 & 0x3f
	switch {
	case tid1 == 0:
		return false
	case t <= 9:
		return true
	case t >= h265BLAWLP && t <= h265CRA, t >= h265VPS && t <= h265PPS:
		return tid1 == 1
	case t == h265AUD, t == h265PrefixSEI, t == h265PrefixSEI+1:
		return true
	}
	return false
}
