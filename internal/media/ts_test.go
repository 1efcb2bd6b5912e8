package media

import (
	"bytes"
	"slices"
	"testing"
)

// tsBuilder writes synthetic transport stream packets, keeping a continuity
// counter per PID.
type tsBuilder struct {
	out []byte
	cc  map[int]byte
}

func (b *tsBuilder) packet(pid int, pusi bool, af []byte, payload []byte) []byte {
	if b.cc == nil {
		b.cc = map[int]byte{}
	}
	pk := []byte{0x47, byte(pid >> 8 & 0x1f), byte(pid), 0x10 | b.cc[pid]&0x0f}
	b.cc[pid]++
	if pusi {
		pk[1] |= 0x40
	}
	room := 184 - len(payload)
	if af != nil || room > 0 {
		// Adaptation field: flags, then stuffing up to 188 bytes.
		pk[3] |= 0x20
		if af == nil {
			af = []byte{0}
		}
		n := max(room-1, len(af))
		field := append([]byte{byte(n)}, af...)
		for len(field) < n+1 {
			field = append(field, 0xff)
		}
		if n == 0 {
			field = field[:1]
		}
		pk = append(pk, field...)
	}
	pk = append(pk, payload...)
	start := len(b.out)
	b.out = append(b.out, pk...)
	return b.out[start:] // modifiable until the next packet
}

