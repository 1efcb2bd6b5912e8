package media

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/media/mediatest"
)

// Audio frame starts for synthetic PES: what the sync check of each codec
// accepts, then filler.
var (
	adtsFrame = []byte{0xff, 0xf1, 0x50, 0x80, 0x2e, 0x7f, 0xfc, 0x55}
	latmFrame = []byte{0x56, 0xe0, 0x20, 0x20, 0x00, 0x55}             // useSameStreamMux 0
	latmSame  = []byte{0x56, 0xe0, 0x20, 0xa0, 0x00, 0x55}             // useSameStreamMux 1
	mp1Frame  = []byte{0xff, 0xfe, 0x90, 0xc4, 0x55}                   // layer I
	mp2Frame  = []byte{0xff, 0xfd, 0x44, 0xc4, 0x55}                   // layer II
	mp3Frame  = []byte{0xff, 0xfb, 0x54, 0xc4, 0x55}                   // layer III
	ac3Frame  = []byte{0x0b, 0x77, 0x6b, 0xf1, 0x08, 0x40}             // AC-3 and E-AC-3
	opusFrame = []byte{0x7f, 0xe0, 0x2d, 0x01, 0x38, 0x55}             // control header
	noFrame   = []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0} // mid-frame
)

// Descriptors of stream_type 0x06.
func registration(id string) []byte { return append([]byte{descRegistration, 4}, id...) }

var (
	descAC3Body  = []byte{descAC3, 1, 0x00}
	descEAC3Body = []byte{descEAC3, 1, 0x00}
	teletext     = []byte{descTeletext, 5, 'e', 'n', 'g', 0x09, 0x00}
)

// nulls writes n null packets: after the tables, they let detection finish
// before the first PES, so that feed sees every join point on its own.
func (b *tsBuilder) nulls(n int) {
	for range n {
		b.packet(0x1fff, false, nil, bytes.Repeat([]byte{0xff}, 184))
	}
}

// padTS pads a synthetic stream with null packets so that detection sees
// five packets in any case.
func padTS(data []byte) []byte {
	for len(data) < 6*188 {
		var b tsBuilder
		b.packet(0x1fff, false, nil, bytes.Repeat([]byte{0xff}, 184))
		data = append(data, b.out...)
	}
	return data
}

