package media

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFixtures checks, for each fixture, the detected format and codec, the
// number of join points, and that every join point is a real keyframe.
func TestFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			data := f.data(t)
			res := feed(t, data, fixed(1), byteClock)
			if res.info.Format != f.format || res.info.Codec != f.codec || res.info.AudioCodec != f.audio {
				t.Fatalf("detected %v/%q/%q, want %v/%q/%q", res.info.Format, res.info.Codec, res.info.AudioCodec, f.format, f.codec, f.audio)
			}
			if len(res.joins) != f.keys || res.info.Keyframes != int64(f.keys) {
				t.Fatalf("%d join points (Info.Keyframes %d), want %d: %v", len(res.joins), res.info.Keyframes, f.keys, positions(res.joins))
			}
			for i, jp := range res.joins {
				if jp.Seq != uint64(i+1) {
					t.Errorf("join point %d has Seq %d", i, jp.Seq)
				}
				checkRealKeyframe(t, f, data, jp)
			}
			if f.keys >= 2 {
				a, b := res.joins[len(res.joins)-2], res.joins[len(res.joins)-1]
				if res.info.GOPBytes != b.Pos-a.Pos || res.info.GOPDuration != b.Time.Sub(a.Time) || res.info.GOPDuration <= 0 {
					t.Errorf("GOP %d bytes %v, want %d bytes %v", res.info.GOPBytes, res.info.GOPDuration, b.Pos-a.Pos, b.Time.Sub(a.Time))
				}
			}
			for _, jp := range res.joins {
				// Fed a byte at a time, a keyframe's time is that of the
				// byte that showed the access unit or PES started: its
				// first NAL unit header, or the end of its TS packet, or
				// the end of detection for the first TS packets.
				lag := 7 * time.Microsecond
				if f.format == FormatMPEGTS {
					lag = 6 * 188 * time.Microsecond
				}
				if d := jp.Time.Sub(byteClock(jp.Pos)); d < 0 || d > lag {
					t.Errorf("join point %d: time %v, want within %v after %v", jp.Pos, jp.Time, lag, byteClock(jp.Pos))
				}
			}
		})
	}
}

func positions(jps []JoinPoint) []int64 {
	var p []int64
	for _, jp := range jps {
		p = append(p, jp.Pos)
	}
	return p
}

// TestPrefix checks what Prefix holds for each kind of stream.
func TestPrefix(t *testing.T) {
	get := func(name string) ([]byte, feedResult) {
		for _, f := range fixtures {
			if f.name == name {
				data := f.data(t)
				return data, feed(t, data, fixed(1), constClock)
			}
		}
		t.Fatalf("no fixture %s", name)
		return nil, feedResult{}
	}

	t.Run("h264 repeats its parameter sets", func(t *testing.T) {
		_, res := get("h264.h264")
		for _, jp := range res.joins {
			if jp.Prefix != nil {
				t.Errorf("join point %d: prefix %d bytes, want none", jp.Pos, len(jp.Prefix))
			}
		}
	})
	for _, name := range []string{"h264-once", "h265-once"} {
		t.Run(name, func(t *testing.T) {
			data, res := get(name)
			if res.joins[0].Prefix != nil || res.joins[0].Pos != 0 {
				t.Errorf("first join point %d carries its own parameter sets, prefix %d bytes", res.joins[0].Pos, len(res.joins[0].Prefix))
			}
			// The prefix is the stream's own parameter sets, shared.
			units := annexBUnits(data)
			var want []byte
			for i, u := range units[:3] {
				typ := nalType(data[u.hdr:], name == "h265-once")
				if typ == 5 || typ == 6 || typ == 39 || typ == 19 || typ == 20 {
					break
				}
				want = append(want, 0, 0, 0, 1)
				want = append(want, bytes.TrimRight(data[u.hdr:units[i+1].start], "\x00")...)
			}
			for _, jp := range res.joins[1:] {
				if !bytes.Equal(jp.Prefix, want) {
					t.Errorf("join point %d: prefix\n% x\nwant\n% x", jp.Pos, jp.Prefix, want)
				}
				if &jp.Prefix[0] != &res.joins[1].Prefix[0] {
					t.Errorf("join point %d: prefix was rebuilt although the parameter sets did not change", jp.Pos)
				}
			}
		})
	}
	t.Run("ts", func(t *testing.T) {
		// The prefix is the stream's latest PAT and PMT packets before the
		// join point, counters included, so that the next copies in the
		// stream continue their count; one slice per counter pair.
		data, res := get("h264.ts")
		shared := map[[2]byte]*byte{}
		for _, jp := range res.joins {
			var pat, pmt []byte
			tsPackets(data[:jp.Pos], func(_ int, pk []byte) {
				switch {
				case tsPID(pk) == 0:
					pat = pk
				case pat != nil && tsPID(pk) == int(pat[15]&0x1f)<<8|int(pat[16]):
					pmt = pk
				}
			})
			if len(jp.Prefix) != 376 || !bytes.Equal(jp.Prefix[:188], pat) || !bytes.Equal(jp.Prefix[188:], pmt) {
				t.Fatalf("join point %d: prefix is not the latest PAT+PMT before it", jp.Pos)
			}
			key := [2]byte{pat[3] & 15, pmt[3] & 15}
			if p, ok := shared[key]; ok && p != &jp.Prefix[0] {
				t.Errorf("join point %d: prefix was rebuilt although PAT, PMT and their counters did not change", jp.Pos)
			}
			shared[key] = &jp.Prefix[0]
		}
		if len(shared) < 2 {
			t.Fatalf("the fixture's join points all follow the same PAT and PMT copies: the test shows nothing")
		}
	})
	t.Run("no parameter sets, no join point", func(t *testing.T) {
		data := readFixture(t, "h264.h264")
		var out []byte
		units := annexBUnits(data)
		for i, u := range units {
			end := len(data)
			if i+1 < len(units) {
				end = units[i+1].start
			}
			if typ := nalType(data[u.hdr:], false); typ != 7 && typ != 8 {
				out = append(out, data[u.start:end]...)
			}
		}
		res := feed(t, out, fixed(4096), constClock)
		if res.info.Format != FormatH264 || len(res.joins) != 0 {
			t.Errorf("format %v, %d join points; want h264 and none", res.info.Format, len(res.joins))
		}
	})
}

