package bench

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// stream returns n consecutive records of one stream, their sequence
// numbers starting at first, sent at time seq*1000.
func stream(pool *payloadPool, id uint32, first uint64, n int) []byte {
	var b []byte
	for seq := first; seq < first+uint64(n); seq++ {
		b = pool.appendRecord(b, id, seq, int64(seq)*1000)
	}
	return b
}

// feedChunks feeds b to v in chunks of random sizes (1 to maxChunk), all
// arriving at time now.
func feedChunks(v *verifier, b []byte, rng *rand.Rand, maxChunk int, now int64) {
	for len(b) > 0 {
		n := min(len(b), 1+rng.IntN(maxChunk))
		v.feed(b[:n], now, true)
		b = b[n:]
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	tests := []header{
		{size: MinSize, stream: 0, payloadCRC: 0, seq: 0, sent: 0},
		{size: DefaultSize, stream: 7, payloadCRC: 0xdeadbeef, seq: 1 << 40, sent: 1_700_000_000_123_456_789},
		{size: MaxSize, stream: 1<<32 - 1, payloadCRC: 1, seq: 1<<64 - 1, sent: -1},
	}
	for _, want := range tests {
		var b [HeaderSize]byte
		putHeader(&b, want)
		got, ok := parseHeader(&b)
		if !ok || got != want {
			t.Errorf("parseHeader(putHeader(%+v)) = %+v, %v", want, got, ok)
		}
		for i := range b { // any single bit flip is caught
			c := b
			c[i] ^= 0x10
			if _, ok := parseHeader(&c); ok {
				t.Errorf("%+v: header with byte %d flipped passed", want, i)
			}
		}
	}
}

func TestRecordLayout(t *testing.T) {
	pool := newPayloadPool(100)
	rec := pool.appendRecord(nil, 3, 5, 42)
	if len(rec) != 100 {
		t.Fatalf("record is %d bytes, want 100", len(rec))
	}
	if !bytes.Equal(rec[:4], magic[:]) {
		t.Errorf("record starts %x, want magic %x", rec[:4], magic)
	}
	if !bytes.Equal(rec[HeaderSize:], pool.slot(5)) {
		t.Error("payload is not the pool's slot")
	}
	if bytes.Contains(pool.buf, magic[:]) {
		t.Error("payload pool contains the magic")
	}
}

func TestVerifierInSync(t *testing.T) {
	for _, size := range []int{MinSize, 100, 1000, 70_000} {
		pool := newPayloadPool(size)
		b := stream(pool, 1, 10, 50)
		for _, maxChunk := range []int{1, 7, HeaderSize, HeaderSize + 1, size, 3 * size} {
			if maxChunk < 10 && size > 1000 {
				continue // slow under -race, and nothing the small sizes miss
			}
			v := newVerifier(size, 1, new(histogram))
			feedChunks(v, b, rand.New(rand.NewPCG(uint64(size), uint64(maxChunk))), maxChunk, 1_000_000)
			if v.records != 50 || v.gaps != 0 || v.corrupt != 0 || v.skipped != 0 || v.resyncs != 0 {
				t.Errorf("size %d, chunks ≤ %d: records %d gaps %d corrupt %d skipped %d resyncs %d, want 50 records and nothing else",
					size, maxChunk, v.records, v.gaps, v.corrupt, v.skipped, v.resyncs)
			}
			if v.hist.n != 50 || v.hist.max != 1_000_000-10*1000 {
				t.Errorf("size %d: latency count %d max %d, want 50 and %d", size, v.hist.n, v.hist.max, 1_000_000-10*1000)
			}
		}
	}
}

// TestVerifierJoinAnywhere cuts a stream at every offset of its first
// records, as a watcher joining mid-stream sees it: the verifier must find
// the next record boundary and then count every record, with no gap and
// nothing corrupt.
func TestVerifierJoinAnywhere(t *testing.T) {
	for _, size := range []int{MinSize, 101, 4096} {
		pool := newPayloadPool(size)
		const n = 6
		b := stream(pool, 0, 0, n)
		rng := rand.New(rand.NewPCG(1, uint64(size)))
		for off := 0; off <= 2*size; off++ {
			v := newVerifier(size, 0, nil)
			feedChunks(v, b[off:], rng, 2*HeaderSize, 0)
			want := int64(n - (off+size-1)/size) // records starting at or after off
			if v.records != want || v.gaps != 0 || v.corrupt != 0 {
				t.Fatalf("size %d, cut at %d: records %d gaps %d corrupt %d, want %d records",
					size, off, v.records, v.gaps, v.corrupt, want)
			}
		}
	}
}

func TestVerifierDetects(t *testing.T) {
	const size = 200
	pool := newPayloadPool(size)
	good := stream(pool, 2, 0, 10)
	rec := func(i int) (int, int) { return i * size, (i + 1) * size }

	tests := []struct {
		name        string
		mutate      func(b []byte) []byte
		wantRecords int64
		wantGaps    int64
		wantLost    int64
		wantCorrupt int64
	}{
		{"intact", func(b []byte) []byte { return b }, 10, 0, 0, 0},
		{"record dropped", func(b []byte) []byte {
			s, e := rec(4)
			return append(b[:s:s], b[e:]...)
		}, 9, 1, 1, 0},
		{"three records dropped", func(b []byte) []byte {
			s, _ := rec(3)
			_, e := rec(5)
			return append(b[:s:s], b[e:]...)
		}, 7, 1, 3, 0},
		{"record repeated", func(b []byte) []byte {
			s, e := rec(4)
			out := append([]byte{}, b[:e]...)
			out = append(out, b[s:e]...)
			return append(out, b[e:]...)
		}, 11, 1, 0, 0},
		{"payload byte flipped", func(b []byte) []byte {
			s, _ := rec(4)
			b[s+HeaderSize+17] ^= 1
			return b
		}, 9, 0, 0, 1},
		{"header byte flipped", func(b []byte) []byte {
			s, _ := rec(4)
			b[s+offSeq] ^= 1
			return b
		}, 9, 1, 1, 1},
		{"bytes lost mid-record", func(b []byte) []byte {
			s, _ := rec(4)
			// Record 4 then ends 10 bytes into record 5, which fails
			// its checksum; record 5's header is gone, so the verifier
			// finds record 6 next.
			return append(b[:s+50:s+50], b[s+60:]...)
		}, 8, 1, 1, 1},
		{"stale payload from a ring lap", func(b []byte) []byte {
			// Record 4's header with the payload record 4+64 would have:
			// what a ring of 64 records serves if it is overwritten
			// under a reader.
			s, _ := rec(4)
			copy(b[s+HeaderSize:], pool.slot(4+64))
			return b
		}, 9, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(append([]byte{}, good...))
			v := newVerifier(size, 2, nil)
			feedChunks(v, b, rand.New(rand.NewPCG(7, 7)), 64, 0)
			if v.records != tt.wantRecords || v.gaps != tt.wantGaps || v.lost != tt.wantLost || v.corrupt != tt.wantCorrupt {
				t.Errorf("records %d gaps %d lost %d corrupt %d, want %d %d %d %d",
					v.records, v.gaps, v.lost, v.corrupt, tt.wantRecords, tt.wantGaps, tt.wantLost, tt.wantCorrupt)
			}
		})
	}
}