// TestTSJoinStream: which elementary stream of a program gives the join
// points, and what Info says about it. Each stream gets PES starts 300 ms
// apart with a frame of its own kind and no random_access_indicator, so
// that the one chosen shows in the join points.
func TestTSJoinStream(t *testing.T) {
	frames := map[byte][]byte{0x1b: h264AU(true), 0x0f: adtsFrame, 0x11: latmFrame, 0x81: ac3Frame, 0x87: ac3Frame}
	tests := []struct {
		name         string
		streams      []esEntry
		frame        map[int][]byte // per PID, when not by stream_type
		joinPID      int            // -1: none
		codec, audio string
	}{
		{"video before audio", []esEntry{{0x0f, 0x101, nil}, {0x1b, 0x102, nil}}, nil, 0x102, "h264", "aac"},
		{"aac only", []esEntry{{0x0f, 0x101, nil}}, nil, 0x101, "", "aac"},
		{"latm", []esEntry{{0x11, 0x101, nil}}, nil, 0x101, "", "aac_latm"},
		{"latm without its configuration", []esEntry{{0x11, 0x101, nil}}, map[int][]byte{0x101: latmSame}, -1, "", "aac_latm"},
		{"ac3", []esEntry{{0x81, 0x101, nil}}, nil, 0x101, "", "ac3"},
		{"eac3", []esEntry{{0x87, 0x101, nil}}, nil, 0x101, "", "eac3"},
		{"mp1", []esEntry{{0x03, 0x101, nil}}, map[int][]byte{0x101: mp1Frame}, 0x101, "", "mp1"},
		{"mp2", []esEntry{{0x04, 0x101, nil}}, map[int][]byte{0x101: mp2Frame}, 0x101, "", "mp2"},
		{"mp3", []esEntry{{0x03, 0x101, nil}}, map[int][]byte{0x101: mp3Frame}, 0x101, "", "mp3"},
		{"dvb ac3 descriptor", []esEntry{{0x06, 0x101, descAC3Body}}, map[int][]byte{0x101: ac3Frame}, 0x101, "", "ac3"},
		{"dvb eac3 descriptor", []esEntry{{0x06, 0x101, descEAC3Body}}, map[int][]byte{0x101: ac3Frame}, 0x101, "", "eac3"},
		{"registration AC-3", []esEntry{{0x06, 0x101, registration("AC-3")}}, map[int][]byte{0x101: ac3Frame}, 0x101, "", "ac3"},
		{"registration EAC3", []esEntry{{0x06, 0x101, registration("EAC3")}}, map[int][]byte{0x101: ac3Frame}, 0x101, "", "eac3"},
		{"opus", []esEntry{{0x06, 0x101, registration("Opus")}}, map[int][]byte{0x101: opusFrame}, 0x101, "", "opus"},
		{"audio PES not starting with a frame", []esEntry{{0x0f, 0x101, nil}}, map[int][]byte{0x101: noFrame}, -1, "", "aac"},
		{"teletext only", []esEntry{{0x06, 0x101, teletext}}, map[int][]byte{0x101: noFrame}, -1, "", ""},
		{"scte-35 and aac", []esEntry{{0x86, 0x101, nil}, {0x0f, 0x102, nil}}, map[int][]byte{0x101: noFrame}, 0x102, "", "aac"},
		{"audio before an unknown stream", []esEntry{{0x99, 0x101, nil}, {0x0f, 0x102, nil}}, map[int][]byte{0x101: noFrame}, 0x102, "", "aac"},
		{"unknown stream after teletext", []esEntry{{0x06, 0x101, teletext}, {0x99, 0x102, nil}}, map[int][]byte{0x101: noFrame, 0x102: noFrame}, 0x102, "", ""},
		{"vc1 before audio", []esEntry{{0x0f, 0x101, nil}, {0xea, 0x102, nil}}, map[int][]byte{0x102: noFrame}, 0x102, "vc1", "aac"},
		{"av1 registration", []esEntry{{0x06, 0x101, registration("AV01")}}, map[int][]byte{0x101: noFrame}, 0x101, "av1", ""},
		{"truncated descriptor", []esEntry{{0x06, 0x101, []byte{descRegistration, 9, 'O', 'p'}}}, map[int][]byte{0x101: noFrame}, 0x101, "", ""},
		{"PID out of range", []esEntry{{0x0f, 0x0f, nil}}, map[int][]byte{0x0f: adtsFrame}, -1, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b tsBuilder
			b.pat(0x100)
			b.pmtES(0x100, tc.streams...)
			b.nulls(3)
			var want []int64
			for i := range 4 {
				for _, e := range tc.streams {
					fr, ok := tc.frame[e.pid]
					if !ok {
						fr = frames[e.typ]
					}
					if e.pid == tc.joinPID {
						want = append(want, int64(len(b.out)))
					}
					b.pesPTS(e.pid, false, int64(i)*27000, fr)
				}
			}
			data := padTS(b.out)
			got, tr := joinsOf(t, data)
			if !slices.Equal(got, want) {
				t.Errorf("join points %v, want %v", got, want)
			}
			if inf := tr.Info(); inf.Codec != tc.codec || inf.AudioCodec != tc.audio {
				t.Errorf("codec %q audio %q, want %q %q", inf.Codec, inf.AudioCodec, tc.codec, tc.audio)
			}
		})
	}
}

