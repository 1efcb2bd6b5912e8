package media

import "testing"

// benchmarkTracker feeds a fixture over and over in chunks of the given
// size, as the relay does with what it reads from a broadcaster. After the
// first pass the tables, parameter sets and join prefixes are cached:
// 0 allocs/op.
func benchmarkTracker(b *testing.B, name string, chunk int) {
	data := readFixture(b, name)
	tr := NewTracker(TrackerConfig{})
	tr.Write(data, epoch)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(data); off += chunk {
			tr.Write(data[off:min(off+chunk, len(data))], epoch)
		}
	}
	if _, ok := tr.JoinPoint(); !ok {
		b.Fatal("no join point")
	}
}

func BenchmarkTrackerTS(b *testing.B)           { benchmarkTracker(b, "h264.ts", 32<<10) }
func BenchmarkTrackerTSSmallReads(b *testing.B) { benchmarkTracker(b, "h264.ts", 1500) }
func BenchmarkTrackerH264(b *testing.B)         { benchmarkTracker(b, "h264.h264", 32<<10) }
func BenchmarkTrackerH265(b *testing.B)         { benchmarkTracker(b, "h265.h265", 32<<10) }
func BenchmarkTrackerTSAudio(b *testing.B)      { benchmarkTracker(b, "mp2.ts", 32<<10) }