// TestSplitIndependence feeds every fixture in many piece sizes, including
// cuts inside every start code and TS packet header near a join point, and
// checks that the join points are the same as with one whole write.
func TestSplitIndependence(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			data := f.data(t)
			ref := feed(t, data, fixed(1), constClock)
			whole := feed(t, data, fixed(len(data)), constClock)
			if len(whole.joins) != 1 || !sameJoin(whole.joins[0], ref.joins[len(ref.joins)-1]) || whole.info != ref.info || whole.retain != ref.retain {
				t.Fatalf("whole write: %+v %+v retain %d; byte by byte: last %+v %+v retain %d",
					whole.joins, whole.info, whole.retain, ref.joins[len(ref.joins)-1], ref.info, ref.retain)
			}
			var cuts []int64
			for _, jp := range ref.joins {
				for d := int64(-4); d <= 6; d++ {
					if c := jp.Pos + d; c > 0 && (len(cuts) == 0 || c > cuts[len(cuts)-1]) {
						cuts = append(cuts, c)
					}
				}
			}
			splits := map[string]func() int{
				"7":         fixed(7),
				"188":       fixed(188),
				"187":       fixed(187),
				"1000":      fixed(1000),
				"32KiB":     fixed(32 << 10),
				"random":    randomSizes(1, 5000),
				"random-sm": randomSizes(2, 17),
				"keycuts":   cutsAt(cuts),
			}
			for name, next := range splits {
				got := feed(t, data, next, constClock)
				if got.info != ref.info || got.retain != ref.retain {
					t.Errorf("%s: info %+v retain %d, want %+v %d", name, got.info, got.retain, ref.info, ref.retain)
				}
				last := got.joins[len(got.joins)-1]
				if !sameJoin(last, ref.joins[len(ref.joins)-1]) {
					t.Errorf("%s: last join point %+v, want %+v", name, last, ref.joins[len(ref.joins)-1])
				}
				for _, jp := range got.joins {
					if !sameJoin(jp, ref.joins[jp.Seq-1]) {
						t.Errorf("%s: join point %+v, want %+v", name, jp, ref.joins[jp.Seq-1])
					}
				}
			}
		})
	}
}

func sameJoin(a, b JoinPoint) bool {
	return a.Pos == b.Pos && a.Seq == b.Seq && bytes.Equal(a.Prefix, b.Prefix) && a.Time.Equal(b.Time)
}