// psi writes a one-packet PSI section: table id, the fields after
// section_length up to the CRC.
func (b *tsBuilder) psi(pid int, tableID byte, body []byte) []byte {
	n := len(body) + 4 // + CRC
	sec := append([]byte{tableID, 0xb0 | byte(n>>8), byte(n)}, body...)
	c := crc32MPEG(sec)
	sec = append(sec, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
	payload := append([]byte{0}, sec...)
	for len(payload) < 184 {
		payload = append(payload, 0xff)
	}
	return b.packet(pid, true, nil, payload)
}

func (b *tsBuilder) pat(pmtPID int) []byte {
	return b.psi(0, tablePAT, []byte{0, 1, 0xc1, 0, 0, 0, 1, 0xe0 | byte(pmtPID>>8), byte(pmtPID)})
}

// pmt lists elementary streams as stream_type, PID pairs.
func (b *tsBuilder) pmt(pmtPID int, streams ...int) []byte {
	body := []byte{0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0}
	for i := 0; i+1 < len(streams); i += 2 {
		body = append(body, byte(streams[i]), 0xe0|byte(streams[i+1]>>8), byte(streams[i+1]), 0xf0, 0)
	}
	return b.psi(pmtPID, tablePMT, body)
}

// esEntry is one elementary stream of a PMT.
type esEntry struct {
	typ  byte
	pid  int
	desc []byte // ES_info descriptors
}

// pmtES writes a PMT with descriptors.
func (b *tsBuilder) pmtES(pmtPID int, streams ...esEntry) []byte {
	body := []byte{0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0}
	for _, e := range streams {
		body = append(body, e.typ, 0xe0|byte(e.pid>>8), byte(e.pid), 0xf0|byte(len(e.desc)>>8), byte(len(e.desc)))
		body = append(body, e.desc...)
	}
	return b.psi(pmtPID, tablePMT, body)
}

// pes writes one PES in as many packets as it takes; es is the elementary
// stream data. rai sets random_access_indicator on the first packet.
func (b *tsBuilder) pes(pid int, rai bool, es []byte) {
	b.pesRaw(pid, rai, append([]byte{0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1}, es...))
}

// pesPTS writes one PES with the given PTS (in 90 kHz ticks; -1: none).
func (b *tsBuilder) pesPTS(pid int, rai bool, pts int64, es []byte) {
	if pts < 0 {
		b.pesRaw(pid, rai, append([]byte{0, 0, 1, 0xc0, 0, 0, 0x80, 0, 0}, es...))
		return
	}
	hdr := []byte{0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 5,
		0x21 | byte(pts>>29)&0x0e, byte(pts >> 22), byte(pts>>14) | 1, byte(pts >> 7), byte(pts<<1) | 1}
	b.pesRaw(pid, rai, append(hdr, es...))
}

// pesRaw writes PES bytes, header included, in as many packets as it takes.
func (b *tsBuilder) pesRaw(pid int, rai bool, data []byte) {
	first := true
	for len(data) > 0 {
		var af []byte
		if first && rai {
			af = []byte{0x40}
		}
		n := min(len(data), 184-len(af)-boolInt(af != nil))
		b.packet(pid, first, af, data[:n])
		data = data[n:]
		first = false
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func joinsOf(t *testing.T, data []byte) ([]int64, *Tracker) {
	t.Helper()
	res := feed(t, data, fixed(1), constClock)
	tr := NewTracker(TrackerConfig{})
	tr.Write(data, epoch)
	return positions(res.joins), tr
}

// TestTSRandomAccessIndicator: for codecs whose PES is not inspected
// (MPEG-4 part 2), the flag on a PES's first packet makes the join point.
func TestTSRandomAccessIndicator(t *testing.T) {
	var b tsBuilder
	b.pat(0x100)
	b.pmt(0x100, 0x0f, 0x102, 0x10, 0x101) // AAC audio, then MPEG-4 video
	frame := bytes.Repeat([]byte{0x55}, 400)
	var want []int64
	for i := range 6 {
		if i%3 == 0 {
			want = append(want, int64(len(b.out)))
		}
		b.pes(0x101, i%3 == 0, frame)
		b.packet(0x101, false, []byte{0x40}, frame[:100]) // RAI without PUSI: no
	}
	got, tr := joinsOf(t, b.out)
	if !slices.Equal(got, want) {
		t.Fatalf("join points %v, want %v", got, want)
	}
	if inf := tr.Info(); inf.Format != FormatMPEGTS || inf.Codec != "mpeg4" {
		t.Fatalf("info %+v", inf)
	}
	jp, _ := tr.JoinPoint()
	if !bytes.Equal(jp.Prefix, b.out[:376]) {
		t.Fatalf("prefix is not the PAT and PMT")
	}
}

// h264AU is a minimal H.264 access unit: AUD, then an IDR or a P slice.
func h264AU(key bool) []byte {
	if key {
		return slices.Concat(aud, sps, pps, idr)
	}
	return slices.Concat(aud, pslice)
}

func TestTSTables(t *testing.T) {
	build := func(mod func(b *tsBuilder)) []byte {
		var b tsBuilder
		mod(&b)
		return b.out
	}
	gop := func(b *tsBuilder, pid int) {
		b.pes(pid, true, h264AU(true))
		b.pes(pid, false, h264AU(false))
	}
	tests := []struct {
		name  string
		data  []byte
		joins int
		codec string
	}{
		{"good", build(func(b *tsBuilder) { b.pat(0x100); b.pmt(0x100, 0x1b, 0x101); gop(b, 0x101); gop(b, 0x101) }), 2, "h264"},
		{"no PMT yet", build(func(b *tsBuilder) { b.pat(0x100); gop(b, 0x101); b.pmt(0x100, 0x1b, 0x101); gop(b, 0x101) }), 1, "h264"},
		{"PAT CRC wrong", build(func(b *tsBuilder) {
			b.pat(0x100)[20] ^= 1
			b.pmt(0x100, 0x1b, 0x101)
			gop(b, 0x101)
		}), 0, ""},
		{"PMT CRC wrong", build(func(b *tsBuilder) {
			b.pat(0x100)
			b.pmt(0x100, 0x1b, 0x101)[21] ^= 1
			gop(b, 0x101)
		}), 0, ""},
		{"section longer than the packet", build(func(b *tsBuilder) {
			pk := b.pat(0x100)
			pk[6], pk[7] = 0xb3, 0xff
			b.pmt(0x100, 0x1b, 0x101)
			gop(b, 0x101)
		}), 0, ""},
		{"pointer field past the packet", build(func(b *tsBuilder) {
			b.pat(0x100)[4] = 200
			b.pmt(0x100, 0x1b, 0x101)
			gop(b, 0x101)
		}), 0, ""},
		{"no video stream", build(func(b *tsBuilder) { b.pat(0x100); b.pmt(0x100, 0x0f, 0x101); gop(b, 0x101) }), 0, ""},
		{"transport error", build(func(b *tsBuilder) {
			b.pat(0x100)
			b.pmt(0x100, 0x1b, 0x101)
			n := len(b.out)
			gop(b, 0x101)
			b.out[n+1] |= 0x80 // the IDR's first packet
			gop(b, 0x101)
		}), 1, "h264"},
		{"video PID moves", build(func(b *tsBuilder) {
			b.pat(0x100)
			b.pmt(0x100, 0x1b, 0x101)
			gop(b, 0x101)
			b.pmt(0x100, 0x24, 0x102)
			gop(b, 0x101) // no longer the video PID
			b.pes(0x102, false, slices.Concat(haud, vps, hsps, hpps, hidr))
		}), 2, "h265"},
		{"PMT PID moves", build(func(b *tsBuilder) {
			b.pat(0x100)
			b.pmt(0x100, 0x1b, 0x101)
			gop(b, 0x101)
			b.pat(0x200)
			gop(b, 0x101) // the new PMT is not known yet
			b.pmt(0x200, 0x1b, 0x101)
			gop(b, 0x101)
		}), 2, "h264"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Pad so that detection sees five packets in any case.
			data := tc.data
			for len(data) < 6*188 {
				var b tsBuilder
				b.packet(0x1fff, false, nil, bytes.Repeat([]byte{0xff}, 184))
				data = append(data, b.out...)
			}
			got, tr := joinsOf(t, data)
			if len(got) != tc.joins || tr.Info().Codec != tc.codec {
				t.Fatalf("join points %v codec %q, want %d, %q", got, tr.Info().Codec, tc.joins, tc.codec)
			}
		})
	}
}

// TestTSPrefixChanges: a changed PMT gives later join points a new prefix;
// earlier ones keep theirs.
func TestTSPrefixChanges(t *testing.T) {
	var b tsBuilder
	b.pat(0x100)
	b.pmt(0x100, 0x1b, 0x101)
	b.pes(0x101, true, h264AU(true))
	n := len(b.out)
	b.pat(0x100) // a repetition: same tables, next continuity counter
	b.pmt(0x100, 0x1b, 0x101)
	repeated := bytes.Clone(b.out[n:])
	b.pes(0x101, true, h264AU(true))
	cut := len(b.out)
	b.pat(0x100)
	newPMT := b.pmt(0x100, 0x1b, 0x101, 0x0f, 0x102) // audio added
	b.pes(0x101, true, h264AU(true))

	tr := NewTracker(TrackerConfig{})
	tr.Write(b.out[:cut], epoch)
	first, _ := tr.JoinPoint()
	old := bytes.Clone(first.Prefix)
	tr.Write(b.out[cut:], epoch)
	last, _ := tr.JoinPoint()
	if first.Seq != 2 || last.Seq != 3 {
		t.Fatalf("Seq %d then %d, want 2 then 3", first.Seq, last.Seq)
	}
	if !bytes.Equal(first.Prefix, old) || !bytes.Equal(old, repeated) {
		t.Fatalf("first prefix changed or is not the repeated PAT and PMT")
	}
	if !bytes.Equal(last.Prefix[188:], newPMT) {
		t.Fatalf("last prefix does not hold the new PMT")
	}
}

func TestCRC32MPEG(t *testing.T) {
	// The CRC-32/MPEG-2 check value.
	if got := crc32MPEG([]byte("123456789")); got != 0x0376e6e7 {
		t.Fatalf("crc %#x, want 0x0376e6e7", got)
	}
}

// TestTSKeyLeadBound: the PES scan gives up after maxKeyLead bytes.
func TestTSKeyLeadBound(t *testing.T) {
	var b tsBuilder
	b.pat(0x100)
	b.pmt(0x100, 0x1b, 0x101)
	b.pes(0x101, true, h264AU(true))
	late := len(b.out)
	b.pes(0x101, true, slices.Concat(aud, nal(0x06), bytes.Repeat([]byte{0x55}, maxKeyLead), sps, pps, idr))
	b.pes(0x101, true, h264AU(true))
	tr := NewTracker(TrackerConfig{})
	tr.Write(b.out[:late+maxKeyLead/2], epoch)
	if r := tr.RetainFrom(); r != int64(late) {
		t.Fatalf("while scanning: RetainFrom %d, want the PES start %d", r, late)
	}
	tr.Write(b.out[late+maxKeyLead/2:len(b.out)-188], epoch)
	if r := tr.RetainFrom(); r <= int64(late) {
		t.Fatalf("after the bound: RetainFrom %d still holds the PES at %d", r, late)
	}
	tr.Write(b.out[len(b.out)-188:], epoch)
	if jp, _ := tr.JoinPoint(); jp.Seq != 2 || jp.Pos != int64(len(b.out)-188) {
		t.Fatalf("join point %+v, want the second one at %d", jp, len(b.out)-188)
	}
}
