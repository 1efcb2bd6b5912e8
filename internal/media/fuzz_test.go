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
	}
}

// FuzzTracker feeds arbitrary bytes in arbitrary pieces. No input may make
// the tracker panic or modify its input; join points and RetainFrom stay
// within the bytes fed; and the result does not depend on how the input was
// split.
func FuzzTracker(f *testing.F) {
	pre := fuzzPreambles(f)
	for _, name := range []string{"h264.ts", "h265.ts", "mpeg2.ts", "h264.h264", "h265.h265", "opengop.h264"} {
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
		orig := bytes.Clone(in)
		cfg := TrackerConfig{DetectLimit: int(limit), MaxParamSetBytes: 64}

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
	})
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
}
