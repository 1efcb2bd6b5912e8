package hls

import (
	"errors"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/media"
)

// readLimit is the most ring bytes the segmenter takes per Next.
const readLimit = 256 << 10

// channel is one channel's segmenter run and its segments. Fields below
// the line are guarded by Manager.mu.
type channel struct {
	m   *Manager
	key hub.Key
	run string
	sub *hub.Subscription
	seg *Segmenter // used by the run goroutine only
	// protected: the channel had a password when the run started.
	protected bool

	stopped chan struct{} // closed when the run goroutine returned

	// Under Manager.mu:
	segs    []*Segment
	bytes   int64
	seq     uint64
	discs   uint64
	target  int
	lastUse time.Time
	changed chan struct{} // closed and replaced at each new segment
	err     error         // why the run ended; nil while it runs
}

func newChannel(m *Manager, key hub.Key, sub *hub.Subscription) *channel {
	c := &channel{m: m, key: key, run: newRun(), sub: sub,
		stopped: make(chan struct{}), changed: make(chan struct{})}
	c.seg = NewSegmenter(m.cfg, c.put)
	return c
}

// loop feeds the subscription's bytes to the segmenter until it ends.
func (c *channel) loop() {
	defer c.m.wg.Done()
	defer close(c.stopped)
	var bufs [][]byte
	written := 0
	var err error
	var stream uint64 // the broadcaster stream being cut
	for {
		bufs, _, err = c.sub.DoneNext(written, bufs, readLimit)
		if errors.Is(err, hub.ErrIdle) {
			written = 0
			continue
		}
		if err != nil {
			break
		}
		now := c.m.now()
		written = 0
		if st := c.sub.Stream(); st != stream {
			if stream != 0 {
				// A takeover or reconnect: the new stream starts at a
				// join point; players must reset their decoders.
				c.seg.Discontinuity(now)
			}
			stream = st
		}
		for _, b := range bufs {
			c.seg.Write(b, now)
			written += len(b)
		}
		if f := c.seg.Format(); f != media.FormatUnknown && !f.IsMedia() {
			err = ErrNotMedia
			break
		}
	}
	c.sub.Close()
	c.seg.Flush(c.m.now())
	c.m.mu.Lock()
	c.err = err
	c.m.mu.Unlock()
	c.m.log.Info("hls segmenter ended", "user", c.key.User, "channel", c.key.Channel, "run", c.run, "err", err)
}

// stop ends the run and waits for its goroutine.
func (c *channel) stop() {
	c.sub.Close()
	<-c.stopped
}

// put stores a finished segment and applies the bounds (the run goroutine
// calls it through the Segmenter).
func (c *channel) put(ct cut) {
	m := c.m
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chans[c.key] != c {
		return // stopped meanwhile
	}
	if ct.Disc {
		c.discs++
	}
	name := segmentName(c.run, c.seq)
	s := &Segment{Name: name, Seq: c.seq, Data: ct.Data, Duration: ct.Duration, Time: ct.Start,
		Disc: ct.Disc, DiscSeq: c.discs, Created: now, ETag: etag(name), Clock: ct.Clock, Protected: c.protected}
	c.seq++
	c.target = max(c.target, targetSeconds(s.Duration))
	c.segs = append(c.segs, s)
	c.bytes += int64(len(s.Data))
	m.total += int64(len(s.Data))
	for len(c.segs) > 1 && (len(c.segs) > m.cfg.MaxSegments || c.bytes > m.cfg.MaxChannelBytes) {
		c.evictLocked()
	}
	for m.total > m.cfg.MaxTotalBytes {
		oldest := c
		for _, o := range m.chans {
			if len(o.segs) > 0 && o.segs[0].Created.Before(oldest.segs[0].Created) {
				oldest = o
			}
		}
		if len(oldest.segs) == 0 {
			break
		}
		oldest.evictLocked()
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// evictLocked drops the oldest segment. Expects Manager.mu.
func (c *channel) evictLocked() {
	s := c.segs[0]
	c.segs[0] = nil
	c.segs = c.segs[1:]
	c.bytes -= int64(len(s.Data))
	c.m.total -= int64(len(s.Data))
	c.m.evicted.Add(1)
}

// playlistLocked snapshots the newest window segments. Expects Manager.mu.
func (c *channel) playlistLocked(window int) *Playlist {
	segs := c.segs[max(0, len(c.segs)-window):]
	return &Playlist{Segments: append([]*Segment(nil), segs...), Target: c.target}
}
