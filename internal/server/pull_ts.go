package server

import "io"

// MPEG-TS framing, as the pull sees it.
const (
	tsPacketSize = 188
	tsSyncByte   = 0x47
	// tsAlignBuf is the aligner's buffer: a few reads' worth of packets.
	tsAlignBuf = 348 * tsPacketSize // 64 KiB
	// tsDetect is how many sync bytes 188 bytes apart make a stream TS to
	// the aligner, as to format detection (internal/media).
	tsDetect = 5
)

// tsAligner feeds the local hub from one upstream connection so that an
// MPEG-TS stream ends with a whole packet. An upstream can end anywhere:
// cut by a takeover, by its node's death, or by a repick. The next
// upstream's stream starts at a keyframe with PAT and PMT (the pull joins
// with join=gop), and the hub appends it to what the local watchers have:
// a torn packet there would be a decoder's error at every switch. So the
// aligner lets through only the whole packets it has read, and drops the
// torn tail when the upstream ends. A stream is TS to it when it starts
// with tsDetect sync bytes 188 bytes apart (join=gop starts TS at a
// packet); anything else, or a packet without its sync byte later, and
// every byte passes as it comes, to the last.
type tsAligner struct {
	r   io.Reader
	buf []byte // buf[start:end] is read and not yet passed on
	// start, end index buf; whole counts the bytes of buf[start:end] that
	// belong to whole packets and may be passed on.
	start, end, whole int
	decided, ts       bool
	err               error // the upstream's error, returned once buf has no whole packet left
}

func newTSAligner(r io.Reader) *tsAligner { return &tsAligner{r: r} }

func (a *tsAligner) Read(p []byte) (int, error) {
	if a.decided && !a.ts && a.start == a.end && a.err == nil {
		return a.r.Read(p)
	}
	for a.whole == 0 {
		if a.err != nil {
			return 0, a.err // the torn tail, if any, stays here
		}
		a.fill()
	}
	n := copy(p, a.buf[a.start:a.start+a.whole])
	a.start += n
	a.whole -= n
	return n, nil
}

// fill reads once from the upstream after what is buffered.
func (a *tsAligner) fill() {
	if a.buf == nil {
		a.buf = make([]byte, tsAlignBuf)
	}
	// Less than a packet is left: move it to the front.
	a.end = copy(a.buf, a.buf[a.start:a.end])
	a.start = 0
	n, err := a.r.Read(a.buf[a.end:])
	a.end += n
	a.err = err
	if !a.decided {
		a.detect()
	}
	if a.decided && a.ts {
		a.whole = a.end / tsPacketSize * tsPacketSize
		for i := 0; i < a.whole; i += tsPacketSize {
			if a.buf[i] != tsSyncByte {
				a.ts = false // not TS after all: pass everything
				break
			}
		}
	}
	switch {
	case a.decided && !a.ts:
		a.whole = a.end - a.start
	case !a.decided:
		a.whole = 0
	}
}

// detect decides whether the stream is TS from its first bytes, which are
// all in buf until it has: tsDetect packets with their sync bytes, a
// missing sync byte, or the stream's end (a stream too short to tell
// passes whole).
func (a *tsAligner) detect() {
	for i := 0; i < tsDetect && i*tsPacketSize < a.end; i++ {
		if a.buf[i*tsPacketSize] != tsSyncByte {
			a.decided = true
			return
		}
	}
	switch {
	case a.end >= tsDetect*tsPacketSize:
		a.decided, a.ts = true, true
	case a.err != nil:
		a.decided = true
	}
}
