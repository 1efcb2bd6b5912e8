package hls

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// nameCases are segment names and whether they parse; they seed the fuzz
// corpus too.
var nameCases = []struct {
	name string
	run  string
	seq  uint64
	ok   bool
}{
	{"0123abcd-0.ts", "0123abcd", 0, true},
	{"0123abcd-42.ts", "0123abcd", 42, true},
	{"ffffffff-18446744073709551615.ts", "ffffffff", 1<<64 - 1, true},
	{"0123abcd-18446744073709551616.ts", "", 0, false},
	{"0123abcd-01.ts", "", 0, false},
	{"0123abcd-+1.ts", "", 0, false},
	{"0123abcd-.ts", "", 0, false},
	{"0123ABCD-1.ts", "", 0, false},
	{"0123abc-1.ts", "", 0, false},
	{"0123abcd-1.m3u8", "", 0, false},
	{"0123abcd-1", "", 0, false},
	{"../index.ts", "", 0, false},
	{"", "", 0, false},
}

func TestParseName(t *testing.T) {
	for _, tc := range nameCases {
		run, seq, err := ParseName(tc.name)
		if (err == nil) != tc.ok || run != tc.run || seq != tc.seq {
			t.Errorf("ParseName(%q) = %q, %d, %v", tc.name, run, seq, err)
		}
		if tc.ok && segmentName(run, seq) != tc.name {
			t.Errorf("segmentName(%q, %d) = %q", run, seq, segmentName(run, seq))
		}
	}
}

func FuzzParseName(f *testing.F) {
	for _, tc := range nameCases {
		f.Add(tc.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		run, seq, err := ParseName(name)
		if err == nil && segmentName(run, seq) != name {
			t.Fatalf("%q parsed as %q, %d, which names %q", name, run, seq, segmentName(run, seq))
		}
	})
}

func TestSigner(t *testing.T) {
	s := NewSigner()
	now := time.Unix(1_800_000_000, 0)
	q := s.Sign("fier/cam/0123abcd-1.ts", now.Add(time.Minute))
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatalf("Sign gave %q: %v", q, err)
	}
	exp, sig := v.Get("exp"), v.Get("sig")
	for _, tc := range []struct {
		path, exp, sig string
		now            time.Time
		ok             bool
	}{
		{"fier/cam/0123abcd-1.ts", exp, sig, now, true},
		{"fier/cam/0123abcd-1.ts", exp, sig, now.Add(2 * time.Minute), false},
		{"fier/cam/0123abcd-2.ts", exp, sig, now, false},
		{"fier/cam/0123abcd-1.ts", exp + "0", sig, now, false},
		{"fier/cam/0123abcd-1.ts", exp, sig[1:] + "0", now, false},
		{"fier/cam/0123abcd-1.ts", "", "", now, false},
		{"fier/cam/0123abcd-1.ts", exp, "", now, false},
	} {
		if err := s.Verify(tc.path, tc.exp, tc.sig, tc.now); (err == nil) != tc.ok {
			t.Errorf("Verify(%q, %q, %q): %v", tc.path, tc.exp, tc.sig, err)
		}
	}
	if NewSigner().Verify("fier/cam/0123abcd-1.ts", exp, sig, now) == nil {
		t.Error("another server's key verified the signature")
	}
}

func FuzzVerify(f *testing.F) {
	s := NewSigner()
	now := time.Unix(1_800_000_000, 0)
	f.Add("u/c/0123abcd-1.ts", "1800000060", "00000000000000000000000000000000")
	f.Add("u/c/x", "-1", "")
	f.Add("", "99999999999999999999", "zz")
	f.Fuzz(func(t *testing.T, path, exp, sig string) {
		if s.Verify(path, exp, sig, now) == nil {
			t.Fatalf("forged signature accepted: %q %q %q", path, exp, sig)
		}
	})
}

// FuzzSegmenter feeds arbitrary bytes (seeded with real streams) to the
// segmenter: its parsers (PES timestamps, NAL units, parameter sets) must
// not panic, and every segment it makes starts with a TS packet.
func FuzzSegmenter(f *testing.F) {
	// The media package's small ffmpeg-made fixtures.
	for _, name := range []string{"h264.ts", "h264.h264", "h265.h265"} {
		data, err := os.ReadFile(filepath.Join("..", "media", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 1128)])
	}
	f.Add([]byte{0, 0, 0, 1, 0x67, 0x64, 0, 0x1f, 0, 0, 1, 0x65, 0x88})
	f.Add([]byte{0, 0, 1, 0x40, 0x01, 0x0c, 0, 0, 1, 0x26, 0x01, 0xaf})
	f.Fuzz(func(t *testing.T, data []byte) {
		now := time.Unix(0, 0)
		s := NewSegmenter(Config{MinSegment: time.Nanosecond}, func(c cut) {
			if len(c.Data) < 188 || c.Data[0] != 0x47 {
				t.Fatalf("segment of %d bytes starting %x", len(c.Data), c.Data[:min(4, len(c.Data))])
			}
		})
		half := len(data) / 2
		s.Write(data[:half], now)
		s.Write(data[half:], now.Add(time.Second))
		s.Flush(now.Add(2 * time.Second))
	})
}

// FuzzParameterSets runs the timing parsers on arbitrary NAL units.
func FuzzParameterSets(f *testing.F) {
	f.Add([]byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x83, 0x19, 0x60})
	f.Add([]byte{0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0, 0, 3, 0, 0x90, 0, 0, 3, 0, 0, 3, 0, 0x5d, 0x95, 0x98, 0x09})
	f.Fuzz(func(t *testing.T, nal []byte) {
		for _, d := range []int64{h264FrameDuration(nal), h265FrameDuration(nal), h265SPSFrameDuration(nal)} {
			if d < 0 || d > 90000 {
				t.Fatalf("frame duration %d", d)
			}
		}
		// The same bytes as parameter sets, then as a slice.
		au := append([]byte{0, 0, 1}, nal...)
		for _, hevc := range []bool{false, true} {
			p := pocTracker{hevc: hevc}
			for _, ps := range []int{7, 33, 34} {
				p.paramSet(ps, nal)
			}
			p.picture(au)
			p.picture(au)
		}
	})
}
