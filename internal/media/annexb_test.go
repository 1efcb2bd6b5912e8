package media

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// nal builds an H.264 NAL unit with a 4-byte start code: header byte hdr,
// then the payload bytes. For slices, payload[0]&0x80 set means
// first_mb_in_slice == 0.
func nal(hdr ...byte) []byte { return append([]byte{0, 0, 0, 1}, hdr...) }

// Small H.264 NAL units (payloads are filler with the right leading bits).
var (
	aud    = nal(0x09, 0xf0)
	sps    = nal(0x67, 0x42, 0xc0, 0x1e, 0x8c, 0x68)
	sps2   = nal(0x67, 0x42, 0xc0, 0x1f, 0x8c, 0x68)
	pps    = nal(0x68, 0xce, 0x3c, 0x80)
	sei    = nal(0x06, 0x05, 0x02, 0xaa, 0xbb, 0x80)
	idr    = nal(0x65, 0x88, 0x84, 0x21, 0xa0) // first_mb_in_slice 0
	idr2nd = nal(0x65, 0x40, 0x84, 0x21, 0xa0) // a second slice of the same IDR picture
	pslice = nal(0x41, 0x9a, 0x02, 0x03)
	islice = nal(0x21, 0x88, 0x82, 0x03) // non-IDR I slice (recovery point)
	eos    = nal(0x0b)
)

// H.265 NAL units: two header bytes (type<<1, tid+1), then payload; bit 7 of
// the first payload byte of a slice is first_slice_segment_in_pic_flag.
func hevc(typ byte, payload ...byte) []byte { return nal(append([]byte{typ << 1, 1}, payload...)...) }

var (
	vps   = hevc(32, 0x0c, 0x01, 0xff)
	hsps  = hevc(33, 0x01, 0x01, 0x60)
	hpps  = hevc(34, 0xc1, 0x72, 0xb4)
	haud  = hevc(35, 0x50)
	hsei  = hevc(39, 0x01, 0x04, 0x80)
	hidr  = hevc(19, 0xaf, 0x1d, 0x80) // IDR_W_RADL
	hcra  = hevc(21, 0xaf, 0x1d, 0x80)
	hbla  = hevc(16, 0xaf, 0x1d, 0x80)
	htrl  = hevc(1, 0xd0, 0x1d, 0x80) // TRAIL_R, first slice
	hrasl = hevc(8, 0xd0, 0x1d, 0x80)
	// An IDR slice header of layer 1 (nuh_layer_id 1): not the base layer.
	hidrL1 = nal(19<<1, 1<<3|1, 0xaf, 0x80)
)

// stream concatenates NAL units and returns the offset of each.
func stream(units ...[]byte) ([]byte, []int64) {
	var b []byte
	var offs []int64
	for _, u := range units {
		offs = append(offs, int64(len(b)))
		b = append(b, u...)
	}
	return b, offs
}

