package record

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fstream/fstream/internal/media"
)

const (
	// tsPacket is an MPEG-TS packet's size: files of TS streams only ever
	// hold whole packets, so a crash leaves them readable to the last one.
	tsPacket = 188
	// maxHold bounds the bytes held back in memory while a media file waits
	// for the next keyframe to roll over at (the keyframe's PES may be
	// confirmed only a few packets after it starts).
	maxHold = 8 << 20
	// File and directory modes: recordings are the operator's, not world
	// readable.
	fileMode = 0o640
	dirMode  = 0o750
)

// segmenter writes one recording's stream into files, rolling over at the
// first keyframe after the segment duration. It is the disk writer
// goroutine's state; nothing else touches it.
//
// Every file starts at a join point: the first of a subscription where the
// hub placed the recorder (a keyframe with its PAT/PMT or parameter sets),
// a later one behind the join point's Prefix. Bytes from the tracker's
// RetainFrom on are held back in pend, so that a keyframe confirmed a few
// packets into its PES still finds its first bytes there.
type segmenter struct {
	dir     string // Dir/USER/CHANNEL
	segment time.Duration
	log     *slog.Logger
	st      *chanStats
	onDone  func() // a file was finished: time for retention

	tr      *media.Tracker
	format  media.Format
	now     time.Time // arrival time of the bytes being added: the segmenter's clock
	lastSeq uint64    // the newest join point's Seq seen
	base    int64     // stream position of pend[0]
	pend    []byte    // bytes not written yet

	f         *os.File
	path      string
	fileStart time.Time
	fileFrom  int64 // stream position of the file's first stream byte
	written   int64 // bytes in f

	stopped   bool // by a disk error: waiting for retryAt and a join point
	retryAt   time.Time
	backoff   time.Duration
	minWait   time.Duration
	maxWait   time.Duration
	stoppedAt time.Time

	testHookWrite func() // tests: called before each write (a slow disk)
}

// restart begins a new subscription's stream: whatever came before is
// finished, and the next bytes start a new file.
func (s *segmenter) restart() {
	s.finish()
	s.tr = media.NewTracker(media.TrackerConfig{})
	s.lastSeq, s.base, s.pend = 0, 0, s.pend[:0]
}

// add takes the next bytes of the stream, arrived at at.
func (s *segmenter) add(data []byte, at time.Time) {
	if s.tr == nil {
		s.restart()
	}
	s.now = at
	s.tr.Write(data, at)
	s.pend = append(s.pend, data...)
	format := s.tr.Format()
	s.format = format
	if format == media.FormatUnknown {
		return // detection is bounded by the tracker's DetectLimit
	}
	jp, isNew := s.newJoin()
	switch {
	case s.stopped:
		s.resume(format, jp, isNew, at)
	case s.f == nil:
		// A subscription's first bytes (the hub started it at a join
		// point) or a generic stream rolling over.
		s.open(format, at, nil, s.base)
	case at.Sub(s.fileStart) < s.segment:
	case !format.IsMedia():
		s.flush(format, true)
		s.closeFile()
		return
	case isNew && jp.Pos > s.fileFrom && jp.Pos >= s.base:
		s.cut(format, jp, at)
	}
	if s.f != nil {
		s.flush(format, false)
	}
}

// newJoin returns the tracker's newest join point and whether it is one
// not seen before.
func (s *segmenter) newJoin() (media.JoinPoint, bool) {
	jp, ok := s.tr.JoinPoint()
	if !ok || jp.Seq == s.lastSeq {
		return jp, false
	}
	s.lastSeq = jp.Seq
	return jp, true
}

// cut ends the current file just before the join point and starts the next
// one with it.
func (s *segmenter) cut(format media.Format, jp media.JoinPoint, at time.Time) {
	head := int(jp.Pos - s.base)
	if !s.write(format, s.pend[:head]) {
		return
	}
	s.drop(head)
	s.closeFile()
	if s.stopped {
		return // the sync failed: retry after the backoff
	}
	s.open(format, joinTime(jp, at), jp.Prefix, jp.Pos)
}

// resume tries to start a new file after a disk error once the backoff is
// over: at the next join point for media, at once for generic streams.
// Until then the stream is dropped, keeping only what a join point may
// still need.
func (s *segmenter) resume(format media.Format, jp media.JoinPoint, isNew bool, at time.Time) {
	atJoin := isNew && jp.Pos >= s.base
	if at.Before(s.retryAt) || (format.IsMedia() && !atJoin) {
		s.drop(int(min(s.tr.RetainFrom(), s.base+int64(len(s.pend))) - s.base))
		return
	}
	if !format.IsMedia() {
		jp = media.JoinPoint{Pos: s.base}
	}
	s.drop(int(jp.Pos - s.base))
	if s.open(format, joinTime(jp, at), jp.Prefix, jp.Pos) {
		s.log.Info("recording resumed", "file", s.path, "stopped_for", at.Sub(s.stoppedAt).Round(time.Millisecond))
	}
}