// TestTSPacedPESStarts: join points at PES starts (audio, or a stream
// without random_access_indicator) are at least JoinInterval apart by the
// stream's timestamps; a timestamp that goes back (a discontinuity, or the
// 33-bit wrap) does not hold them back; PES without a timestamp or whose
// header does not fit in its first packet are none.
func TestTSPacedPESStarts(t *testing.T) {
	const wrap = 1 << 33
	tests := []struct {
		name string
		typ  byte
		pts  []int64 // per PES, in ms; -1: no PTS
		rai  []int   // PES indexes with random_access_indicator
		want []int   // PES indexes that are join points
	}{
		{"every 100 ms", 0x0f, []int64{0, 100, 200, 300, 400, 500, 600, 700}, nil, []int{0, 3, 6}},
		{"exactly the interval", 0x0f, []int64{0, 250, 499, 500}, nil, []int{0, 1, 3}},
		{"no PTS", 0x0f, []int64{-1, 0, -1, 400}, nil, []int{1, 3}},
		{"back in time", 0x0f, []int64{1000, 1100, 500, 600, 800}, nil, []int{0, 2, 4}},
		{"unknown stream: PES starts until an RAI", 0x99, []int64{0, 100, 300, 400, 500, 900, 1300}, []int{4}, []int{0, 2, 4}},
		{"unknown stream: RAI is not paced", 0x99, []int64{0, 40, 80, 120}, []int{0, 1, 3}, []int{0, 1, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b tsBuilder
			b.pat(0x100)
			b.pmt(0x100, int(tc.typ), 0x101)
			b.nulls(3)
			var pos []int64
			for i, ms := range tc.pts {
				pos = append(pos, int64(len(b.out)))
				pts := ms * 90
				if ms < 0 {
					pts = -1
				}
				b.pesPTS(0x101, slices.Contains(tc.rai, i), pts, adtsFrame)
			}
			var want []int64
			for _, i := range tc.want {
				want = append(want, pos[i])
			}
			if got, _ := joinsOf(t, padTS(b.out)); !slices.Equal(got, want) {
				t.Fatalf("join points %v, want %v (PES at %v)", got, want, pos)
			}
		})
	}

	t.Run("wrap", func(t *testing.T) {
		var b tsBuilder
		b.pat(0x100)
		b.pmt(0x100, 0x0f, 0x101)
		var pos []int64
		for _, pts := range []int64{wrap - 9000, wrap - 1000, 5000, 13500, 20000} {
			pos = append(pos, int64(len(b.out)))
			b.pesPTS(0x101, false, pts%wrap, adtsFrame)
		}
		if got, _ := joinsOf(t, padTS(b.out)); !slices.Equal(got, []int64{pos[0], pos[3]}) {
			t.Fatalf("join points %v, want %v", got, []int64{pos[0], pos[3]})
		}
	})

	t.Run("header beyond the first packet", func(t *testing.T) {
		var b tsBuilder
		b.pat(0x100)
		b.pmt(0x100, 0x0f, 0x101)
		hdr := []byte{0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 200, 0x21, 0, 1, 0, 1}
		hdr = append(hdr, bytes.Repeat([]byte{0xff}, 195)...) // stuffing
		b.pesRaw(0x101, false, append(hdr, adtsFrame...))
		if got, _ := joinsOf(t, padTS(b.out)); len(got) != 0 {
			t.Fatalf("join points %v, want none", got)
		}
	})

	t.Run("JoinInterval", func(t *testing.T) {
		data := readFixture(t, "mp2.ts")
		pes := tsPUSIs(data, 0x100)
		for _, tc := range []struct {
			every time.Duration
			want  int
		}{{time.Nanosecond, len(pes)}, {250 * time.Millisecond, 8}, {time.Second, 2}} {
			tr := NewTracker(TrackerConfig{JoinInterval: tc.every})
			tr.Write(data, epoch)
			if jp, _ := tr.JoinPoint(); jp.Seq != uint64(tc.want) {
				t.Errorf("JoinInterval %v: %d join points, want %d", tc.every, jp.Seq, tc.want)
			}
		}
	})
}

