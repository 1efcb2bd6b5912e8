package record

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

const (
	// chunkLimit bounds the bytes taken from the hub per batch.
	chunkLimit = 256 << 10
	// queueItems bounds the batches queued for the disk writer (besides
	// Config.Buffer bytes).
	queueItems = 4096
)

// item is one batch for the disk writer: a copy of the bytes, when they
// arrived, and whether they start a new subscription (after a gap) or a new
// broadcaster's stream, which starts a new file.
type item struct {
	data  []byte
	at    time.Time
	fresh bool
}

// recording records one live channel: a hub subscriber goroutine (read)
// that copies every batch into a bounded queue and never waits for the
// disk, and a disk writer goroutine (write) that owns the files.
type recording struct {
	r      *Recorder
	key    hub.Key
	st     *chanStats
	queue  chan item
	queued atomic.Int64  // bytes in queue
	space  chan struct{} // signalled when the writer brought queued below half the buffer
}

// run records until the channel ends or the recorder closes. It is the
// subscriber goroutine; it starts and waits for the writer.
func (rec *recording) run(ctx context.Context) {
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		rec.write()
	}()
	defer func() {
		close(rec.queue)
		<-wrote
	}()
	join := hub.JoinGOP // the latest keyframe: the recording starts with a picture
	for {
		sub, err := rec.r.hub.Subscribe(rec.key, hub.SubscribeOptions{
			Join: join, Via: "record", Remote: "recorder", SkipPassword: true, Internal: true,
		})
		if err != nil {
			rec.r.log.Debug("recording not started", "user", rec.key.User, "channel", rec.key.Channel, "err", err)
			return
		}
		stop := context.AfterFunc(ctx, sub.Close)
		gap := rec.pump(sub)
		stop()
		sub.Close()
		if !gap || !rec.waitSpace(ctx) {
			return
		}
		// The bytes in between are gone: start again at the next keyframe
		// (a generic stream at the next byte), in a new file.
		join = hub.JoinKeyframe
	}
}

// pump copies the subscription's batches to the queue until the
// subscription ends (false) or the queue is full (true: a gap).
func (rec *recording) pump(sub *hub.Subscription) (gap bool) {
	var iov [3][]byte
	written := 0
	fresh := true
	var stream uint64 // the broadcaster stream of the last batch
	limit := int64(rec.r.cfg.Buffer)
	for {
		bufs, _, err := sub.DoneNext(written, iov[:0], chunkLimit)
		written = 0
		if errors.Is(err, hub.ErrIdle) {
			continue
		}
		if err != nil {
			return false
		}
		if s := sub.Stream(); s != stream {
			// A new broadcaster (a takeover or a return within the grace
			// period): its stream starts at a join point, in a new file.
			fresh = fresh || stream != 0
			stream = s
		}
		n := 0
		for _, b := range bufs {
			n += len(b)
		}
		if rec.queued.Load()+int64(n) > limit || len(rec.queue) == cap(rec.queue) {
			rec.st.gaps.Add(1)
			rec.r.log.Warn("recording gap: the disk is too slow, bytes are dropped up to the next keyframe, in a new file",
				"user", rec.key.User, "channel", rec.key.Channel, "queued", rec.queued.Load())
			return true
		}
		data := make([]byte, 0, n)
		for _, b := range bufs {
			data = append(data, b...)
		}
		rec.queued.Add(int64(n))
		rec.st.received.Add(int64(n))
		// Never blocks: only this goroutine sends, and the queue has room.
		rec.queue <- item{data: data, at: rec.r.clock.Now(), fresh: fresh}
		fresh = false
		written = n
	}
}

// waitSpace waits until the writer has caught up to half the buffer; false
// if ctx ended first.
func (rec *recording) waitSpace(ctx context.Context) bool {
	for rec.queued.Load() > int64(rec.r.cfg.Buffer/2) {
		select {
		case <-rec.space:
		case <-ctx.Done():
			return false
		}
	}
	return ctx.Err() == nil
}

// write is the disk writer: it feeds the queued batches to the segmenter
// until the queue is closed, then finishes the file.
func (rec *recording) write() {
	cfg := rec.r.cfg
	seg := &segmenter{
		dir:     joinDir(cfg.Dir, rec.key),
		segment: cfg.Segment,
		log:     cfg.Logger.With("user", rec.key.User, "channel", rec.key.Channel),
		st:      rec.st,
		onDone:  rec.r.kickPrune,
		minWait: cfg.RetryMin,
		maxWait: cfg.RetryMax,
	}
	seg.testHookWrite = cfg.testHookWrite
	half := int64(cfg.Buffer / 2)
	for it := range rec.queue {
		if rec.queued.Add(-int64(len(it.data))) <= half {
			select {
			case rec.space <- struct{}{}:
			default:
			}
		}
		if it.fresh {
			seg.restart()
		}
		seg.add(it.data, it.at)
	}
	seg.finish()
	if !seg.stopped {
		rec.st.state.Store(int32(StateIdle))
	}
}
