package hls

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// feedAll feeds data to a new Segmenter in random-sized writes, with
// arrival times at the stream's real-time pace, and returns the segments.
func feedAll(t *testing.T, data []byte, cfg Config, seed uint64) []cut {
	t.Helper()
	var cuts []cut
	s := NewSegmenter(cfg, func(c cut) { cuts = append(cuts, c) })
	rng := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	rate := float64(len(data)) / fixtureSec // bytes per second
	for off := 0; off < len(data); {
		n := min(len(data)-off, 1+rng.IntN(20000))
		now := start.Add(time.Duration(float64(off) / rate * float64(time.Second)))
		s.Write(data[off:off+n], now)
		off += n
	}
	s.Flush(start.Add(fixtureSec * time.Second))
	return cuts
}

func TestSegmenterCutsAtKeyframes(t *testing.T) {
	gop := time.Duration(gopFrames) * time.Second / fixtureFPS
	for _, format := range []string{"mpegts", "h264", "h265", "h264-bframes", "h265-bframes"} {
		t.Run(format, func(t *testing.T) {
			data := makeFixture(t, format)
			cuts := feedAll(t, data, Config{}, 1)
			for i, c := range cuts {
				t.Logf("segment %d: %v from %s, %d bytes", i, c.Duration, c.Clock, len(c.Data))
			}
			if len(cuts) < fixtureSec-1 || len(cuts) > fixtureSec+1 {
				t.Fatalf("%d segments from %d s with a %v GOP", len(cuts), fixtureSec, gop)
			}
			dir := t.TempDir()
			var all []byte
			for i, c := range cuts {
				if pid := int(c.Data[1]&0x1f)<<8 | int(c.Data[2]); c.Data[0] != 0x47 || pid != 0 {
					t.Errorf("segment %d does not start with a PAT packet (pid %d)", i, pid)
				}
				p := writeTemp(t, dir, fmt.Sprintf("%d.ts", i), c.Data)
				if !firstFrameKey(t, p) {
					t.Errorf("segment %d: first frame is not a keyframe", i)
				}
				frames := videoFrames(t, p)
				last := i == len(cuts)-1
				if !last {
					if d := c.Duration - gop; d > gop/10 || d < -gop/10 {
						t.Errorf("segment %d: duration %v (%s), GOP %v", i, c.Duration, c.Clock, gop)
					}
					if frames != gopFrames {
						t.Errorf("segment %d: %d frames, want %d", i, frames, gopFrames)
					}
				}
				if want := map[string]string{"mpegts": "pts", "h264": "sps", "h265": "sps", "h264-bframes": "sps", "h265-bframes": "sps"}[format]; !last && c.Clock != want {
					t.Errorf("segment %d: duration from %s, want %s", i, c.Clock, want)
				}
				all = append(all, c.Data...)
			}
			whole := writeTemp(t, dir, "all.ts", all)
			if msg := decodeErrors(t, whole); msg != "" {
				t.Errorf("decoding all segments in a row: %s", msg)
			}
			// Every frame shows one frame time after the one before: B-frames
			// have their presentation times.
			if steps := ptsSteps(t, whole); len(steps) != 1 || steps[90000/fixtureFPS] == 0 {
				t.Errorf("PTS steps between frames (90 kHz: count): %v", steps)
			}
		})
	}
}

// Any split of the stream into writes gives the same segments.
func TestSegmenterSplitIndependent(t *testing.T) {
	for _, format := range []string{"mpegts", "h264"} {
		t.Run(format, func(t *testing.T) {
			data := makeFixture(t, format)
			a := feedAll(t, data, Config{}, 1)
			b := feedAll(t, data, Config{}, 2)
			if len(a) != len(b) {
				t.Fatalf("%d vs %d segments", len(a), len(b))
			}
			for i := range a {
				if format == "mpegts" && !bytes.Equal(a[i].Data, b[i].Data) {
					t.Errorf("segment %d differs between splits", i)
				}
				if len(a[i].Data) == 0 {
					t.Errorf("segment %d empty", i)
				}
			}
		})
	}
}

func TestSegmenterDiscontinuity(t *testing.T) {
	data := makeFixture(t, "mpegts")
	var cuts []cut
	s := NewSegmenter(Config{}, func(c cut) { cuts = append(cuts, c) })
	now := time.Now()
	s.Write(data, now)
	before := len(cuts)
	s.Discontinuity(now)
	if len(cuts) != before+1 {
		t.Fatalf("discontinuity did not finish the open segment: %d -> %d", before, len(cuts))
	}
	s.Write(makeFixture(t, "h264"), now)
	s.Flush(now)
	if len(cuts) <= before+1 {
		t.Fatal("no segment after the discontinuity")
	}
	for i, c := range cuts {
		if want := i == before+1; c.Disc != want {
			t.Errorf("segment %d: Disc %v, want %v", i, c.Disc, want)
		}
	}
}