func TestVerifierForeignRecords(t *testing.T) {
	const size = 128
	pool := newPayloadPool(size)
	for _, tt := range []struct {
		name   string
		stream uint32
		size   int
	}{
		{"other channel", 9, size},
		{"other size", 1, size + 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(tt.size, tt.stream, nil)
			v.feed(stream(pool, 1, 0, 5), 0, false)
			if v.records != 0 || v.corrupt != 5 {
				t.Errorf("records %d corrupt %d, want 0 and 5", v.records, v.corrupt)
			}
		})
	}
}

func TestMagicPrefixSuffix(t *testing.T) {
	m := magic[:]
	tests := []struct {
		b    []byte
		want int
	}{
		{nil, 0},
		{[]byte{1, 2, 3}, 0},
		{m[:1], 1},
		{append([]byte{9}, m[:2]...), 2},
		{append([]byte{9, 9}, m[:3]...), 3},
		{m[1:3], 0},
	}
	for _, tt := range tests {
		if got := magicPrefixSuffix(tt.b); got != tt.want {
			t.Errorf("magicPrefixSuffix(%x) = %d, want %d", tt.b, got, tt.want)
		}
	}
}

// FuzzVerifier feeds arbitrary bytes, then a valid stream cut at an
// arbitrary offset in arbitrary chunks: it must never panic, and once
// synced it must count every whole record that follows.
func FuzzVerifier(f *testing.F) {
	pool := newPayloadPool(MinSize)
	f.Add([]byte{}, uint16(0), uint8(1))
	f.Add(magic[:], uint16(3), uint8(36))
	f.Add(stream(pool, 0, 0, 2), uint16(70), uint8(5))
	f.Fuzz(func(t *testing.T, junk []byte, cut uint16, chunk uint8) {
		v := newVerifier(MinSize, 0, new(histogram))
		v.feed(junk, 0, true)
		if v.records > int64(len(junk)/MinSize) {
			t.Fatalf("%d records from %d junk bytes", v.records, len(junk))
		}
		v = newVerifier(MinSize, 0, new(histogram))
		const n = 8
		b := stream(pool, 0, 100, n)
		off := int(cut) % (2 * MinSize)
		rng := rand.New(rand.NewPCG(uint64(cut), uint64(chunk)))
		feedChunks(v, b[off:], rng, int(chunk)+1, 0)
		want := int64(n - (off+MinSize-1)/MinSize)
		if v.records != want || v.gaps != 0 || v.corrupt != 0 {
			t.Fatalf("cut %d: records %d gaps %d corrupt %d, want %d", off, v.records, v.gaps, v.corrupt, want)
		}
	})
}

func TestVerifierAllocs(t *testing.T) {
	pool := newPayloadPool(1000)
	b := stream(pool, 0, 0, 20)
	v := newVerifier(1000, 0, new(histogram))
	allocs := testing.AllocsPerRun(10, func() { v.feed(b, 0, true) })
	if allocs != 0 {
		t.Errorf("feed allocates %v times per call, want 0", allocs)
	}
}

// BenchmarkVerifier measures the watchers' cost per byte: a checksum pass
// and a few header checks per record.
func BenchmarkVerifier(b *testing.B) {
	const size = 64 << 10
	pool := newPayloadPool(size)
	s := stream(pool, 0, 0, 16)
	v := newVerifier(size, 0, new(histogram))
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		v.feed(s, 0, true) // sequence numbers repeat: gaps, but the same work
	}
}