// tsPUSIs returns the offsets of the packets of pid that start a PES.
func tsPUSIs(data []byte, pid int) []int64 {
	var out []int64
	tsPackets(data, func(off int, pk []byte) {
		if tsPID(pk) == pid && pk[1]&0x40 != 0 {
			out = append(out, int64(off))
		}
	})
	return out
}

// pesPTSAt reads the PTS of the PES starting in the packet at off.
func pesPTSAt(data []byte, off int64) int64 {
	pk := data[off : off+188]
	p := 4
	if pk[3]&0x20 != 0 {
		p = 5 + int(pk[4])
	}
	return pesTimestamp(pk[p+9 : p+14])
}

// TestAudioJoinSpacing: in the real audio fixtures, consecutive join points
// are JoinInterval or more apart by PTS, and no PES start that begins with a
// frame was passed over when it was that far from the previous join point.
func TestAudioJoinSpacing(t *testing.T) {
	gap := ticks90k(DefaultJoinInterval)
	for _, f := range audioFixtures() {
		t.Run(f.name, func(t *testing.T) {
			data := f.data(t)
			res := feed(t, data, fixed(188), constClock) // one join point per write at most
			joins := positions(res.joins)
			last := int64(-1)
			for _, off := range tsPUSIs(data, 0x100) {
				pts := pesPTSAt(data, off)
				isJoin := slices.Contains(joins, off)
				pk := data[off : off+188]
				es := tsPES(data, int(off), 0x100)
				startsFrame := audioFrameStart(f.audio, es[9+int(es[8]):]) && (f.audio != "aac_latm" || es[9+int(es[8])+3]&0x80 == 0)
				due := last < 0 || pts-last >= gap
				if isJoin != (due && startsFrame) {
					t.Fatalf("PES at %d (PTS %d, previous join PTS %d, frame %v, % x): join point %v", off, pts, last, startsFrame, pk[:8], isJoin)
				}
				if isJoin {
					last = pts
				}
			}
		})
	}
}

// TestAudioJoinAnywhere: a watcher joining an audio-only stream at a random
// moment gets the PAT, the PMT, then a PES start of the audio PID, with no
// continuity jump, and ffmpeg decodes it with no error. So does one that
// starts at the fallback point after waiting too long.
func TestAudioJoinAnywhere(t *testing.T) {
	needFFmpeg(t)
	for _, f := range audioFixtures() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data := f.data(t)
			rng := rand.New(rand.NewSource(int64(len(data))))
			for range 6 {
				at := 1000 + rng.Intn(len(data)-1000)
				tr := NewTracker(TrackerConfig{})
				for off := 0; off < at; {
					n := min(1+rng.Intn(4000), at-off)
					tr.Write(data[off:off+n], epoch)
					off += n
				}
				jp, ok := tr.JoinPoint()
				if !ok {
					t.Fatalf("no join point after %d bytes", at)
				}
				fb, ok := tr.FallbackPoint()
				if !ok {
					t.Fatalf("no fallback point after %d bytes", at)
				}
				for _, p := range []struct {
					what string
					jp   JoinPoint
				}{{"join", jp}, {"fallback", fb}} {
					w := withPrefix(data, p.jp)
					pmt := int(w[15]&0x1f)<<8 | int(w[16])
					if tsPID(w) != 0 || tsPID(w[188:]) != pmt {
						t.Fatalf("%s at %d: does not start with PAT and PMT", p.what, p.jp.Pos)
					}
					if p.what == "join" && (tsPID(w[376:]) != 0x100 || w[377]&0x40 == 0) {
						t.Fatalf("join at %d: the stream does not go on with an audio PES start", jp.Pos)
					}
					if err := mediatest.CheckContinuity(w); err != nil {
						t.Errorf("%s at %d: %v", p.what, p.jp.Pos, err)
					}
					// A fallback point is merely a packet boundary: the
					// decoder starts at the next PES, which may be past the
					// end of the fixture; and a LATM frame may lack the
					// configuration the decoder needs.
					if p.what == "fallback" && (len(data)-int(p.jp.Pos) < 4000 || f.audio == "aac_latm") {
						continue
					}
					if errs := decodeErrors(t, w); len(errs) > 0 {
						t.Errorf("%s at %d after %d bytes: %d decoder errors: %q", p.what, p.jp.Pos, at, len(errs), errs)
					}
				}
			}
		})
	}
}