func TestAnnexBAccessUnits(t *testing.T) {
	type join struct {
		unit   int  // index of the NAL unit the join point starts at
		prefix bool // Prefix is the cached parameter sets
	}
	tests := []struct {
		name  string
		units [][]byte
		want  []join
	}{
		{"sps pps idr, then p", [][]byte{sps, pps, idr, pslice, pslice}, []join{{0, false}}},
		{"aud starts the access unit", [][]byte{sps, pps, idr, pslice, aud, sps, pps, sei, idr, pslice}, []join{{0, false}, {4, false}}},
		{"sei starts the access unit; cached sets", [][]byte{sps, pps, idr, pslice, sei, idr, pslice}, []join{{0, false}, {4, true}}},
		{"idr alone; cached sets", [][]byte{sps, pps, idr, pslice, idr, pslice, idr}, []join{{0, false}, {4, true}, {6, true}}},
		{"two slices, one picture", [][]byte{sps, pps, idr, idr2nd, pslice, idr, idr2nd}, []join{{0, false}, {5, true}}},
		{"end of sequence stays in its access unit", [][]byte{sps, pps, idr, pslice, eos, idr}, []join{{0, false}, {5, true}}},
		{"recovery point is no join point", [][]byte{sps, pps, idr, pslice, sps, pps, sei, islice, pslice}, []join{{0, false}}},
		{"no parameter sets yet", [][]byte{sei, idr, pslice, sps, pps, idr}, []join{{3, false}}},
		{"only pps in the access unit", [][]byte{sps, pps, idr, pslice, pps, idr}, []join{{0, false}, {4, true}}},
		{"stream starts mid-picture", [][]byte{pslice, idr2nd, sps, pps, idr}, []join{{2, false}}},
	}
	hevcTests := []struct {
		name  string
		units [][]byte
		want  []join
	}{
		{"vps sps pps sei idr", [][]byte{vps, hsps, hpps, hsei, hidr, htrl}, []join{{0, false}}},
		{"cra and bla are join points", [][]byte{vps, hsps, hpps, hidr, htrl, hcra, hrasl, htrl, hbla}, []join{{0, false}, {5, true}, {8, true}}},
		{"aud", [][]byte{haud, vps, hsps, hpps, hidr, htrl, haud, hcra}, []join{{0, false}, {6, true}}},
		{"no vps, no join point", [][]byte{hsps, hpps, hidr, htrl, hcra}, nil},
		{"layer 1 is not a join point", [][]byte{vps, hsps, hpps, hidr, htrl, hidrL1, htrl}, []join{{0, false}}},
	}
	run := func(t *testing.T, units [][]byte, want []join, h265 bool) {
		data, offs := stream(units...)
		tr := NewTracker(TrackerConfig{})
		tr.Write(data[:0], epoch)
		var got []join
		var prefixes [][]byte
		// Write one unit at a time and collect every join point.
		var seq uint64
		for _, u := range units {
			tr.Write(u, epoch)
			if jp, ok := tr.JoinPoint(); ok && jp.Seq != seq {
				seq = jp.Seq
				i := slices.Index(offs, jp.Pos)
				if i < 0 {
					t.Fatalf("join point at %d, not at a NAL unit (%v)", jp.Pos, offs)
				}
				got = append(got, join{i, jp.Prefix != nil})
				prefixes = append(prefixes, jp.Prefix)
			}
		}
		// The format may stay unknown when the first two NAL units are
		// not enough to tell: then there can be no join point either.
		if len(want) > 0 && (tr.Format() == FormatH265) != h265 {
			t.Fatalf("format %v", tr.Format())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("join points (unit, prefix) %v, want %v", got, want)
		}
		for _, p := range prefixes {
			if p == nil {
				continue
			}
			var wantPrefix []byte
			if h265 {
				wantPrefix = slices.Concat(vps, hsps, hpps)
			} else {
				wantPrefix = slices.Concat(sps, pps)
			}
			if !bytes.Equal(p, wantPrefix) {
				t.Errorf("prefix % x, want % x", p, wantPrefix)
			}
		}
	}
	for _, tc := range tests {
		t.Run("h264/"+tc.name, func(t *testing.T) { run(t, tc.units, tc.want, false) })
	}
	for _, tc := range hevcTests {
		t.Run("h265/"+tc.name, func(t *testing.T) { run(t, tc.units, tc.want, true) })
	}
}

// TestPrefixImmutable: when the parameter sets change, join points get a new
// Prefix, and the ones handed out before stay as they were.
func TestPrefixImmutable(t *testing.T) {
	data, offs := stream(sps, pps, idr, pslice, idr, pslice, sps2, pps, idr, pslice, idr)
	tr := NewTracker(TrackerConfig{})
	var got []JoinPoint
	for _, u := range [][]byte{data[:offs[6]], data[offs[6]:offs[10]], data[offs[10]:]} {
		tr.Write(u, epoch)
		jp, _ := tr.JoinPoint()
		got = append(got, jp)
	}
	old := bytes.Clone(got[0].Prefix)
	if !bytes.Equal(old, slices.Concat(sps, pps)) || got[0].Pos != offs[4] {
		t.Fatalf("first join point %d prefix % x", got[0].Pos, old)
	}
	if got[1].Prefix != nil || got[1].Pos != offs[6] {
		t.Fatalf("second join point %d carries its own sets, prefix % x", got[1].Pos, got[1].Prefix)
	}
	if !bytes.Equal(got[2].Prefix, slices.Concat(sps2, pps)) {
		t.Fatalf("after the SPS changed: prefix % x", got[2].Prefix)
	}
	if !bytes.Equal(got[0].Prefix, old) {
		t.Fatalf("an earlier prefix was modified")
	}
}

