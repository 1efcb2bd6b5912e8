package media

import "bytes"

// nalSink receives the events of a startCodeScanner, in stream order.
type nalSink interface {
	// startCode reports a start code whose final 0x01 byte is p[end].
	// nalStart is the absolute offset of its first byte, counting at most
	// one leading zero_byte (so 00 00 00 01 and 00 00 01 both work); when a
	// start code began in an earlier write, nalStart is before p.
	startCode(p []byte, end int, nalStart int64)
	// header reports the bytes that follow a start code (the NAL unit
	// header and whatever else the scanner was told to collect); next is
	// the index in p just after the last of them.
	header(h []byte, p []byte, next int)
}

// startCodeScanner finds Annex B start codes (00 00 01) in a byte stream fed
// in arbitrary pieces, and hands the few bytes after each one to its sink.
// It never copies the stream except those few header bytes.
type startCodeScanner struct {
	sink nalSink
	// need is how many bytes after each start code are collected (at most
	// len(hdr)).
	need int
	// pos is the absolute offset of the next byte to be written.
	pos int64
	// zeros counts the zero bytes at the end of what was written so far, at
	// most 3: a start code may begin in one write and end in the next.
	zeros int
	// collecting is true while fewer than need bytes have followed the last
	// start code; have counts them.
	collecting bool
	have       int
	hdr        [4]byte
}

// reset forgets any partial start code; the next byte is at pos.
func (s *startCodeScanner) reset(pos int64) {
	s.pos = pos
	s.zeros = 0
	s.collecting = false
	s.have = 0
}

// write scans p, the next bytes of the stream. It is O(len(p)) and uses
// bytes.IndexByte to jump between candidate 0x01 bytes.
func (s *startCodeScanner) write(p []byte) {
	base := s.pos
	if s.collecting {
		s.collect(p, 0)
	}
	for i := 0; i < len(p); {
		j := bytes.IndexByte(p[i:], 1)
		if j < 0 {
			break
		}
		j += i
		i = j + 1
		// Count the zeros before the 0x01, up to three, continuing into
		// the previous write when they reach the start of p. The byte
		// before the zeros cannot be the 0x01 of an earlier start code
		// being counted twice: counting stops at the first non-zero.
		z := 0
		for k := j - 1; k >= 0 && z < 3 && p[k] == 0; k-- {
			z++
		}
		if z == j {
			z = min(z+s.zeros, 3)
		}
		if z < 2 {
			continue
		}
		// A start code inside the bytes still being collected means the
		// previous NAL unit was shorter than its header: drop it.
		s.collecting = false
		s.sink.startCode(p, j, base+int64(j-z))
		s.have = 0
		s.collecting = true
		s.collect(p, j+1)
	}
	tz := 0
	for k := len(p) - 1; k >= 0 && tz < 3 && p[k] == 0; k-- {
		tz++
	}
	if tz == len(p) {
		tz = min(tz+s.zeros, 3)
	}
	s.zeros = tz
	s.pos += int64(len(p))
}

// collect takes header bytes from p[from:] and reports the header once
// complete. The bytes it takes are still scanned for start codes by write.
func (s *startCodeScanner) collect(p []byte, from int) {
	n := copy(s.hdr[s.have:s.need], p[from:])
	s.have += n
	if s.have == s.need {
		s.collecting = false
		s.sink.header(s.hdr[:s.need], p, from+n)
	}
}
