package media

import (
	"bytes"
	"testing"
)

// fuzzPreambles are valid stream starts the fuzzer can put before its
// input, so that it explores the parsers and not only detection: none, the
// start of an MPEG-TS (SDT, PAT, PMT, the first video packets), of an H.264
// and of an H.265 Annex B stream.
func fuzzPreambles(f *testing.F) [][]byte {
	return [][]byte{
		nil,
		readFixture(f, "h264.ts")[:6*188],
		readFixture(f, "h264.h264")[:40],
		readFixture(f, "h265.h265")[:120],
		readFixture(f, "aac.ts")[:4*188],  // audio-only: SDT, PAT, PMT, a PES
		readFixture(f, "opus.ts")[:4*188], // stream_type 0x06 with descriptors
	}
}

// FuzzTracker feeds arbitrary bytes in arbitrary pieces (see checkTracker
// for what must hold).
func FuzzTracker(f *testing.F) {
	pre := fuzzPreambles(f)
	for _, name := range []string{"h264.ts", "h265.ts", "mpeg2.ts", "h264.h264", "h265.h265", "opengop.h264", "aac.ts", "latm.ts", "mp2.ts", "eac3.ts", "opus.ts", "mpeg4.ts"} {
		data := readFixture(f, name)
		// Small seeds keep executions fast and minimization short.
		f.Add(byte(0), data[:1200], []byte{1, 7, 188, 0, 255}, uint16(0))
		f.Add(byte(0), data[:600], []byte{3}, uint16(500))
	}
	f.Add(byte(1), bytes.Repeat([]byte{0x47, 0, 0, 0x10}, 100), []byte{187}, uint16(0))
	f.Add(byte(2), []byte{0, 0, 1, 0x65, 0x88, 0, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x68}, []byte{1}, uint16(0))
	f.Add(byte(3), []byte{0, 0, 1, 0x2a, 0x01, 0xaf, 0, 0, 1, 0x10, 0x01, 0x80}, []byte{2}, uint16(0))
	f.Add(byte(0), []byte("not a media stream at all"), []byte{5}, uint16(10))

	f.Fuzz(func(t *testing.T, mode byte, data, splits []byte, limit uint16) {
		in := append(bytes.Clone(pre[int(mode)%len(pre)]), data...)
		checkTracker(t, in, splits, TrackerConfig{DetectLimit: int(limit), MaxParamSetBytes: 64})
	})
}

// FuzzTSTables reaches the PMT parsing that FuzzTracker rarely gets to, as
// a section must pass its CRC: the fuzzer writes a PMT's elementary stream
// loop (stream types, PIDs, descriptors, lengths that lie) and the start of
// the PES that follow on PIDs 0x101 and 0x102; the harness adds the PAT,
// the PMT's header and CRC, and the packet headers. The same properties as
// FuzzTracker must hold.
func FuzzTSTables(f *testing.F) {
	f.Add([]byte{0x0f, 0xe1, 0x01, 0xf0, 0x00}, []byte{0xff, 0xf1, 0x50, 0x80}, byte(0), []byte{188})
	f.Add([]byte{0x06, 0xe1, 0x01, 0xf0, 0x06, 0x05, 0x04, 'O', 'p', 'u', 's'}, []byte{0x7f, 0xe0, 1, 2}, byte(1), []byte{7})
	f.Add([]byte{0x06, 0xe1, 0x02, 0xf0, 0x03, 0x6a, 0x01, 0x00, 0x99, 0xe1, 0x01, 0xf0, 0x00}, []byte{0x0b, 0x77, 1, 2}, byte(2), []byte{100, 3})
	f.Add([]byte{0x06, 0xe1, 0x01, 0xf0, 0x05, 0x56, 0x09, 'e', 'n', 'g', 0xea, 0xe1, 0x02, 0xf0, 0x00}, []byte{0, 0, 1, 0xb3}, byte(3), []byte{1})
	f.Add([]byte{0x11, 0xe1, 0x01, 0xff, 0xff}, []byte{0x56, 0xe0, 0x20, 0x20}, byte(4), []byte{255})
	f.Fuzz(func(t *testing.T, loop, es []byte, flags byte, splits []byte) {
		if len(loop) > 160 || len(es) > 2000 {
			return // one-packet sections; a few PES
		}
		var b tsBuilder
		b.pat(0x100)
		b.psi(0x100, tablePMT, append([]byte{0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0}, loop...))
		b.nulls(3)
		for i := range 8 {
			pid := 0x101 + i%2
			pts := int64(i) * 9000 * int64(flags&7)
			if flags&8 != 0 && i == 4 {
				pts = 1<<33 - 1 // a wrap
			}
			b.pesPTS(pid, flags>>4&(1<<(i%4)) != 0, pts, es)
		}
		checkTracker(t, b.out, splits, TrackerConfig{})
	})
}

