package protocol

import (
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"
)

const (
	// HeaderSize is the size of a frame header: a 4-byte big-endian length
	// followed by one 0x00 byte.
	HeaderSize = 5
	// DefaultMaxText is the default limit on a frame's text, in bytes.
	DefaultMaxText = 64 << 10
	// MaxTextLimit is the largest limit a server may configure. A plain
	// handshake therefore always starts with 0x00 (its length is below
	// 16 MiB), which is what lets TLS and plain clients share a port.
	MaxTextLimit = 1 << 24
	// headerMarker is the byte that follows the length.
	headerMarker = 0x00
)

// AppendFrame appends the frame carrying text to dst and returns it.
func AppendFrame(dst []byte, text string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(text)))
	dst = append(dst, headerMarker)
	return append(dst, text...)
}

// EncodeFrame returns the frame carrying text.
func EncodeFrame(text string) []byte {
	return AppendFrame(make([]byte, 0, HeaderSize+len(text)), text)
}

// WriteFrame writes the frame carrying text to w in one Write call.
func WriteFrame(w io.Writer, text string) error {
	if _, err := w.Write(EncodeFrame(text)); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// ParseHeader checks a frame header and returns the text length it announces.
// The length is checked against max before the caller allocates anything. A
// negative max accepts nothing (converted to uint64 it would accept anything).
func ParseHeader(hdr [HeaderSize]byte, max int) (int, error) {
	n := binary.BigEndian.Uint32(hdr[:4])
	if hdr[4] != headerMarker {
		return 0, fmt.Errorf("%w: byte 5 is 0x%02x, want 0x00", ErrBadFrame, hdr[4])
	}
	if max < 0 || uint64(n) > uint64(max) {
		return 0, fmt.Errorf("%w: %d bytes announced, limit is %d", ErrFrameTooLarge, n, max)
	}
	return int(n), nil
}

// ReadFrame reads one frame from r and returns its text. It rejects a length
// above max before allocating, and text that is not valid UTF-8. An
// io.ErrUnexpectedEOF means the peer closed in the middle of the frame.
func ReadFrame(r io.Reader, max int) (string, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", fmt.Errorf("read frame header: %w", err)
	}
	n, err := ParseHeader(hdr, max)
	if err != nil {
		return "", err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("read frame text (%d bytes): %w", n, err)
	}
	if !utf8.Valid(buf) {
		return "", ErrNotUTF8
	}
	return string(buf), nil
}