// TestMaxParamSetBytes: a parameter set too large to cache is not cached,
// but an access unit that carries it is still a join point.
func TestMaxParamSetBytes(t *testing.T) {
	big := append(nal(0x67, 0x42), bytes.Repeat([]byte{0x55}, 100)...)
	data, offs := stream(big, pps, idr, pslice, idr, big, pps, idr)
	tr := NewTracker(TrackerConfig{MaxParamSetBytes: 50})
	var got []int64
	for i := range offs {
		end := len(data)
		if i+1 < len(offs) {
			end = int(offs[i+1])
		}
		tr.Write(data[offs[i]:end], epoch)
		if jp, ok := tr.JoinPoint(); ok && (len(got) == 0 || got[len(got)-1] != jp.Pos) {
			got = append(got, jp.Pos)
		}
	}
	if want := []int64{offs[0], offs[5]}; !slices.Equal(got, want) {
		t.Fatalf("join points %v, want %v (the IDR without its own SPS cannot be one)", got, want)
	}
}

// TestStartCodeScanner checks the scanner's events on a stream cut in every
// possible place: start codes and headers split across writes.
func TestStartCodeScanner(t *testing.T) {
	data := []byte{
		0, 0, 1, 0x67, 0x42, // start code at 0
		0, 0, 0, 1, 0x68, 0xce, // 4-byte start code at 5
		0, 0, 0, 0, 1, 0x65, // extra zero: NAL starts at 12
		0, 0, 3, 0, 0, 2, 1, 0, // emulation prevention, no start code
		0, 0, 1, 0x0b, // with the 0 before it, a 4-byte start code at 24; header cut short
	}
	want := []string{"start 0", "hdr 67 42", "start 5", "hdr 68 ce", "start 12", "hdr 65 00", "start 24"}
	for cut1 := 0; cut1 <= len(data); cut1++ {
		for cut2 := cut1; cut2 <= len(data); cut2++ {
			rec := &recordSink{}
			s := startCodeScanner{sink: rec, need: 2}
			s.write(data[:cut1])
			s.write(data[cut1:cut2])
			s.write(data[cut2:])
			if !slices.Equal(rec.events, want) {
				t.Fatalf("cuts %d,%d: %v, want %v", cut1, cut2, rec.events, want)
			}
		}
	}
}

type recordSink struct{ events []string }

func (r *recordSink) startCode(_ []byte, _ int, nalStart int64) {
	r.events = append(r.events, fmt.Sprintf("start %d", nalStart))
}

func (r *recordSink) header(h []byte, _ []byte, _ int) {
	r.events = append(r.events, fmt.Sprintf("hdr % x", h))
}

// TestKeyLeadBound: an access unit whose picture comes after too much other
// data is no join point, and RetainFrom does not stay on it meanwhile.
func TestKeyLeadBound(t *testing.T) {
	bigSEI := append(nal(0x06, 0x05), bytes.Repeat([]byte{0x55}, maxKeyLead)...)
	data, offs := stream(sps, pps, idr, pslice, sei, bigSEI, idr, pslice, idr)
	tr := NewTracker(TrackerConfig{})
	var joins []int64
	for i := range offs {
		end := len(data)
		if i+1 < len(offs) {
			end = int(offs[i+1])
		}
		tr.Write(data[offs[i]:end], epoch)
		if jp, ok := tr.JoinPoint(); ok && (len(joins) == 0 || joins[len(joins)-1] != jp.Pos) {
			joins = append(joins, jp.Pos)
		}
		if i == 5 && tr.RetainFrom() <= offs[4] {
			t.Fatalf("RetainFrom %d still holds the access unit at %d", tr.RetainFrom(), offs[4])
		}
	}
	if want := []int64{offs[0], offs[8]}; !slices.Equal(joins, want) {
		t.Fatalf("join points %v, want %v", joins, want)
	}
}
