package record

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub/hubtest"
)

// feed gives the segmenter stream in pieces of the sizes given in turn,
// moving the clock so that the whole stream takes dur.
func feed(seg *segmenter, clock *hubtest.Clock, stream []byte, sizes []int, dur time.Duration) {
	perByte := float64(dur) / float64(len(stream))
	for i, off := 0, 0; off < len(stream); i++ {
		n := min(sizes[i%len(sizes)], len(stream)-off)
		seg.add(stream[off:off+n], clock.Now())
		clock.Advance(time.Duration(perByte * float64(n)))
		off += n
	}
}

func newSegmenter(t *testing.T, clock *hubtest.Clock, segment time.Duration, log *logBuffer) *segmenter {
	return &segmenter{
		dir: filepath.Join(t.TempDir(), "alice", "cam"), segment: segment,
		log: newLogger(log), st: new(chanStats), minWait: time.Second, maxWait: 8 * time.Second,
	}
}

// TestSegmenterRollsOverAtKeyframes records 2 s streams with a keyframe
// every 0.5 s in 0.4 s segments: each file starts at a keyframe (with the
// PAT and PMT first), ffprobe reads each without a word, and the files
// together hold the whole stream.
func TestSegmenterRollsOverAtKeyframes(t *testing.T) {
	needTool(t, "ffprobe")
	for _, tt := range []struct {
		fixture, ext string
		prefix       int // bytes each later file starts with that are not in the stream
		sizes        []int
	}{
		{"h264.ts", ".ts", 2 * tsPacket, []int{1316}},
		{"h264.ts", ".ts", 2 * tsPacket, []int{1, 187, 189, 1000, 300}},
		{"h265.ts", ".ts", 2 * tsPacket, []int{940}},
		{"h264.h264", ".h264", 0, []int{500, 13}},
		{"h265.h265", ".h265", 0, []int{600}},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			stream := fixture(t, tt.fixture)
			clock := hubtest.NewClock()
			var log logBuffer
			seg := newSegmenter(t, clock, 400*time.Millisecond, &log)
			seg.restart()
			feed(seg, clock, stream, tt.sizes, 2*time.Second)
			seg.finish()

			names := files(t, seg.dir)
			if len(names) < 3 || len(names) > 4 {
				t.Fatalf("%d files %v, want 3 or 4", len(names), names)
			}
			var joined []byte
			for i, name := range names {
				if !strings.HasSuffix(name, tt.ext) {
					t.Errorf("file %s: want extension %s", name, tt.ext)
				}
				path := filepath.Join(seg.dir, name)
				stderr, packets, key := probe(t, path)
				if stderr != "" || packets == 0 || !key {
					t.Errorf("file %d %s: ffprobe said %q; %d video packets, first a keyframe: %v", i, name, stderr, packets, key)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if tt.ext == ".ts" && len(b)%tsPacket != 0 {
					t.Errorf("file %s: %d bytes, not whole packets", name, len(b))
				}
				// The first file starts with the stream; later ones with
				// the PAT (PID 0) and PMT before their keyframe.
				if tt.ext == ".ts" && i > 0 && (b[0] != 0x47 || b[1]&0x1f != 0 || b[2] != 0) {
					t.Errorf("file %s starts % x: want the PAT first", name, b[:3])
				}
				if i > 0 {
					b = b[tt.prefix:]
				}
				joined = append(joined, b...)
			}
			want := stream
			if tt.ext == ".ts" {
				want = want[:len(want)-len(want)%tsPacket]
			}
			if !bytes.Equal(joined, want) {
				t.Errorf("the files hold %d bytes of the stream; want the %d sent", len(joined), len(want))
			}
			if st := seg.st.snapshot(hubKey); st.Files != int64(len(names)) || st.Errors != [numKinds]int64{} {
				t.Errorf("stats %+v, want %d files and no errors", st, len(names))
			}
		})
	}
}

// TestSegmenterStopsAndResumes blocks the channel's directory (a file
// where it should be): the recording stops with one log line and a count,
// drops the stream, and resumes in a new file at a keyframe once the
// directory can be made and the backoff is over.
func TestSegmenterStopsAndResumes(t *testing.T) {
	needTool(t, "ffprobe")
	stream := fixture(t, "h264.ts")
	clock := hubtest.NewClock()
	var log logBuffer
	seg := newSegmenter(t, clock, time.Hour, &log)
	seg.minWait = 200 * time.Millisecond
	if err := os.MkdirAll(filepath.Dir(seg.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seg.dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	seg.restart()
	// The first 40 % (0.8 s: keyframes at 0 and 0.5 s) while blocked.
	cut := len(stream) * 2 / 5 / 188 * 188
	feed(seg, clock, stream[:cut], []int{1316}, 800*time.Millisecond)
	if st := seg.st.snapshot(hubKey); st.State != StateStopped || st.Errors[kindIO] == 0 || st.Files != 0 {
		t.Fatalf("blocked: stats %+v, want stopped with I/O errors and no file", st)
	}
	if err := os.Remove(seg.dir); err != nil {
		t.Fatal(err)
	}
	feed(seg, clock, stream[cut:], []int{1316}, 1200*time.Millisecond)
	seg.finish()

	if n := log.count("recording stopped"); n != 1 {
		t.Errorf("%d stop lines, want 1:\n%s", n, log.String())
	}
	if n := log.count("recording resumed"); n != 1 {
		t.Errorf("%d resume lines, want 1:\n%s", n, log.String())
	}
	names := files(t, seg.dir)
	if len(names) != 1 {
		t.Fatalf("files %v, want 1", names)
	}
	path := filepath.Join(seg.dir, names[0])
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || len(b)%tsPacket != 0 || b[1]&0x1f != 0 || b[2] != 0 {
		t.Fatalf("%d bytes: want whole packets, the PAT first", len(b))
	}
	if !bytes.HasSuffix(stream[:len(stream)/tsPacket*tsPacket], b[2*tsPacket:]) {
		t.Error("the file after its PAT and PMT is not the end of the stream")
	}
	if stderr, packets, key := probe(t, path); stderr != "" || packets == 0 || !key {
		t.Errorf("ffprobe said %q; %d video packets, first a keyframe: %v", stderr, packets, key)
	}
	if st := seg.st.snapshot(hubKey); st.State != StateRecording || st.Files != 1 {
		t.Errorf("stats %+v, want recording, 1 file", st)
	}
}

// TestSegmenterGenericRollsOverAtTheTime: a stream that is not media rolls
// over when the segment time is up, into .bin files that together hold
// every byte.
func TestSegmenterGenericRollsOverAtTheTime(t *testing.T) {
	stream := make([]byte, 300<<10)
	for i := range stream {
		stream[i] = byte(i*7 + i>>9)
	}
	clock := hubtest.NewClock()
	var log logBuffer
	seg := newSegmenter(t, clock, time.Second, &log)
	seg.restart()
	feed(seg, clock, stream, []int{1000, 4096}, 5*time.Second)
	seg.finish()
	names := files(t, seg.dir)
	if len(names) < 4 || len(names) > 5 {
		t.Fatalf("%d files %v, want 4 or 5 (5 s in 1 s segments; the first waits for the format)", len(names), names)
	}
	var joined []byte
	for _, name := range names {
		if !strings.HasSuffix(name, ".bin") {
			t.Errorf("%s: want .bin", name)
		}
		b, err := os.ReadFile(filepath.Join(seg.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		joined = append(joined, b...)
	}
	if !bytes.Equal(joined, stream) {
		t.Errorf("the files hold %d bytes, want the %d sent", len(joined), len(stream))
	}
}
