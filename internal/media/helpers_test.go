package media

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixture is a stream under testdata/ (see testdata/README.md) or derived
// from one, with what the tracker must find in it.
type fixture struct {
	name   string
	format Format
	codec  string
	audio  string // Info.AudioCodec
	keys   int    // expected join points: one per GOP, or per JoinInterval for audio
	// probeKeys: ffprobe's keyframe flags match the join points. Not so for
	// open GOPs, where ffmpeg flags recovery-point I pictures too.
	probeKeys bool
	data      func(t testing.TB) []byte
}

func fileFixture(name string) func(t testing.TB) []byte {
	return func(t testing.TB) []byte { return readFixture(t, name) }
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

var fixtures = []fixture{
	{name: "h264.ts", format: FormatMPEGTS, codec: "h264", audio: "aac", keys: 4, probeKeys: true, data: fileFixture("h264.ts")},
	{name: "h265.ts", format: FormatMPEGTS, codec: "h265", keys: 4, probeKeys: true, data: fileFixture("h265.ts")},
	{name: "mpeg2.ts", format: FormatMPEGTS, codec: "mpeg2video", keys: 4, probeKeys: true, data: fileFixture("mpeg2.ts")},
	{name: "h264.h264", format: FormatH264, codec: "h264", keys: 4, probeKeys: true, data: fileFixture("h264.h264")},
	{name: "h265.h265", format: FormatH265, codec: "h265", keys: 4, probeKeys: true, data: fileFixture("h265.h265")},
	{name: "opengop.h264", format: FormatH264, codec: "h264", keys: 1, data: fileFixture("opengop.h264")},
	// Parameter sets only at the very start, as hardware encoders send
	// them: later join points need the cached ones as Prefix.
	{name: "h264-once", format: FormatH264, codec: "h264", keys: 4, probeKeys: true, data: func(t testing.TB) []byte {
		return stripRepeatedParamSets(readFixture(t, "h264.h264"), false)
	}},
	{name: "h265-once", format: FormatH265, codec: "h265", keys: 4, probeKeys: true, data: func(t testing.TB) []byte {
		return stripRepeatedParamSets(readFixture(t, "h265.h265"), true)
	}},
	// No random_access_indicator at all: keyframes are found in the PES.
	{name: "h264-norai.ts", format: FormatMPEGTS, codec: "h264", audio: "aac", keys: 4, probeKeys: true, data: func(t testing.TB) []byte {
		return setRAI(readFixture(t, "h264.ts"), func(bool) bool { return false })
	}},
	// random_access_indicator on every packet that has an adaptation
	// field: the flag alone does not make a join point for H.264.
	{name: "h264-allrai.ts", format: FormatMPEGTS, codec: "h264", audio: "aac", keys: 4, data: func(t testing.TB) []byte {
		return setRAI(readFixture(t, "h264.ts"), func(bool) bool { return true })
	}},
	// The stream does not start at a packet boundary.
	{name: "h264-cut.ts", format: FormatMPEGTS, codec: "h264", audio: "aac", keys: 4, probeKeys: true, data: func(t testing.TB) []byte {
		return readFixture(t, "h264.ts")[100:]
	}},
	// A video codec the tracker does not parse: random_access_indicator.
	{name: "mpeg4.ts", format: FormatMPEGTS, codec: "mpeg4", keys: 4, probeKeys: true, data: fileFixture("mpeg4.ts")},
	// The same with a stream_type the tracker does not know at all.
	{name: "unknown.ts", format: FormatMPEGTS, codec: "", keys: 4, probeKeys: true, data: func(t testing.TB) []byte {
		return setStreamType(t, readFixture(t, "mpeg4.ts"), 0x10, 0x99)
	}},
	// Audio-only ("radio"): every PES that starts with a frame, at least
	// JoinInterval (250 ms) apart. ffmpeg packs about 0.3 s of AAC, AC-3 and
	// MP3 into a PES, 0.25 s of Opus, and one frame of MP2 (24 ms) and LATM
	// with -pes_payload_size 0. LATM frames carry the decoder's
	// configuration every 20 frames (427 ms): only those start a join.
	{name: "aac.ts", format: FormatMPEGTS, audio: "aac", keys: 6, data: fileFixture("aac.ts")},
	{name: "latm.ts", format: FormatMPEGTS, audio: "aac_latm", keys: 5, data: fileFixture("latm.ts")},
	{name: "mp2.ts", format: FormatMPEGTS, audio: "mp2", keys: 8, data: fileFixture("mp2.ts")},
	{name: "mp3.ts", format: FormatMPEGTS, audio: "mp3", keys: 6, data: fileFixture("mp3.ts")},
	{name: "ac3.ts", format: FormatMPEGTS, audio: "ac3", keys: 6, data: fileFixture("ac3.ts")},
	{name: "eac3.ts", format: FormatMPEGTS, audio: "eac3", keys: 6, data: fileFixture("eac3.ts")},
	{name: "opus.ts", format: FormatMPEGTS, audio: "opus", keys: 7, data: fileFixture("opus.ts")},
}

// audioFixtures are the names of the audio-only fixtures.
func audioFixtures() []fixture {
	var out []fixture
	for _, f := range fixtures {
		if f.format == FormatMPEGTS && f.codec == "" && f.audio != "" {
			out = append(out, f)
		}
	}
	return out
}

// setStreamType rewrites the stream_type of every PMT entry from old to new,
// fixing the CRC.
func setStreamType(t testing.TB, b []byte, old, new byte) []byte {
	t.Helper()
	out := bytes.Clone(b)
	pmtPID := -1
	changed := 0
	tsPackets(out, func(_ int, pk []byte) {
		if pk[1]&0x40 == 0 {
			return
		}
		sec := pk[5+int(pk[4]):]
		switch {
		case tsPID(pk) == 0 && sec[0] == 0:
			pmtPID = int(sec[10]&0x1f)<<8 | int(sec[11])
		case tsPID(pk) == pmtPID && sec[0] == 2:
			n := 3 + (int(sec[1]&0xf)<<8 | int(sec[2]))
			for i := 12 + (int(sec[10]&0xf)<<8 | int(sec[11])); i+5 <= n-4; i += 5 + (int(sec[i+3]&0xf)<<8 | int(sec[i+4])) {
				if sec[i] == old {
					sec[i] = new
					changed++
				}
			}
			c := crc32MPEG(sec[:n-4])
			sec[n-4], sec[n-3], sec[n-2], sec[n-1] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
		}
	})
	if changed == 0 {
		t.Fatalf("no stream_type %#x in the PMT", old)
	}
	return out
}

// epoch is the arrival time of byte 0 in tests.
var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// feedResult is what a tracker showed while a stream was fed to it.
type feedResult struct {
	joins  []JoinPoint // every join point seen after a Write, oldest first
	info   Info
	retain int64
	total  int64
}

// feed writes data to a new tracker in pieces of the sizes next returns, and
// checks the invariants that hold after every Write: join points advance
// one Seq at a time (when writes are small enough), never go back, and never
// start before what RetainFrom said must be kept; RetainFrom never exceeds
// the bytes written and never decreases. clock gives the arrival time of a
// piece from its offset.
func feed(t testing.TB, data []byte, next func() int, clock func(off int64) time.Time) feedResult {
	t.Helper()
	tr := NewTracker(TrackerConfig{})
	var res feedResult
	prevRetain := int64(0)
	for off := 0; off < len(data); {
		n := min(max(next(), 1), len(data)-off)
		tr.Write(data[off:off+n], clock(int64(off)))
		off += n
		r := tr.RetainFrom()
		if r < prevRetain || r > int64(off) || r < 0 {
			t.Fatalf("after %d bytes: RetainFrom %d (before: %d)", off, r, prevRetain)
		}
		if jp, ok := tr.JoinPoint(); ok {
			if len(res.joins) == 0 || jp.Seq != res.joins[len(res.joins)-1].Seq {
				if len(res.joins) > 0 {
					last := res.joins[len(res.joins)-1]
					if jp.Seq <= last.Seq || jp.Pos <= last.Pos {
						t.Fatalf("join point went back: %+v after %+v", jp, last)
					}
				}
				if jp.Pos < prevRetain || jp.Pos > int64(off) {
					t.Fatalf("join point at %d outside [RetainFrom before write %d, written %d]", jp.Pos, prevRetain, off)
				}
				res.joins = append(res.joins, jp)
			}
		}
		prevRetain = r
	}
	res.info = tr.Info()
	res.retain = tr.RetainFrom()
	res.total = int64(len(data))
	return res
}

func fixed(n int) func() int { return func() int { return n } }

func randomSizes(seed int64, maxSize int) func() int {
	rng := rand.New(rand.NewSource(seed))
	return func() int { return 1 + rng.Intn(maxSize) }
}

// cutsAt returns piece sizes that put a boundary right after each offset in
// cuts (which must be increasing), and 4 KiB pieces elsewhere.
func cutsAt(cuts []int64) func() int {
	var off int64
	i := 0
	return func() int {
		for i < len(cuts) && cuts[i] <= off {
			i++
		}
		n := int64(4096)
		if i < len(cuts) && cuts[i]-off < n {
			n = cuts[i] - off
		}
		off += n
		return int(n)
	}
}

func constClock(int64) time.Time { return epoch }

// byteClock simulates a stream arriving at 1 MB/s.
func byteClock(off int64) time.Time { return epoch.Add(time.Duration(off) * time.Microsecond) }

// ---- independent stream inspection, by whole-buffer parsing ----

// nalUnit is one NAL unit of an Annex B stream.
type nalUnit struct {
	start int // first byte of its start code (with one leading zero if any)
	hdr   int // first byte of its header
}

func annexBUnits(b []byte) []nalUnit {
	var units []nalUnit
	for i := 0; ; {
		k := bytes.Index(b[i:], []byte{0, 0, 1})
		if k < 0 {
			return units
		}
		s := i + k
		if s > 0 && b[s-1] == 0 {
			s--
		}
		units = append(units, nalUnit{start: s, hdr: i + k + 3})
		i += k + 3
	}
}

func nalType(b []byte, hevc bool) int {
	if hevc {
		return int(b[0] >> 1 & 0x3f)
	}
	return int(b[0] & 0x1f)
}

func isVCL(typ int, hevc bool) bool {
	if hevc {
		return typ <= 31
	}
	return typ >= 1 && typ <= 5
}

func isKey(typ int, hevc bool) bool {
	if hevc {
		return typ >= 16 && typ <= 21
	}
	return typ == 5
}

// stripRepeatedParamSets drops every VPS/SPS/PPS NAL unit after the first
// one of its type, as if the encoder sent them only once.
func stripRepeatedParamSets(b []byte, hevc bool) []byte {
	units := annexBUnits(b)
	seen := map[int]bool{}
	var out []byte
	for i, u := range units {
		end := len(b)
		if i+1 < len(units) {
			end = units[i+1].start
		}
		typ := nalType(b[u.hdr:], hevc)
		ps := (!hevc && (typ == 7 || typ == 8)) || (hevc && typ >= 32 && typ <= 34)
		if ps && seen[typ] {
			continue
		}
		seen[typ] = true
		out = append(out, b[u.start:end]...)
	}
	return out
}

// tsPackets calls fn for each 188-byte packet of an aligned stream.
func tsPackets(b []byte, fn func(off int, pk []byte)) {
	for off := 0; off+188 <= len(b); off += 188 {
		fn(off, b[off:off+188])
	}
}

func tsPID(pk []byte) int { return int(pk[1]&0x1f)<<8 | int(pk[2]) }

// setRAI rewrites random_access_indicator in every packet with an
// adaptation field.
func setRAI(b []byte, rai func(old bool) bool) []byte {
	out := bytes.Clone(b)
	tsPackets(out, func(_ int, pk []byte) {
		if pk[3]&0x20 != 0 && pk[4] > 0 {
			if rai(pk[5]&0x40 != 0) {
				pk[5] |= 0x40
			} else {
				pk[5] &^= 0x40
			}
		}
	})
	return out
}

// tsVideoPID reads the video PID from the PMT packet of a join prefix.
func tsVideoPID(t testing.TB, prefix []byte) int {
	t.Helper()
	if len(prefix) != 376 || prefix[0] != 0x47 || prefix[188] != 0x47 || tsPID(prefix) != 0 {
		t.Fatalf("prefix is not PAT+PMT: % x", prefix[:min(8, len(prefix))])
	}
	pmt := prefix[188:]
	sec := pmt[5+int(pmt[4]):]
	if sec[0] != 2 {
		t.Fatalf("second prefix packet has table id %d", sec[0])
	}
	es := sec[12+(int(sec[10]&0xf)<<8|int(sec[11])):]
	return int(es[1]&0x1f)<<8 | int(es[2])
}

// tsPES returns the payload of the PES that starts in the packet at off,
// PES header included.
func tsPES(b []byte, off, pid int) []byte {
	var pes []byte
	for o := off; o+188 <= len(b); o += 188 {
		pk := b[o : o+188]
		if tsPID(pk) != pid {
			continue
		}
		if o != off && pk[1]&0x40 != 0 {
			break
		}
		p := 4
		if pk[3]&0x20 != 0 {
			p = 5 + int(pk[4])
		}
		if pk[3]&0x10 != 0 && p < 188 {
			pes = append(pes, pk[p:]...)
		}
	}
	return pes
}

// checkRealKeyframe checks, without the package's parsers, that a join
// point starts with a keyframe a decoder can start from: for Annex B, an
// access unit whose first VCL NAL unit is IDR/IRAP, with parameter sets in
// it or in Prefix; for TS, a PUSI packet of the video PID whose PES starts
// with one (or an MPEG-2 sequence header).
func checkRealKeyframe(t testing.TB, f fixture, data []byte, jp JoinPoint) {
	t.Helper()
	switch f.format {
	case FormatH264, FormatH265:
		hevc := f.format == FormatH265
		units := annexBUnits(data[jp.Pos:])
		if len(units) == 0 || units[0].start != 0 {
			t.Fatalf("join point %d: no start code there", jp.Pos)
		}
		ps := map[int]bool{}
		for _, u := range annexBUnits(jp.Prefix) {
			ps[nalType(jp.Prefix[u.hdr:], hevc)] = true
		}
		for _, u := range units {
			typ := nalType(data[jp.Pos+int64(u.hdr):], hevc)
			if isVCL(typ, hevc) {
				if !isKey(typ, hevc) {
					t.Fatalf("join point %d: first VCL NAL unit has type %d", jp.Pos, typ)
				}
				break
			}
			ps[typ] = true
		}
		need := []int{7, 8}
		if hevc {
			need = []int{32, 33, 34}
		}
		for _, typ := range need {
			if !ps[typ] {
				t.Fatalf("join point %d: no parameter set of type %d in prefix or access unit", jp.Pos, typ)
			}
		}
	case FormatMPEGTS:
		pid := tsVideoPID(t, jp.Prefix)
		pk := data[jp.Pos : jp.Pos+188]
		if pk[0] != 0x47 || tsPID(pk) != pid || pk[1]&0x40 == 0 {
			t.Fatalf("join point %d: not a PUSI packet of PID %d", jp.Pos, pid)
		}
		es := tsPES(data, int(jp.Pos), pid)
		if es[7]&0x80 == 0 {
			t.Fatalf("join point %d: PES without PTS", jp.Pos)
		}
		es = es[9+int(es[8]):]
		switch {
		case f.codec == "" && f.audio != "":
			if !audioFrameStart(f.audio, es) {
				t.Fatalf("join point %d: %s PES starts with % x, not a frame", jp.Pos, f.audio, es[:4])
			}
			return
		case f.codec == "mpeg4" || f.codec == "":
			if pk[3]&0x20 == 0 || pk[4] == 0 || pk[5]&0x40 == 0 {
				t.Fatalf("join point %d: no random_access_indicator", jp.Pos)
			}
			return
		}
		if f.codec == "mpeg2video" {
			seq := bytes.Index(es, []byte{0, 0, 1, 0xb3})
			pic := bytes.Index(es, []byte{0, 0, 1, 0x00})
			if seq < 0 || (pic >= 0 && pic < seq) {
				t.Fatalf("join point %d: PES does not start with a sequence header", jp.Pos)
			}
			return
		}
		hevc := f.codec == "h265"
		for _, u := range annexBUnits(es) {
			typ := nalType(es[u.hdr:], hevc)
			if isVCL(typ, hevc) {
				if !isKey(typ, hevc) {
					t.Fatalf("join point %d: first VCL NAL unit has type %d", jp.Pos, typ)
				}
				return
			}
		}
		t.Fatalf("join point %d: no VCL NAL unit in the PES", jp.Pos)
	}
}

// audioFrameStart tells, by codec name, whether b starts with an audio
// frame's sync word.
func audioFrameStart(codec string, b []byte) bool {
	switch codec {
	case "aac":
		return b[0] == 0xff && b[1]>>4 == 0xf
	case "aac_latm":
		return b[0] == 0x56 && b[1]>>5 == 7
	case "mp2", "mp3":
		return b[0] == 0xff && b[1]>>5 == 7
	case "ac3", "eac3":
		return b[0] == 0x0b && b[1] == 0x77
	case "opus":
		return b[0] == 0x7f && b[1]>>5 == 7
	}
	return false
}

// ---- ffmpeg ----

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// runTool runs ffmpeg or ffprobe with data on its standard input.
func runTool(t *testing.T, data []byte, name string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(data)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	// A non-zero exit is a decoding failure, reported through stderr.
	if err := cmd.Run(); err != nil && ctx.Err() != nil {
		t.Fatalf("%s: %v", name, ctx.Err())
	}
	return out.String(), errb.String()
}

// decodeErrors decodes data the way a watcher's player would, and returns
// the error lines ffmpeg printed.
func decodeErrors(t *testing.T, data []byte) []string {
	t.Helper()
	_, stderr := runTool(t, data, "ffmpeg", "-hide_banner", "-v", "error", "-i", "-", "-f", "null", "-")
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// firstVideoFrame returns key_frame and pict_type of the first decoded video
// frame of data.
func firstVideoFrame(t *testing.T, data []byte) string {
	t.Helper()
	out, _ := runTool(t, data, "ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "frame=key_frame,pict_type", "-of", "csv=p=0", "-read_intervals", "%+#1", "-i", "-")
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(first)
}

// probeKeyPositions returns the byte positions ffprobe gives for the
// keyframe packets of the first video stream.
func probeKeyPositions(t *testing.T, data []byte) []int64 {
	t.Helper()
	out, _ := runTool(t, data, "ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=pos,flags", "-of", "csv=p=0", "-i", "-")
	var pos []int64
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(l), ",")
		if len(f) < 2 || !strings.HasPrefix(f[1], "K") {
			continue
		}
		p, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("ffprobe packet line %q: %v", l, err)
		}
		pos = append(pos, p)
	}
	return pos
}

// withPrefix returns what a watcher joining at jp receives.
func withPrefix(data []byte, jp JoinPoint) []byte {
	out := make([]byte, 0, len(jp.Prefix)+len(data)-int(jp.Pos))
	out = append(out, jp.Prefix...)
	return append(out, data[jp.Pos:]...)
}
