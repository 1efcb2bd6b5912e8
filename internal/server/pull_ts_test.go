package server

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// pieces reads b in the sizes given, repeating the last, then fails with
// err (io.EOF for a clean end).
type pieces struct {
	b     []byte
	sizes []int
	err   error
}

func (p *pieces) Read(out []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, p.err
	}
	n := p.sizes[0]
	if len(p.sizes) > 1 {
		p.sizes = p.sizes[1:]
	}
	n = copy(out[:min(len(out), n)], p.b)
	p.b = p.b[n:]
	return n, nil
}

func tsPackets(n int) []byte {
	b := make([]byte, n*tsPacketSize)
	for i := range b {
		b[i] = byte(i*7 + i/tsPacketSize)
	}
	for i := 0; i < len(b); i += tsPacketSize {
		b[i] = tsSyncByte
	}
	return b
}

func TestTSAligner(t *testing.T) {
	ts := tsPackets(700) // more than the aligner's buffer
	generic := append([]byte("not ts"), ts...)
	almost := append(append([]byte{}, ts[:3*tsPacketSize]...), generic...) // "G" at 0, 188, 376, then not
	lost := append(append([]byte{}, ts[:10*tsPacketSize]...), generic...)  // TS, then a packet without sync
	cut := errors.New("cut")
	tests := []struct {
		name  string
		in    []byte
		sizes []int
		err   error
		out   int // bytes passed on
	}{
		{"ts, whole packets", ts, []int{tsPacketSize * 3}, io.EOF, len(ts)},
		{"ts, torn tail dropped", ts[:len(ts)-100], []int{1000}, cut, len(ts) - tsPacketSize},
		{"ts, byte by byte, torn tail dropped", ts[:5*tsPacketSize+1], []int{1}, io.EOF, 5 * tsPacketSize},
		{"ts, odd pieces", ts[:len(ts)-1], []int{7, 1, 500, 65535, 3}, cut, len(ts) - tsPacketSize},
		{"too short to tell passes whole", ts[:100], []int{50}, io.EOF, 100},
		{"four packets pass whole", ts[:4*tsPacketSize+7], []int{tsPacketSize}, cut, 4*tsPacketSize + 7},
		{"sync bytes, then not: generic", almost[:len(almost)-3], []int{100}, cut, len(almost) - 3},
		{"ts, then a packet without sync: generic", lost[:len(lost)-3], []int{1000}, io.EOF, len(lost) - 3},
		{"generic passes whole", generic[:len(generic)-5], []int{333}, cut, len(generic) - 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTSAligner(&pieces{b: tt.in, sizes: tt.sizes, err: tt.err})
			var got bytes.Buffer
			_, err := got.ReadFrom(iotest.OneByteReader(a))
			// ReadFrom turns io.EOF into a nil error; any other error comes through.
			wantEOF := errors.Is(tt.err, io.EOF)
			if !wantEOF && !errors.Is(err, tt.err) || wantEOF && err != nil {
				t.Errorf("error %v, want %v", err, tt.err)
			}
			if got.Len() != tt.out || !bytes.Equal(got.Bytes(), tt.in[:tt.out]) {
				t.Errorf("passed on %d bytes, want the first %d", got.Len(), tt.out)
			}
		})
	}
}
