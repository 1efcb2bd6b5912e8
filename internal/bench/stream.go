package bench

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// kind is what a watcher does with its stream.
type kind uint8

const (
	regular kind = iota // reads as fast as it can
	stalled             // never reads
	slow                // reads at Options.SlowRate
)

// errPeerGone is the eviction reason of a stalled watcher, which learns
// of it from the kernel rather than from a read.
var errPeerGone = errors.New("closed by the server")

// source is one writer of records: a broadcaster, or a baseline stream's
// writing end.
type source struct {
	slot
	stream uint32
	bytes  atomic.Int64 // written so far
	// Snapshots of bytes, taken by the runner.
	winStart, winEnd int64
}

// sink is one reader of records: a watcher, or a baseline stream's reading
// end. Its goroutine owns v and the fields below it.
type sink struct {
	slot
	kind    kind
	stream  uint32 // the channel (relay) or stream (baseline) it reads
	index   int    // within its channel, for messages
	bytes   atomic.Int64
	gaps    atomic.Int64 // copies of v's counts for the progress line
	corrupt atomic.Int64
	evicted atomic.Bool
	// Snapshots of bytes, taken by the runner.
	winStart, winEnd int64

	v            verifier
	connectedAt  time.Time
	evictedAfter time.Duration
	evictErr     error
}

// write sends records on c until the run stops sending or c fails. The
// records due at once, up to Options.Batch bytes, go out in one write.
func (r *runner) write(s *source, c net.Conn) {
	p := newPacer(r.o.Rate)
	defer p.stop()
	size, most := r.o.Size, r.o.perWrite()
	w := newRecordWriter(c, r.pool, size, most)
	for seq := uint64(0); ; {
		if !p.wait(size, r.stopSendCh) || r.sendStopped.Load() {
			return
		}
		n := 1
		for n < most && p.ready(size) {
			n++
		}
		written, err := w.write(s.stream, seq, n)
		seq += uint64(n)
		s.bytes.Add(written)
		if err != nil {
			if !r.sendStopped.Load() && r.ctx.Err() == nil {
				r.fail(fmt.Errorf("%s: %w", r.sourceName(s), err))
			}
			return
		}
	}
}

// sourceName names s in messages.
func (r *runner) sourceName(s *source) string {
	if r.o.Baseline {
		return fmt.Sprintf("baseline stream %d", s.stream)
	}
	return "broadcaster of " + channelName(int(s.stream))
}

// read verifies what arrives on c until c ends. A slow sink paces its
// reads with a small buffer.
func (r *runner) read(s *sink, c net.Conn) {
	size := r.bufSize
	var p *pacer
	if s.kind == slow {
		// About 20 ms of its rate per read.
		size = int(min(max(r.o.SlowRate/50, 1), int64(size)))
		p = newPacer(r.o.SlowRate)
		defer p.stop()
	}
	buf := make([]byte, size)
	v := &s.v
	var gaps, corrupt int64
	for {
		n, err := c.Read(buf)
		if n > 0 {
			now := time.Now().UnixNano()
			s.bytes.Add(int64(n))
			v.feed(buf[:n], now, r.measuring.Load())
			if v.gaps != gaps {
				gaps = v.gaps
				s.gaps.Store(gaps)
			}
			if v.corrupt != corrupt {
				corrupt = v.corrupt
				s.corrupt.Store(corrupt)
			}
			if p != nil && !p.wait(n, r.endWatchCh) {
				return
			}
		}
		if err != nil {
			r.evict(s, err)
			return
		}
	}
}

// stall holds c without reading until the run ends, asking the kernel now
// and then whether the server has dropped it.
func (r *runner) stall(s *sink, c net.Conn) {
	t := time.NewTicker(stallPoll)
	defer t.Stop()
	for {
		select {
		case <-r.endWatchCh:
			return
		case <-t.C:
			if peerGone(c) {
				r.evict(s, errPeerGone)
				return
			}
		}
	}
}

// evict records that the server closed s, unless the bench is closing it.
func (r *runner) evict(s *sink, err error) {
	if r.ending.Load() {
		return
	}
	s.evictedAfter = time.Since(s.connectedAt)
	s.evictErr = err
	s.evicted.Store(true)
}