// TestDecodeFromJoinPoints is the decisive test: what a watcher joining at a
// join point receives (Prefix, then the stream from Pos) decodes with no
// error, starting with a key frame. Starting elsewhere does give errors,
// which shows the difference is real.
func TestDecodeFromJoinPoints(t *testing.T) {
	needFFmpeg(t)
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data := f.data(t)
			res := feed(t, data, fixed(1), byteClock)
			for _, jp := range res.joins {
				watcher := withPrefix(data, jp)
				if errs := decodeErrors(t, watcher); len(errs) > 0 {
					t.Errorf("join at %d (prefix %d bytes): %d decoder errors: %q", jp.Pos, len(jp.Prefix), len(errs), errs)
				}
				if f.codec == "" {
					continue // no video
				}
				if got := firstVideoFrame(t, watcher); !strings.HasPrefix(got, "1,I") {
					t.Errorf("join at %d: first frame %q, want key_frame=1 pict_type=I", jp.Pos, got)
				}
			}
			if f.probeKeys {
				// ffprobe puts raw streams' packets at their 3-byte start
				// code; ours include the zero_byte before it.
				probe := probeKeyPositions(t, data)
				var want []int64
				for _, jp := range res.joins {
					want = append(want, jp.Pos)
				}
				for i := range probe {
					if i < len(want) && f.format != FormatMPEGTS && probe[i] == want[i]+1 {
						probe[i]--
					}
				}
				if !slices.Equal(probe, want) {
					t.Errorf("ffprobe keyframes at %v, join points at %v", probe, want)
				}
			}
		})
	}
}

// TestDecodeFromElsewhere shows that the join points matter: starting a
// watcher at a place that is not one makes the decoder complain.
func TestDecodeFromElsewhere(t *testing.T) {
	needFFmpeg(t)
	for _, f := range fixtures {
		if (f.keys < 2 && f.name != "opengop.h264") || f.codec == "" || f.codec == "mpeg4" {
			// Audio frames decode on their own: starting mid-PES only
			// loses the PES (see TestFallbackPointTS). ffmpeg's MPEG-4
			// decoder silently waits for a keyframe.
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data := f.data(t)
			res := feed(t, data, fixed(1), constClock)
			var jp JoinPoint
			switch {
			case f.name == "opengop.h264":
				// The recovery-point I picture ffmpeg flags as a
				// keyframe: its leading B pictures reference the GOP
				// before.
				jp = JoinPoint{Pos: probeKeyPositions(t, data)[1] - 1}
			case f.format == FormatMPEGTS:
				// The middle of the second GOP, at a packet boundary,
				// with PAT and PMT: only the keyframe is missing.
				a, b := res.joins[1].Pos, res.joins[2].Pos
				jp = JoinPoint{Pos: a + (b-a)/188/2*188, Prefix: res.joins[1].Prefix}
			default:
				// An arbitrary offset in the middle of the second GOP.
				a, b := res.joins[1].Pos, res.joins[2].Pos
				rng := rand.New(rand.NewSource(3))
				jp = JoinPoint{Pos: a + (b-a)/4 + rng.Int63n((b-a)/2)}
			}
			errs := decodeErrors(t, withPrefix(data, jp))
			if len(errs) == 0 {
				t.Errorf("joining at %d gave no decoder error", jp.Pos)
			}
			t.Logf("joining at %d, not a join point: %d error lines, first %q", jp.Pos, len(errs), errs[0])
		})
	}
}

