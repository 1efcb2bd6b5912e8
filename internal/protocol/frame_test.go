package protocol

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// badFrameCases are inputs ReadFrame must reject, with the error they must
// wrap. They also seed FuzzReadFrame.
var badFrameCases = []struct {
	name string
	wire string
	max  int
	err  error
}{
	{"no bytes at all", "", DefaultMaxText, io.EOF},
	{"truncated header", h("00 00 00"), DefaultMaxText, io.ErrUnexpectedEOF},
	{"header without text", h("00 00 00 05 00"), DefaultMaxText, io.ErrUnexpectedEOF},
	{"truncated text", h("00 00 00 05 00 68 65"), DefaultMaxText, io.ErrUnexpectedEOF},
	{"bad marker", h("00 00 00 01 01 61"), DefaultMaxText, ErrBadFrame},
	// A TLS record starts with 0x16, so read as a length it is above even
	// the largest limit a server may configure, whatever its fifth byte.
	{"tls client hello", h("16 03 01 02 00 01 00 01 fc 03 03"), MaxTextLimit, ErrFrameTooLarge},
	{"tls record, odd length", h("16 03 01 00 c8 01 00 00 c4"), MaxTextLimit, ErrBadFrame},
	// The marker is checked before the length: both are wrong here.
	{"bad marker and huge length", h("ff ff ff ff 7f"), DefaultMaxText, ErrBadFrame},
	{"one over default limit", h("00 01 00 01 00"), DefaultMaxText, ErrFrameTooLarge},
	{"max uint32 length", h("ff ff ff ff 00"), DefaultMaxText, ErrFrameTooLarge},
	{"one over small limit", h("00 00 00 03 00 61 62 63"), 2, ErrFrameTooLarge},
	{"negative limit", h("00 00 00 00 00"), -1, ErrFrameTooLarge},
	{"invalid byte", h("00 00 00 01 00 ff"), DefaultMaxText, ErrNotUTF8},
	{"overlong NUL", h("00 00 00 02 00 c0 80"), DefaultMaxText, ErrNotUTF8},
	{"surrogate half", h("00 00 00 03 00 ed a0 80"), DefaultMaxText, ErrNotUTF8},
	{"cut rune", h("00 00 00 04 00 6a c3 72 67"), DefaultMaxText, ErrNotUTF8},
}

func TestEncodeFrame(t *testing.T) {
	for _, c := range wireCases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(EncodeFrame(c.text)); got != c.wire {
				t.Errorf("EncodeFrame(%q) = % x, want % x", c.text, got, c.wire)
			}

			prefix := []byte("prefix")
			if got := string(AppendFrame(prefix, c.text)); got != "prefix"+c.wire {
				t.Errorf("AppendFrame = % x, want prefix + % x", got, c.wire)
			}

			// One Write call, so a frame is never split by the writer.
			var w countingWriter
			if err := WriteFrame(&w, c.text); err != nil {
				t.Fatalf("WriteFrame: %v", err)
			}
			if w.calls != 1 || w.buf.String() != c.wire {
				t.Errorf("WriteFrame made %d writes of % x, want 1 write of % x", w.calls, w.buf.String(), c.wire)
			}
		})
	}
}

func TestWriteFrameError(t *testing.T) {
	boom := errors.New("boom")
	err := WriteFrame(failingWriter{boom}, "hello")
	if !errors.Is(err, boom) {
		t.Fatalf("WriteFrame error = %v, want it to wrap %v", err, boom)
	}
}

func TestReadFrame(t *testing.T) {
	for _, c := range wireCases {
		t.Run(c.name, func(t *testing.T) {
			readers := map[string]func(io.Reader) io.Reader{
				"whole":      func(r io.Reader) io.Reader { return r },
				"one byte":   iotest.OneByteReader,
				"half":       iotest.HalfReader,
				"random cut": func(r io.Reader) io.Reader { return newPieceReader(r, 1) },
			}
			for name, wrap := range readers {
				// A byte after the frame must stay unread: the stream
				// that follows a handshake belongs to the caller.
				r := bytes.NewReader([]byte(c.wire + "X"))
				got, err := ReadFrame(wrap(r), DefaultMaxText)
				if err != nil {
					t.Fatalf("%s: ReadFrame: %v", name, err)
				}
				if got != c.text {
					t.Errorf("%s: ReadFrame = %q, want %q", name, got, c.text)
				}
				if r.Len() != 1 {
					t.Errorf("%s: ReadFrame left %d bytes unread, want 1", name, r.Len())
				}
			}

			// The last bytes may arrive together with io.EOF.
			got, err := ReadFrame(iotest.DataErrReader(strings.NewReader(c.wire)), DefaultMaxText)
			if err != nil || got != c.text {
				t.Errorf("data with EOF: ReadFrame = %q, %v; want %q", got, err, c.text)
			}
		})
	}
}

// TestReadFrameStream reads every known frame back to back from one stream
// cut at random places, as TCP may deliver it.
func TestReadFrameStream(t *testing.T) {
	var stream strings.Builder
	for _, c := range wireCases {
		stream.WriteString(c.wire)
	}
	for seed := range uint64(20) {
		r := newPieceReader(strings.NewReader(stream.String()), seed)
		for _, c := range wireCases {
			got, err := ReadFrame(r, DefaultMaxText)
			if err != nil || got != c.text {
				t.Fatalf("seed %d, frame %s: got %q, %v; want %q", seed, c.name, got, err, c.text)
			}
		}
		if _, err := ReadFrame(r, DefaultMaxText); !errors.Is(err, io.EOF) {
			t.Fatalf("seed %d: read after last frame: %v, want io.EOF", seed, err)
		}
	}
}

