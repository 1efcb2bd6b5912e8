package protocol

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
)

// FuzzReadFrame feeds arbitrary bytes and limits to ReadFrame. Extra seeds
// live in testdata/fuzz/FuzzReadFrame.
func FuzzReadFrame(f *testing.F) {
	for _, c := range wireCases {
		f.Add([]byte(c.wire), uint16(len(c.text)))
		f.Add([]byte(c.wire), uint16(1024))
	}
	for _, c := range badFrameCases {
		f.Add([]byte(c.wire), uint16(max(c.max, 0)&0xffff))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		max := int(limit)
		text, err := ReadFrame(bytes.NewReader(data), max)

		// The same bytes delivered one at a time give the same answer.
		text1, err1 := ReadFrame(iotest.OneByteReader(bytes.NewReader(data)), max)
		if text1 != text || (err == nil) != (err1 == nil) || !errors.Is(errClass(err), errClass(err1)) {
			t.Fatalf("whole read: %q, %v; one byte at a time: %q, %v", text, err, text1, err1)
		}

		if err != nil {
			if errClass(err) == nil {
				t.Fatalf("ReadFrame error %v wraps none of the documented errors", err)
			}
			if text != "" {
				t.Fatalf("ReadFrame returned text %q with error %v", text, err)
			}
			return
		}
		if len(text) > max {
			t.Fatalf("ReadFrame accepted %d bytes with limit %d", len(text), max)
		}
		if enc := EncodeFrame(text); !bytes.HasPrefix(data, enc) {
			t.Fatalf("accepted text %q re-encodes to % x, which does not prefix the input % x", text, enc, data)
		}
	})
}

// errClass returns the documented error that err wraps, or nil.
func errClass(err error) error {
	for _, e := range []error{ErrFrameTooLarge, ErrBadFrame, ErrNotUTF8, io.ErrUnexpectedEOF, io.EOF} {
		if errors.Is(err, e) {
			return e
		}
	}
	return nil
}

// FuzzParseRequest checks that ParseRequest never panics, accepts only
// valid requests, and that what it accepts survives Text and back.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		req, err := ParseRequest(text)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrBadName) && !errors.Is(err, ErrNotUTF8) {
				t.Fatalf("ParseRequest(%q) error %v wraps none of ErrBadRequest, ErrBadName, ErrNotUTF8", text, err)
			}
			return
		}
		if req.Command != CommandWatch && req.Command != CommandBroadcast {
			t.Fatalf("ParseRequest(%q) accepted command %q", text, req.Command)
		}
		if err := ValidateName(req.User); err != nil {
			t.Fatalf("ParseRequest(%q) accepted user %q: %v", text, req.User, err)
		}
		if err := ValidateName(req.Channel); err != nil {
			t.Fatalf("ParseRequest(%q) accepted channel %q: %v", text, req.Channel, err)
		}
		if req.Delay < 0 || req.Delay > MaxDelay {
			t.Fatalf("ParseRequest(%q) accepted delay %v", text, req.Delay)
		}

		enc, err := req.Text()
		if err != nil {
			return // e.g. an empty key, which Text cannot carry
		}
		back, err := ParseRequest(enc)
		if err != nil {
			t.Fatalf("ParseRequest(%q) (re-encoded from %q): %v", enc, text, err)
		}
		if !sameRequest(req, back) {
			t.Fatalf("round trip of %q through %q:\n got %#v\nwant %#v", text, enc, back, req)
		}
	})
}

// FuzzParseStatus checks that ParseStatus never panics and that what it
// accepts re-encodes to a text that parses to the same status.
func FuzzParseStatus(f *testing.F) {
	for _, s := range statusSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseStatus(text)
		if err != nil {
			if !errors.Is(err, ErrBadStatus) {
				t.Fatalf("ParseStatus(%q) error %v does not wrap ErrBadStatus", text, err)
			}
			return
		}
		if s.OK && (s.Reason != "" || s.Message != "" || (text != "ok" && len(s.Params) == 0)) {
			t.Fatalf("ParseStatus(%q) = %+v", text, s)
		}
		if s.Waiting && (s.OK || s.Reason != "") {
			t.Fatalf("ParseStatus(%q) = %+v", text, s)
		}
		if !s.OK && !s.Waiting && s.Reason == "" {
			t.Fatalf("ParseStatus(%q) accepted an error without a reason", text)
		}
		back, err := ParseStatus(s.Text())
		if err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("ParseStatus(%q) = %+v; its Text %q parses to %+v, %v", text, s, s.Text(), back, err)
		}
	})
}

// Durations that survive formatDelay and ParseDelay unchanged matter for
// the request round trip; check a spread of them directly.
func TestDelayRoundTrip(t *testing.T) {
	for d := time.Duration(0); d <= MaxDelay; d += 7777777 {
		got, err := ParseDelay(formatDelay(d))
		if err != nil || got != d {
			t.Fatalf("ParseDelay(formatDelay(%d)) = %d, %v", d, got, err)
		}
	}
}

// FuzzAckRequested: the scan of a handshake that could not be parsed never
// panics, and agrees with ParseRequest on text that parses.
func FuzzAckRequested(f *testing.F) {
	for _, s := range []string{"watch,ack=1,user=x", "watch,user=x,ack=0", "broadcast,ack=1", ",", "", "ack=1", "watch,ack=1,pad=xx"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, text string, truncated bool) {
		got := AckRequested([]byte(text), truncated)
		if req, err := ParseRequest(text); err == nil && !truncated && got != req.Ack {
			t.Fatalf("AckRequested(%q) = %v, ParseRequest says ack=%v", text, got, req.Ack)
		}
	})
}