// TestContinuityAtJoins: what a watcher receives from any join point or
// fallback point of any TS fixture, prefix included, has no continuity
// counter jump on any PID. The prefixes of before this check (PAT and PMT
// with the counters of their first copies) fail it.
func TestContinuityAtJoins(t *testing.T) {
	for _, f := range fixtures {
		if f.format != FormatMPEGTS {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			data := f.data(t)
			aligned := data[tsAlignment(data):]
			if err := mediatest.CheckContinuity(aligned); err != nil {
				t.Fatalf("the fixture itself: %v", err)
			}
			res := feed(t, data, fixed(1), constClock)
			for _, jp := range res.joins {
				if err := mediatest.CheckContinuity(withPrefix(data, jp)); err != nil {
					t.Errorf("join point %d: %v", jp.Pos, err)
				}
			}
			rng := rand.New(rand.NewSource(11))
			tr := NewTracker(TrackerConfig{})
			checked := 0
			for off := 0; off < len(data); {
				n := min(1+rng.Intn(400), len(data)-off)
				tr.Write(data[off:off+n], epoch)
				off += n
				if fb, ok := tr.FallbackPoint(); ok {
					checked++
					if err := mediatest.CheckContinuity(withPrefix(data, fb)); err != nil {
						t.Fatalf("fallback point %d: %v", fb.Pos, err)
					}
				}
			}
			if checked < 25 {
				t.Fatalf("only %d fallback points checked", checked)
			}

			// The old prefix: the first PAT and PMT copies, counters 0. It
			// fails at join points followed by a copy whose counter is not
			// 1 (or 0, by chance a duplicate of the prefix).
			stale := 0
			for _, jp := range res.joins[1:] {
				old := JoinPoint{Pos: jp.Pos, Prefix: res.joins[0].Prefix}
				if err := mediatest.CheckContinuity(withPrefix(data, old)); errors.Is(err, mediatest.ErrContinuity) {
					stale++
				}
			}
			if len(res.joins) > 2 && stale == 0 {
				t.Fatalf("the first join point's prefix passes the check at all %d later join points", len(res.joins)-1)
			}
		})
	}
}

// TestPrefixCountersAtPESStart: a keyframe found a few packets into its PES,
// after another PAT and PMT went by, gets the counters of the copies before
// the PES start, so that the copies inside the watcher's stream follow on.
func TestPrefixCountersAtPESStart(t *testing.T) {
	var b tsBuilder
	b.pat(0x100)
	b.pmt(0x100, 0x1b, 0x101)
	b.pes(0x101, true, h264AU(true))
	b.pat(0x100) // counters 1
	b.pmt(0x100, 0x1b, 0x101)
	start := int64(len(b.out))
	// The IDR comes after 400 bytes of SEI: in the PES's third packet.
	au := slices.Concat(aud, nal(0x06, 0x05), bytes.Repeat([]byte{0x55}, 400), sps, pps, idr)
	data := append([]byte{0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1}, au...)
	b.packet(0x101, true, nil, data[:184])
	b.pat(0x100) // counters 2, between the PES start and the IDR
	b.pmt(0x100, 0x1b, 0x101)
	b.pesRest(0x101, data[184:])
	b.pat(0x100) // counters 3
	b.pmt(0x100, 0x1b, 0x101)

	tr := NewTracker(TrackerConfig{})
	tr.Write(b.out, epoch)
	jp, _ := tr.JoinPoint()
	if jp.Pos != start || jp.Seq != 2 {
		t.Fatalf("join point %+v, want the second at %d", jp, start)
	}
	if pat, pmt := jp.Prefix[3]&15, jp.Prefix[188+3]&15; pat != 1 || pmt != 1 {
		t.Fatalf("prefix counters %d %d, want 1 1", pat, pmt)
	}
	if err := mediatest.CheckContinuity(withPrefix(b.out, jp)); err != nil {
		t.Fatal(err)
	}
}