func TestReadFrameErrors(t *testing.T) {
	for _, c := range badFrameCases {
		t.Run(c.name, func(t *testing.T) {
			for name, r := range map[string]io.Reader{
				"whole":    strings.NewReader(c.wire),
				"one byte": iotest.OneByteReader(strings.NewReader(c.wire)),
			} {
				got, err := ReadFrame(r, c.max)
				if !errors.Is(err, c.err) {
					t.Errorf("%s: ReadFrame(% x, %d) = %q, %v; want error wrapping %v", name, c.wire, c.max, got, err, c.err)
				}
				if got != "" {
					t.Errorf("%s: ReadFrame returned text %q with an error", name, got)
				}
			}
		})
	}
}

func TestReadFrameReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader(h("00 00 00 05 00 68")), iotest.ErrReader(boom))
	if _, err := ReadFrame(r, DefaultMaxText); !errors.Is(err, boom) {
		t.Fatalf("ReadFrame error = %v, want it to wrap %v", err, boom)
	}
}

// TestReadFrameLimitBoundary accepts a frame of exactly max bytes and
// rejects one byte more.
func TestReadFrameLimitBoundary(t *testing.T) {
	for _, max := range []int{0, 1, 100, DefaultMaxText} {
		text := strings.Repeat("a", max)
		if got, err := ReadFrame(bytes.NewReader(EncodeFrame(text)), max); err != nil || got != text {
			t.Errorf("max %d: frame of %d bytes: got %d bytes, %v; want it accepted", max, len(text), len(got), err)
		}
		text += "a"
		if _, err := ReadFrame(bytes.NewReader(EncodeFrame(text)), max); !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("max %d: frame of %d bytes: %v, want ErrFrameTooLarge", max, len(text), err)
		}
	}
}

// TestReadFrameTooLargeBeforeRead proves a huge length is rejected from the
// header alone: the reader panics if ReadFrame asks for any byte past it.
func TestReadFrameTooLargeBeforeRead(t *testing.T) {
	hdr := h("ff ff ff fe 00")
	r := &headerOnlyReader{hdr: []byte(hdr)}
	if _, err := ReadFrame(r, DefaultMaxText); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("ReadFrame = %v, want ErrFrameTooLarge", err)
	}
}

// TestReadFrameTooLargeNoAllocation proves the length is checked before the
// text buffer is allocated: a frame announcing one byte over a 16 MiB limit
// must cost far less than 16 MiB of heap.
func TestReadFrameTooLargeNoAllocation(t *testing.T) {
	hdr := []byte(h("01 00 00 01 00")) // announces MaxTextLimit + 1
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := ReadFrame(bytes.NewReader(hdr), MaxTextLimit); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("ReadFrame = %v, want ErrFrameTooLarge", err)
		}
	}
	runtime.ReadMemStats(&after)
	if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 64<<10 {
		t.Fatalf("rejecting a too-large frame allocated %d bytes per call", perRun)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		hdr  string
		max  int
		want int
		err  error
	}{
		{"00 00 00 00 00", 0, 0, nil},
		{"00 00 00 05 00", 5, 5, nil},
		{"00 01 00 00 00", DefaultMaxText, DefaultMaxText, nil},
		{"01 00 00 00 00", MaxTextLimit, MaxTextLimit, nil},
		{"00 00 00 06 00", 5, 0, ErrFrameTooLarge},
		{"ff ff ff ff 00", MaxTextLimit, 0, ErrFrameTooLarge},
		{"00 00 00 00 00", -1, 0, ErrFrameTooLarge},
		{"00 00 00 00 01", 5, 0, ErrBadFrame},
		{"00 00 00 00 ff", 5, 0, ErrBadFrame},
	}
	for _, tt := range tests {
		var hdr [HeaderSize]byte
		copy(hdr[:], h(tt.hdr))
		got, err := ParseHeader(hdr, tt.max)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("ParseHeader(% x, %d) = %d, %v; want %d, %v", hdr, tt.max, got, err, tt.want, tt.err)
		}
	}
}

// countingWriter records what was written and in how many calls.
type countingWriter struct {
	buf   bytes.Buffer
	calls int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.buf.Write(p)
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// headerOnlyReader serves a header and panics if asked for more: reading
// past the header of a rejected frame is the bug it catches.
type headerOnlyReader struct{ hdr []byte }

func (r *headerOnlyReader) Read(p []byte) (int, error) {
	if len(r.hdr) == 0 {
		panic("ReadFrame read past the header of a frame it should have rejected")
	}
	n := copy(p, r.hdr)
	r.hdr = r.hdr[n:]
	return n, nil
}

// pieceReader returns the underlying bytes in pieces of random size (at
// least one byte), deterministically for a given seed.
type pieceReader struct {
	r   io.Reader
	rng *rand.Rand
}

func newPieceReader(r io.Reader, seed uint64) *pieceReader {
	return &pieceReader{r: r, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (p *pieceReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	return p.r.Read(b[:1+p.rng.IntN(min(len(b), 7))])
}
