package hls

// h265SPSFrameDuration reads the frame duration from an H.265 SPS NAL unit
// (header included) with VUI timing information; 0 if it has none.
func h265SPSFrameDuration(nal []byte) int64 { return parseH265SPS(nal).frameDur }

// parseH265SPS reads an H.265 SPS NAL unit (header included).
func parseH265SPS(nal []byte) (si spsInfo) {
	if len(nal) < 6 {
		return si
	}
	r := newRBSP(nal[2:])
	r.u(4) // sps_video_parameter_set_id
	subLayers := int(r.u(3))
	r.u(1)
	skipProfileTierLevel(r, subLayers)
	r.ue() // sps_seq_parameter_set_id
	if r.ue() == 3 {
		si.separateColour = r.flag()
	}
	r.ue() // width, height
	r.ue()
	if r.flag() { // conformance_window_flag
		for range 4 {
			r.ue()
		}
	}
	r.ue() // bit depths
	r.ue()
	pocBits := int(r.ue()) + 4
	si.log2MaxPocLsb = pocBits
	si.ok = r.err == nil && pocBits <= 16
	from := subLayers
	if r.flag() { // sps_sub_layer_ordering_info_present_flag
		from = 0
	}
	for i := from; i <= subLayers && r.err == nil; i++ {
		r.ue()
		r.ue()
		r.ue()
	}
	for range 6 { // coding and transform block sizes, hierarchy depths
		r.ue()
	}
	if scalingList := r.flag(); scalingList && r.flag() { // sps_scaling_list_data_present_flag
		skipScalingListData(r)
	}
	r.u(2)        // amp, sample_adaptive_offset
	if r.flag() { // pcm_enabled_flag
		r.u(8)
		r.ue()
		r.ue()
		r.u(1)
	}
	if !skipShortTermRefPicSets(r) {
		return si
	}
	if r.flag() { // long_term_ref_pics_present_flag
		n := r.ue()
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.u(pocBits + 1)
		}
	}
	r.u(2)         // temporal_mvp, strong_intra_smoothing
	if !r.flag() { // vui_parameters_present_flag
		return si
	}
	skipVUIStart(r)
	r.u(3)        // neutral_chroma, field_seq, frame_field_info_present
	if r.flag() { // default_display_window_flag
		for range 4 {
			r.ue()
		}
	}
	if !r.flag() { // vui_timing_info_present_flag
		return si
	}
	units, scale := r.u(32), r.u(32)
	if r.err == nil {
		si.frameDur = frameDuration(units, scale, 1)
	}
	return si
}

func skipScalingListData(r *bitReader) {
	for size := 0; size < 4; size++ {
		step := 1
		if size == 3 {
			step = 3
		}
		for m := 0; m < 6; m += step {
			if !r.flag() { // scaling_list_pred_mode_flag
				r.ue()
				continue
			}
			n := min(64, 1<<(4+size<<1))
			if size > 1 {
				r.ue()
			}
			for range n {
				r.ue()
			}
			if r.err != nil {
				return
			}
		}
	}
}

// skipShortTermRefPicSets reads num_short_term_ref_pic_sets and the sets
// (H.265 7.3.7); false if they do not parse.
func skipShortTermRefPicSets(r *bitReader) bool {
	num := int(r.ue())
	if num > 64 {
		return false
	}
	deltas := make([]int, num) // NumDeltaPocs of each set
	for i := 0; i < num && r.err == nil; i++ {
		if i > 0 && r.flag() { // inter_ref_pic_set_prediction_flag
			r.u(1) // delta_rps_sign
			r.ue() // abs_delta_rps_minus1
			n := 0
			for j := 0; j <= deltas[i-1]; j++ {
				used := r.flag()
				if used || r.flag() {
					n++
				}
			}
			deltas[i] = n
			continue
		}
		neg, pos := r.ue(), r.ue()
		if neg > 16 || pos > 16 {
			return false
		}
		for range neg + pos {
			r.ue()
			r.u(1)
		}
		deltas[i] = int(neg + pos)
	}
	return r.err == nil
}