// pesRest writes the rest of a PES whose first packet was written already.
func (b *tsBuilder) pesRest(pid int, data []byte) {
	for len(data) > 0 {
		n := min(len(data), 184)
		b.packet(pid, false, nil, data[:n])
		data = data[n:]
	}
}

// TestFallbackPointTS: the fallback point is the newest packet boundary,
// with the latest PAT and PMT first, once both are known.
func TestFallbackPointTS(t *testing.T) {
	data := readFixture(t, "h264.ts")[100:] // starts mid-packet
	first := int64(188 - 100)               // the first whole packet
	tr := NewTracker(TrackerConfig{})
	if _, ok := tr.FallbackPoint(); ok {
		t.Fatal("fallback point before any byte")
	}
	rng := rand.New(rand.NewSource(12))
	var pat, pmt []byte
	pmtPID := -1
	for off := int64(0); off < int64(len(data)); {
		n := min(int64(1+rng.Intn(500)), int64(len(data))-off)
		tr.Write(data[off:off+n], epoch)
		off += n
		// The tables in the packets fully written, by independent parsing.
		pat, pmt = nil, nil
		for p := first; p+188 <= off; p += 188 {
			pk := data[p : p+188]
			switch {
			case tsPID(pk) == 0:
				pat, pmtPID = pk, int(pk[15]&0x1f)<<8|int(pk[16])
			case tsPID(pk) == pmtPID:
				pmt = pk
			}
		}
		fb, ok := tr.FallbackPoint()
		if ok != (pat != nil && pmt != nil && tr.Format() == FormatMPEGTS) {
			t.Fatalf("after %d bytes: fallback %v; PAT %v PMT %v", off, ok, pat != nil, pmt != nil)
		}
		if !ok {
			continue
		}
		if want := first + (off-first)/188*188; fb.Pos != want || fb.Seq != 0 {
			t.Fatalf("after %d bytes: fallback at %d (Seq %d), want %d", off, fb.Pos, fb.Seq, want)
		}
		if fb.Pos < tr.RetainFrom() {
			t.Fatalf("after %d bytes: fallback at %d before RetainFrom %d", off, fb.Pos, tr.RetainFrom())
		}
		if !bytes.Equal(fb.Prefix, slices.Concat(pat, pmt)) {
			t.Fatalf("after %d bytes: prefix is not the latest PAT and PMT", off)
		}
	}
}