func joinTime(jp media.JoinPoint, at time.Time) time.Time {
	if jp.Time.IsZero() {
		return at
	}
	return jp.Time
}

// open starts a file whose first stream byte is at position from (the
// start of pend), with prefix before it, named by the time t. It reports
// whether it succeeded; on failure the recording is stopped.
func (s *segmenter) open(format media.Format, t time.Time, prefix []byte, from int64) bool {
	if err := os.MkdirAll(s.dir, dirMode); err != nil {
		s.stop(err)
		return false
	}
	var f *os.File
	var err error
	for range 100 { // two files in one millisecond: the next free name
		s.path = filepath.Join(s.dir, fileName(t, format))
		// Named as current before it exists, so that retention, which
		// lists the files before it asks which are current, never sees
		// it as a finished file.
		s.st.setFile(s.path)
		f, err = os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
		t = t.Add(time.Millisecond)
	}
	if err != nil {
		s.st.setFile("")
		s.stop(err)
		return false
	}
	s.f, s.fileStart, s.fileFrom, s.written = f, t, from, 0
	s.stopped = false
	s.backoff = 0
	s.st.state.Store(int32(StateRecording))
	s.st.files.Add(1)
	return s.write(format, prefix)
}

// flush writes what may be written of pend: for media all but the bytes a
// coming join point may start at, unless that is more than maxHold; for
// MPEG-TS whole packets only. all writes everything (before a generic
// stream's rollover).
func (s *segmenter) flush(format media.Format, all bool) {
	n := len(s.pend)
	if format.IsMedia() && !all && n <= maxHold {
		n = int(max(0, min(s.tr.RetainFrom()-s.base, int64(n))))
	}
	if format == media.FormatMPEGTS {
		n -= n % tsPacket
	}
	if n > 0 && s.write(format, s.pend[:n]) {
		s.drop(n)
	}
}

// drop forgets the first n bytes of pend.
func (s *segmenter) drop(n int) {
	if n <= 0 {
		return
	}
	s.base += int64(n)
	s.pend = s.pend[:copy(s.pend, s.pend[n:])]
}

// write appends b to the current file. On an error it keeps the file's
// whole packets, closes it and stops the recording.
func (s *segmenter) write(format media.Format, b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if s.testHookWrite != nil {
		s.testHookWrite()
	}
	n, err := s.f.Write(b)
	s.written += int64(n)
	s.st.bytes.Add(int64(n))
	if err == nil {
		return true
	}
	if format == media.FormatMPEGTS && s.written%tsPacket != 0 {
		// A short write (a full disk) left part of a packet: cut it off,
		// so the file ends with a whole one.
		s.written -= s.written % tsPacket
		_ = s.f.Truncate(s.written) // best effort: the disk is failing
	}
	_ = s.f.Close()
	s.f = nil
	s.stop(err)
	return false
}

// finish writes what is pending and closes the file: the stream ended or
// starts again.
func (s *segmenter) finish() {
	if s.f != nil {
		s.flush(s.format, true)
	}
	s.closeFile()
}

// closeFile makes the current file durable and closes it.
func (s *segmenter) closeFile() {
	if s.f == nil {
		return
	}
	f := s.f
	s.f = nil
	s.st.setFile("")
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.stop(err)
		return
	}
	s.log.Debug("recording file finished", "file", s.path, "bytes", s.written)
	if s.onDone != nil {
		s.onDone()
	}
}

// stop stops the recording after a disk error: one log line and a count,
// then a retry after a backoff that doubles up to maxWait.
func (s *segmenter) stop(err error) {
	kind := errorKind(err)
	s.st.errors[kind].Add(1)
	s.st.state.Store(int32(StateStopped))
	if s.tr != nil { // keep only what a join point may still start at
		s.drop(int(min(max(s.tr.RetainFrom()-s.base, 0), int64(len(s.pend)))))
	}
	s.backoff = min(max(2*s.backoff, s.minWait), s.maxWait)
	s.retryAt = s.now.Add(s.backoff)
	if s.stopped {
		s.log.Debug("recording still stopped", "err", err, "retry_in", s.backoff)
		return
	}
	s.stopped, s.stoppedAt = true, s.now
	s.log.Error(fmt.Sprintf("recording stopped: %s; retrying with a new file", errorKinds[kind]),
		"dir", s.dir, "err", err, "retry_in", s.backoff)
	if kind == kindDiskFull && s.onDone != nil {
		s.onDone() // retention may free space
	}
}

// Error kinds counted per channel.
const (
	kindDiskFull = iota
	kindPermission
	kindIO
	numKinds
)

var errorKinds = [numKinds]string{"disk full", "permission denied", "I/O error"}

// ErrorKindNames are the error kinds as metric labels, by kind.
var ErrorKindNames = [numKinds]string{"disk-full", "permission", "io"}

func errorKind(err error) int {
	switch {
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return kindDiskFull
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
		return kindPermission
	}
	return kindIO
}
