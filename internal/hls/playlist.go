package hls

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Segment is one finished media segment. It never changes once made.
type Segment struct {
	// Name is the segment's file name in URLs: RUN-SEQ.ts, where RUN
	// names the segmenter run, so that a name is never reused for other
	// bytes (an HTTP cache may keep it forever).
	Name     string
	Seq      uint64
	Data     []byte
	Duration time.Duration
	// Time is the wall-clock arrival of its first byte
	// (EXT-X-PROGRAM-DATE-TIME).
	Time time.Time
	// Disc is set when a discontinuity (a broadcaster change, lost bytes)
	// comes before it; DiscSeq counts those up to and including it.
	Disc    bool
	DiscSeq uint64
	// Created is when it was finished; signed URLs expire from then.
	Created time.Time
	// ETag is a strong entity tag for its bytes.
	ETag string
	// Clock is where Duration came from: "pts", "sps" or "arrival".
	Clock string
	// Protected is set when the channel had a password when its
	// segmenter started: its URLs must be signed.
	Protected bool
}

// Playlist is a snapshot of a channel's live window.
type Playlist struct {
	Segments []*Segment
	// Target is EXT-X-TARGETDURATION in seconds: the longest segment of
	// the run so far, rounded up (so it does not change while the GOP
	// stays the same).
	Target int
}

// Render writes the live playlist; uri returns each segment's URI.
func (p *Playlist) Render(uri func(*Segment) string) string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n")
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", p.Target)
	if len(p.Segments) > 0 {
		first := p.Segments[0]
		disc := first.DiscSeq
		if first.Disc {
			disc-- // its own tag is still in the playlist
		}
		fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", first.Seq)
		fmt.Fprintf(&b, "#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", disc)
	}
	for _, s := range p.Segments {
		if s.Disc {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", s.Duration.Seconds(), uri(s))
	}
	return b.String()
}

// targetSeconds is d rounded up to whole seconds, at least 1.
func targetSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// segmentName is the file name of segment seq of run.
func segmentName(run string, seq uint64) string {
	return run + "-" + strconv.FormatUint(seq, 10) + ".ts"
}

// ParseName splits a segment file name into its run and sequence number;
// it fails with ErrBadName for anything segmentName does not make.
func ParseName(name string) (run string, seq uint64, err error) {
	base, ok := strings.CutSuffix(name, ".ts")
	if !ok {
		return "", 0, ErrBadName
	}
	run, num, ok := strings.Cut(base, "-")
	if !ok || len(run) != runLen || strings.Trim(run, "0123456789abcdef") != "" {
		return "", 0, ErrBadName
	}
	if num == "" || num[0] == '+' || (len(num) > 1 && num[0] == '0') {
		return "", 0, ErrBadName
	}
	seq, err = strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, ErrBadName
	}
	return run, seq, nil
}

// runLen is the length of a run name: 8 hex digits.
const runLen = 8