// checkTracker feeds in whole, byte by byte and in the pieces splits
// describes, and checks that no write panics or modifies its input, that
// join points, fallback points and RetainFrom stay within the bytes fed,
// and that the result does not depend on how the input was split.
func checkTracker(t *testing.T, in, splits []byte, cfg TrackerConfig) {
	t.Helper()
	orig := bytes.Clone(in)

	whole := NewTracker(cfg)
	whole.Write(in, epoch)
	if !bytes.Equal(in, orig) {
		t.Fatal("Write modified its input")
	}
	checkBounds(t, whole, int64(len(in)))

	// Byte by byte: every join point is seen, except when one write
	// makes several (the replay of the first bytes after detection).
	all := map[uint64]JoinPoint{}
	var last uint64
	one := NewTracker(cfg)
	for i := range in {
		before := one.RetainFrom()
		one.Write(in[i:i+1], epoch)
		if jp, ok := one.JoinPoint(); ok && jp.Seq != last {
			if jp.Seq < last || jp.Pos < before {
				t.Fatalf("join point %+v after Seq %d; RetainFrom was %d", jp, last, before)
			}
			all[jp.Seq] = jp
			last = jp.Seq
		}
	}
	sameState(t, "byte by byte", one, whole)

	// In the pieces the fuzzer chose.
	split := NewTracker(cfg)
	var seq uint64
	for off, i := 0, 0; off < len(in); i++ {
		n := 1
		if len(splits) > 0 {
			s := int(splits[i%len(splits)])
			n = 1 + s*s/16 // up to about 4 KiB
		}
		n = min(n, len(in)-off)
		before := split.RetainFrom()
		split.Write(in[off:off+n], epoch)
		off += n
		checkBounds(t, split, int64(off))
		if jp, ok := split.JoinPoint(); ok {
			if ref, seen := all[jp.Seq]; jp.Seq == 0 || jp.Seq > last || (seen && !sameJoin(jp, ref)) {
				t.Fatalf("split: join point %+v, byte by byte %+v (of %d)", jp, ref, last)
			}
			if jp.Seq != seq && jp.Pos < before {
				t.Fatalf("split: new join point at %d, but RetainFrom was %d", jp.Pos, before)
			}
			seq = jp.Seq
		}
	}
	sameState(t, "split", split, whole)
}

func checkBounds(t *testing.T, tr *Tracker, fed int64) {
	t.Helper()
	if r := tr.RetainFrom(); r < 0 || r > fed {
		t.Fatalf("RetainFrom %d outside [0, %d]", r, fed)
	}
	if jp, ok := tr.JoinPoint(); ok {
		if jp.Pos < 0 || jp.Pos > fed || jp.Seq == 0 {
			t.Fatalf("join point %+v outside [0, %d]", jp, fed)
		}
		if tr.Format() == FormatMPEGTS && len(jp.Prefix) != prefixSize {
			t.Fatalf("TS join point prefix of %d bytes", len(jp.Prefix))
		}
	}
	if fb, ok := tr.FallbackPoint(); ok {
		if fb.Pos < tr.RetainFrom() || fb.Pos > fed || fb.Seq != 0 {
			t.Fatalf("fallback point %+v outside [RetainFrom %d, %d]", fb, tr.RetainFrom(), fed)
		}
		if !tr.Format().IsMedia() || (tr.Format() == FormatMPEGTS && len(fb.Prefix) != prefixSize) {
			t.Fatalf("%v: fallback point with a prefix of %d bytes", tr.Format(), len(fb.Prefix))
		}
	}
	if f := tr.Format(); f != FormatUnknown && !f.IsMedia() && f != FormatGeneric {
		t.Fatalf("format %v", f)
	}
}

func sameState(t *testing.T, what string, got, want *Tracker) {
	t.Helper()
	gj, gok := got.JoinPoint()
	wj, wok := want.JoinPoint()
	if got.Info() != want.Info() || got.RetainFrom() != want.RetainFrom() || gok != wok || (gok && !sameJoin(gj, wj)) {
		t.Fatalf("%s: info %+v retain %d join %v %+v; whole write: info %+v retain %d join %v %+v",
			what, got.Info(), got.RetainFrom(), gok, gj, want.Info(), want.RetainFrom(), wok, wj)
	}
	gf, gok := got.FallbackPoint()
	wf, wok := want.FallbackPoint()
	if gok != wok || (gok && !sameJoin(gf, wf)) {
		t.Fatalf("%s: fallback %v %+v; whole write: %v %+v", what, gok, gf, wok, wf)
	}
}