// TestFallbackPointAnnexB: the fallback point is the start of the newest
// access unit, with the cached parameter sets; it is none while an access
// unit runs past the keyframe lead bound, whose start is not retained.
func TestFallbackPointAnnexB(t *testing.T) {
	for _, name := range []string{"h264-once", "h265-once", "h264.h264"} {
		t.Run(name, func(t *testing.T) {
			var f fixture
			for _, x := range fixtures {
				if x.name == name {
					f = x
				}
			}
			hevc := f.format == FormatH265
			data := f.data(t)
			tr := NewTracker(TrackerConfig{})
			var seen []int64
			for off := range data {
				tr.Write(data[off:off+1], epoch)
				fb, ok := tr.FallbackPoint()
				if tr.Format() == FormatUnknown {
					if ok {
						t.Fatalf("fallback point while detecting")
					}
					continue
				}
				if !ok || fb.Pos < tr.RetainFrom() || fb.Pos > int64(off+1) {
					t.Fatalf("after %d bytes: fallback %v at %d, RetainFrom %d", off+1, ok, fb.Pos, tr.RetainFrom())
				}
				if len(seen) == 0 || seen[len(seen)-1] != fb.Pos {
					seen = append(seen, fb.Pos)
				}
				if off > 200 && len(fb.Prefix) == 0 {
					t.Fatalf("after %d bytes: no parameter sets in the prefix", off+1)
				}
			}
			if want := accessUnitStarts(data, hevc); !slices.Equal(seen, want) {
				t.Fatalf("fallback points %v, want the access unit starts %v", seen, want)
			}
		})
	}

	t.Run("access unit longer than the bound", func(t *testing.T) {
		bigSEI := append(nal(0x06, 0x05), bytes.Repeat([]byte{0x55}, maxKeyLead)...)
		data, offs := stream(sps, pps, idr, pslice, sei, pslice, bigSEI, pslice, aud, pslice)
		tr := NewTracker(TrackerConfig{})
		tr.Write(data[:offs[6]+100], epoch)
		if fb, ok := tr.FallbackPoint(); !ok || fb.Pos != offs[6] {
			t.Fatalf("fallback %v at %d, want %d", ok, fb.Pos, offs[6])
		}
		tr.Write(data[offs[6]+100:offs[8]], epoch)
		if fb, ok := tr.FallbackPoint(); ok {
			t.Fatalf("fallback at %d inside a %d-byte access unit (RetainFrom %d)", fb.Pos, offs[8]-offs[6], tr.RetainFrom())
		}
		tr.Write(data[offs[8]:], epoch)
		if fb, ok := tr.FallbackPoint(); !ok || fb.Pos != offs[8] || !bytes.Equal(fb.Prefix, slices.Concat(sps, pps)) {
			t.Fatalf("fallback %v %+v, want the AUD at %d with SPS and PPS", ok, fb, offs[8])
		}
	})

	t.Run("generic", func(t *testing.T) {
		tr := NewTracker(TrackerConfig{DetectLimit: 100})
		tr.Write(bytes.Repeat([]byte("not media "), 20), epoch)
		if fb, ok := tr.FallbackPoint(); ok || tr.Format() != FormatGeneric {
			t.Fatalf("%v: fallback %v %+v", tr.Format(), ok, fb)
		}
	})
}

// accessUnitStarts splits an Annex B stream into access units the simple
// way libx264 and libx265 output allows: a new one starts at a parameter
// set, (prefix) SEI or AUD after a VCL NAL unit, or at the first slice of a
// picture after a VCL NAL unit.
func accessUnitStarts(data []byte, hevc bool) []int64 {
	starts := []int64{0}
	vcl := false
	for _, u := range annexBUnits(data) {
		typ := nalType(data[u.hdr:], hevc)
		firstSlice := data[u.hdr+1]&0x80 != 0
		if hevc {
			firstSlice = data[u.hdr+2]&0x80 != 0
		}
		switch {
		case isVCL(typ, hevc):
			if vcl && firstSlice {
				starts = append(starts, int64(u.start))
			}
			vcl = true
		case vcl && (!hevc && typ >= 6 && typ <= 9 || hevc && (typ >= 32 && typ <= 35 || typ == 39)):
			starts = append(starts, int64(u.start))
			vcl = false
		}
	}
	return starts
}

func ExampleTracker_FallbackPoint() {
	// An audio-only MPEG-TS whose PMT names an AAC stream whose PES never
	// start with a frame: no join point, but a fallback point.
	var b tsBuilder
	b.pat(0x100)
	b.pmt(0x100, 0x0f, 0x101)
	b.pesPTS(0x101, false, 0, noFrame)
	tr := NewTracker(TrackerConfig{})
	tr.Write(padTS(b.out), time.Unix(0, 0))
	_, ok := tr.JoinPoint()
	fb, fok := tr.FallbackPoint()
	fmt.Println(tr.Info().AudioCodec, ok, fok, fb.Pos, len(fb.Prefix))
	// Output: aac false true 1128 376
}

// tsAlignment returns the offset of the first of five sync bytes 188 bytes
// apart.
func tsAlignment(data []byte) int {
	for o := 0; o+4*188 < len(data); o++ {
		ok := true
		for k := 0; k < 5 && ok; k++ {
			ok = data[o+k*188] == 0x47
		}
		if ok {
			return o
		}
	}
	return 0
}