// TestDetect drives format detection with the first bytes of streams.
func TestDetect(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	random := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		// No accidental start code or TS alignment.
		for i := range b {
			if b[i] <= 1 || b[i] == 0x47 {
				b[i] = 0x55
			}
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	text := bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: example\r\nGGGGGGGG\r\n\r\n"), 3000)
	ts := readFixture(t, "h264.ts")

	tests := []struct {
		name string
		in   []byte
		want Format
		// at is how many bytes it takes to decide (-1: no decision).
		at int
	}{
		{"h264 SPS PPS", cat([]byte{0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0, 0, 0, 1, 0x68, 0xce}, random(50)), FormatH264, 13},
		{"h264 AUD SPS", cat([]byte{0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64}, random(50)), FormatH264, 11},
		{"h264 3-byte start code", cat([]byte{0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 1, 0x41, 0x9a}), FormatH264, 10},
		{"h264 fixture", readFixture(t, "h264.h264"), FormatH264, -1},
		{"h265 VPS SPS", cat([]byte{0, 0, 0, 1, 0x40, 0x01, 0x0c, 0x01, 0xff, 0, 0, 0, 1, 0x42, 0x01, 0x01}, random(50)), FormatH265, 15},
		{"h265 AUD", cat([]byte{0, 0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 0, 1, 0x40, 0x01, 0x0c}, random(50)), FormatH265, 13},
		// 0x28 is an H.264 PPS header too; the second NAL unit, a
		// TRAIL_R, is not H.264.
		{"h265 IDR_N_LP", cat([]byte{0, 0, 1, 0x28, 0x01, 0xaf, 0x1d, 0, 0, 1, 0x02, 0x01, 0xd0}, random(50)), FormatH265, 12},
		{"h265 fixture", readFixture(t, "h265.h265"), FormatH265, -1},
		{"h264 single NAL unit", cat([]byte{0, 0, 0, 1, 0x65, 0x88}, random(10000)), FormatH264, detectBufSize},
		{"h265 single NAL unit", cat([]byte{0, 0, 0, 1, 0x26, 0x01}, random(10000)), FormatH265, detectBufSize},
		{"ts aligned", ts, FormatMPEGTS, 4*188 + 1},
		{"ts cut", ts[5:], FormatMPEGTS, 183 + 4*188 + 1},
		{"ts after junk", cat(random(9000), ts), FormatMPEGTS, 9000 + 4*188 + 1},
		{"start code then TS", cat([]byte{0, 0, 1, 0xff}, ts), FormatMPEGTS, 4 + 4*188 + 1},
		{"random", random(100 << 10), FormatGeneric, DefaultDetectLimit},
		{"text", text, FormatGeneric, DefaultDetectLimit},
		{"zeros", make([]byte, 100<<10), FormatGeneric, DefaultDetectLimit},
		{"start code, bad header", cat([]byte{0, 0, 1, 0xff}, random(100<<10)), FormatGeneric, DefaultDetectLimit},
		{"short", []byte{0, 0, 0, 1, 0x67}, FormatUnknown, -1},
		{"empty", nil, FormatUnknown, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(TrackerConfig{})
			tr.Write(tc.in, epoch)
			if got := tr.Format(); got != tc.want {
				t.Fatalf("Format %v, want %v", got, tc.want)
			}
			if tc.at < 0 {
				return
			}
			// Decided after exactly tc.at bytes, whatever the pieces.
			tr = NewTracker(TrackerConfig{})
			tr.Write(tc.in[:tc.at-1], epoch)
			if got := tr.Format(); got != FormatUnknown {
				t.Fatalf("after %d bytes: %v, want still unknown", tc.at-1, got)
			}
			tr.Write(tc.in[tc.at-1:tc.at], epoch)
			if got := tr.Format(); got != tc.want {
				t.Fatalf("after %d bytes: %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[Format]string{
		FormatUnknown: "unknown", FormatGeneric: "generic", FormatMPEGTS: "mpegts",
		FormatH264: "h264", FormatH265: "h265", Format(99): "invalid",
	} {
		if got := f.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(f), got, want)
		}
	}
}

func TestDetectLimit(t *testing.T) {
	tr := NewTracker(TrackerConfig{DetectLimit: 1000})
	ts := readFixture(t, "h264.ts")
	junk := bytes.Repeat([]byte{0x55}, 500)
	tr.Write(append(junk, ts...), epoch)
	if got := tr.Format(); got != FormatGeneric {
		t.Fatalf("TS alignment after the limit: %v, want generic", got)
	}
	if _, ok := tr.JoinPoint(); ok || tr.RetainFrom() != int64(len(junk)+len(ts)) {
		t.Fatalf("generic stream: join point %v, RetainFrom %d", ok, tr.RetainFrom())
	}
	tr = NewTracker(TrackerConfig{DetectLimit: 1000})
	tr.Write(ts, epoch)
	if got := tr.Format(); got != FormatMPEGTS {
		t.Fatalf("TS within the limit: %v", got)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []TrackerConfig{{DetectLimit: -1}, {MaxParamSetBytes: -1}, {JoinInterval: -time.Second}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (TrackerConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

// TestGenericNoJoinPoints: generic streams never get join points and keep
// nothing for them.
func TestGenericNoJoinPoints(t *testing.T) {
	b := make([]byte, 200<<10)
	rand.New(rand.NewSource(5)).Read(b)
	res := feed(t, b, randomSizes(6, 3000), constClock)
	if res.info.Format != FormatGeneric || len(res.joins) != 0 || res.retain != res.total {
		t.Fatalf("random bytes: %+v, %d join points, retain %d of %d", res.info, len(res.joins), res.retain, res.total)
	}
}

// TestTSGarbage: garbage after a valid start never panics, and the tracker
// finds the alignment again when a good stream resumes.
func TestTSGarbage(t *testing.T) {
	ts := readFixture(t, "h264.ts")
	rng := rand.New(rand.NewSource(7))
	junk := make([]byte, 100_000)
	rng.Read(junk)

	// Valid start, then garbage, then the stream again, cut mid-packet.
	in := bytes.Join([][]byte{ts[:20*188], junk, ts[1000:]}, nil)
	ref := feed(t, ts, fixed(4096), constClock)
	for _, next := range []func() int{fixed(1), fixed(4096), randomSizes(8, 700)} {
		res := feed(t, in, next, constClock)
		if res.info.Format != FormatMPEGTS {
			t.Fatalf("format %v", res.info.Format)
		}
		// Every keyframe of the resumed stream after the resync is
		// found, shifted by what was inserted.
		shift := int64(20*188+len(junk)) - 1000
		var want []int64
		for _, jp := range ref.joins {
			if jp.Pos+shift > int64(20*188+len(junk))+5*188 {
				want = append(want, jp.Pos+shift)
			}
		}
		got := positions(res.joins)
		if len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
			t.Fatalf("join points %v, want them to end with %v", got, want)
		}
	}
}

// TestWriteDoesNotModifyInput: the tracker only reads.
func TestWriteDoesNotModifyInput(t *testing.T) {
	for _, f := range fixtures {
		data := f.data(t)
		orig := bytes.Clone(data)
		feed(t, data, randomSizes(9, 3000), constClock)
		if !bytes.Equal(data, orig) {
			t.Fatalf("%s: input modified", f.name)
		}
	}
}

// TestNoAllocsSteadyState: once a stream's parameter sets and tables are
// cached, Write allocates nothing.
func TestNoAllocsSteadyState(t *testing.T) {
	for _, name := range []string{"h264.ts", "h265.ts", "h264.h264", "h265.h265", "opengop.h264", "aac.ts", "mp2.ts", "opus.ts", "mpeg4.ts"} {
		data := readFixture(t, name)
		tr := NewTracker(TrackerConfig{})
		tr.Write(data, epoch)
		chunks := 0
		allocs := testing.AllocsPerRun(5, func() {
			for off := 0; off < len(data); off += 1000 {
				tr.Write(data[off:min(off+1000, len(data))], epoch)
				chunks++
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per pass of %d writes", name, allocs, chunks)
		}
		if jp, ok := tr.JoinPoint(); !ok || jp.Seq < 5 {
			t.Errorf("%s: join points not found on repeat: %+v", name, jp)
		}
	}
}

func ExampleTracker() {
	tr := NewTracker(TrackerConfig{})
	// An H.264 stream: SPS, PPS, then an IDR slice (first_mb_in_slice 0).
	stream := []byte{
		0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0x8c,
		0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
		0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21,
	}
	tr.Write(stream[:7], time.Unix(0, 0)) // pieces of any size
	tr.Write(stream[7:], time.Unix(0, 0))
	jp, ok := tr.JoinPoint()
	fmt.Println(tr.Format(), ok, jp.Pos, jp.Seq, jp.Prefix == nil)
	// Output: h264 true 0 1 true
}

// TestWholeEnd: a transport stream's whole end is the end of its last
// whole packet, wherever the bytes so far stop; other streams end where
// their bytes do.
func TestWholeEnd(t *testing.T) {
	ts := readFixture(t, "h264.ts")
	annexB := readFixture(t, "h264.h264")
	generic := bytes.Repeat([]byte("not a media stream "), 1000)
	tests := []struct {
		name string
		data []byte
		want int64
	}{
		{"ts, whole packets", ts[:188*40], 188 * 40},
		{"ts, torn packet", ts[:188*40+97], 188 * 40},
		{"ts, one byte of a packet", ts[:188*40+1], 188 * 40},
		{"annex b", annexB[:10001], 10001},
		{"generic", generic, int64(len(generic))},
		{"too short to tell", ts[:100], 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(TrackerConfig{})
			for off := 0; off < len(tt.data); off += 333 {
				tr.Write(tt.data[off:min(off+333, len(tt.data))], time.Time{})
			}
			if got := tr.WholeEnd(); got != tt.want {
				t.Errorf("WholeEnd = %d, want %d", got, tt.want)
			}
		})
	}
}
