package hub

import (
	"bytes"
	"testing"
)

// write appends data to the ring the way a broadcaster does: into writable
// regions, then commit.
func (r *ring) write(t *testing.T, data []byte, limit int) {
	t.Helper()
	for len(data) > 0 {
		w := r.writable(limit)
		if len(w) == 0 {
			t.Fatalf("ring full with %d bytes left to write (head %d tail %d size %d)", len(data), r.head, r.tail, len(r.buf))
		}
		n := copy(w, data)
		r.commit(n)
		data = data[n:]
	}
}

// read returns the bytes at [start, end) joined.
func (r *ring) read(start, end int64) []byte {
	return bytes.Join(appendSpan(nil, r.buf, start, end), nil)
}

func seq(from, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(from + i)
	}
	return b
}

func TestRingWritable(t *testing.T) {
	tests := []struct {
		name             string
		size             int
		head, tail       int64
		limit            int
		wantStart, wantN int
	}{
		{"empty", 16, 0, 0, 100, 0, 16},
		{"limited", 16, 0, 0, 5, 0, 5},
		{"half used", 16, 8, 0, 100, 8, 8},
		{"wraps: up to the end only", 16, 12, 4, 100, 12, 4},
		{"after the wrap", 16, 16, 4, 100, 0, 4},
		{"full", 16, 20, 4, 100, 4, 0},
		{"far into the stream", 16, 1<<40 + 3, 1<<40 + 1, 100, 3, 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ring{buf: make([]byte, tt.size), head: tt.head, tail: tt.tail}
			w := r.writable(tt.limit)
			if len(w) != tt.wantN {
				t.Fatalf("writable = %d bytes, want %d", len(w), tt.wantN)
			}
			if tt.wantN > 0 && &w[0] != &r.buf[tt.wantStart] {
				t.Fatalf("writable does not start at buf[%d]", tt.wantStart)
			}
			if got := r.free(); got != tt.size-int(tt.head-tt.tail) {
				t.Fatalf("free = %d", got)
			}
		})
	}
}

// TestRingWrapsExact writes a stream many times the ring's size in uneven
// pieces and reads each piece back by position, across the wrap.
func TestRingWrapsExact(t *testing.T) {
	r := newRing(64)
	var pos int64
	for i, n := range []int{10, 30, 24, 50, 1, 63, 64, 7} {
		data := seq(i*17, n)
		r.release(pos) // the reader has everything before pos
		r.write(t, data, 9)
		if got := r.read(pos, r.head); !bytes.Equal(got, data) {
			t.Fatalf("piece %d: read %v, want %v", i, got, data)
		}
		if spans := appendSpan(nil, r.buf, pos, r.head); len(spans) > 2 {
			t.Fatalf("piece %d: %d spans, want at most 2", i, len(spans))
		}
		pos = r.head
	}
}

// TestRingGrowKeepsPositions grows a ring whose retained bytes wrap around
// its end; every byte stays at its position, and the old array is left
// untouched for readers that still hold it.
func TestRingGrowKeepsPositions(t *testing.T) {
	r := newRing(16)
	r.write(t, seq(0, 16), 100)
	r.release(10)
	r.write(t, seq(16, 8), 100) // wraps: positions 16..23 at buf[0:8]
	old := r.buf
	oldCopy := bytes.Clone(old)
	want := r.read(10, 24)

	r.grow(1 << 20)
	if len(r.buf) != 32 {
		t.Fatalf("grew to %d, want 32", len(r.buf))
	}
	if got := r.read(10, 24); !bytes.Equal(got, want) {
		t.Fatalf("after grow read %v, want %v", got, want)
	}
	if r.free() != 32-14 || r.buffered() != 14 {
		t.Fatalf("free %d buffered %d", r.free(), r.buffered())
	}
	r.write(t, seq(24, r.free()), 100)
	if !bytes.Equal(old, oldCopy) {
		t.Fatal("writes after grow changed the old array")
	}
	r.grow(40)
	if len(r.buf) != 40 {
		t.Fatalf("grow is not bounded by its limit: %d", len(r.buf))
	}
	if got := r.read(10, r.head); !bytes.Equal(got, seq(10, int(r.head-10))) {
		t.Fatalf("after the second grow read %v", got)
	}
}

func TestRingRelease(t *testing.T) {
	r := newRing(8)
	r.write(t, seq(0, 8), 100)
	r.release(5)
	r.release(3) // never moves back
	if r.tail != 5 || r.free() != 5 {
		t.Fatalf("tail %d free %d, want 5 and 5", r.tail, r.free())
	}
}

func TestAppendSpanEmpty(t *testing.T) {
	buf := make([]byte, 8)
	if got := appendSpan(nil, buf, 5, 5); len(got) != 0 {
		t.Fatalf("empty span gave %d slices", len(got))
	}
	if got := appendSpan(nil, buf, 6, 5); len(got) != 0 {
		t.Fatalf("reversed span gave %d slices", len(got))
	}
}
