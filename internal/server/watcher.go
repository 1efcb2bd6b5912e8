package server

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

// Sink is where a watcher's bytes go: a TCP connection or an HTTP response.
// Writes to it come from one goroutine; SetWriteDeadline may be called from
// another to interrupt a blocked write. A Sink that is also a Prober is
// probed while nothing is written to it, so that a peer that hung up is
// let go at once.
type Sink interface {
	io.Writer
	SetWriteDeadline(t time.Time) error
}

// WatchRequest describes a watcher joining a channel, whatever its transport.
type WatchRequest struct {
	User, Channel, Password string
	// Params are the handshake's key=value pairs (join policy and other
	// extensions).
	Params map[string]string
	ConnID uint64
	Remote string
	Via    string // "tcp" or "http", for logs and status
	// FromStart: the watcher waited for the channel to go live, so it
	// starts at the stream's first byte (hub.SubscribeOptions.FromStart).
	FromStart bool
}

// ServeWatcher relays the channel to sink until the channel ends, the
// watcher is evicted, a write fails, or ctx is done. When the watcher cannot
// join it returns the hub's refusal (a *hub.JoinError: hub.ReasonOf says
// what to tell the peer) before writing anything; otherwise it calls joined
// (which may write a header) and then streams. TCP and HTTP watchers share
// this path.
func (s *Server) ServeWatcher(ctx context.Context, req WatchRequest, sink Sink, joined func() error) error {
	if req.ConnID == 0 {
		req.ConnID = s.nextID.Add(1)
	}
	err := s.serveWatcher(ctx, req, sink, joined)
	if reason, _, ok := hub.ReasonOf(err); ok {
		s.countHandshake(string(reason)) // as conn.reject counts a TCP watcher's
	}
	return err
}

func (s *Server) serveWatcher(ctx context.Context, req WatchRequest, sink Sink, joined func() error) error {
	key := hub.Key{User: req.User, Channel: req.Channel}
	done, err := s.beginWatcherPassword(req, key)
	if err != nil {
		return err
	}
	adm, err := s.admitWatcher(ctx, &req, key) // cluster.go
	if err != nil {
		done(errors.Is(err, hub.ErrWrongPassword))
		return err
	}
	defer adm.leave()
	sub, err := s.hub.Subscribe(key, hub.SubscribeOptions{
		Join:         hub.JoinPolicy(req.Params[protocol.KeyJoin]),
		Password:     req.Password,
		SkipPassword: adm.pull,
		FromStart:    req.FromStart,
		Via:          req.Via,
		ID:           req.ConnID,
		Remote:       req.Remote,
		OnEvict:      func(hub.CloseReason) { sink.SetWriteDeadline(aLongTimeAgo) },
		Direct:       s.directWriter(sink),
	})
	done(errors.Is(err, hub.ErrWrongPassword))
	if err != nil {
		return err
	}
	defer sub.Close()
	s.countHandshake(HandshakeOK)
	adm.count.Add(1)
	defer adm.count.Add(-1)
	stop := context.AfterFunc(ctx, func() {
		sub.Close()
		sink.SetWriteDeadline(aLongTimeAgo)
	})
	defer stop()

	log := s.log.With("id", req.ConnID, "remote", req.Remote, "role", "watcher", "via", req.Via, "user", req.User, "channel", req.Channel)
	if err := joined(); err != nil {
		log.Info("watcher left during handshake", "err", err)
		return err
	}
	log.Info("watcher joined")

	start := time.Now()
	n, err := pump(sub, sink)
	adm.sent(n)
	attrs := []any{"bytes", n, "duration", time.Since(start).Round(time.Millisecond)}
	var ev *hub.EvictedError
	switch {
	case errors.Is(err, hub.ErrChannelEnded):
		log.Info("watcher finished: channel ended", attrs...)
	case errors.As(err, &ev):
		log.Warn("watcher disconnected by server", append(attrs, "reason", string(ev.Reason))...)
	case ctx.Err() != nil:
		log.Info("watcher cancelled", attrs...)
	case isClosedConn(err):
		// The usual end of watching: the player quit. Not an error.
		log.Info("watcher left", attrs...)
	default:
		log.Warn("watcher failed", append(attrs, "err", err)...)
	}
	return err
}

// directWriter returns sink as a hub.DirectWriter when it can be written
// without blocking and the server lets the channels' writers do it.
func (s *Server) directWriter(sink Sink) hub.DirectWriter {
	if s.cfg.Writers < 0 {
		return nil
	}
	if d, ok := sink.(interface{ directWriter() hub.DirectWriter }); ok {
		return d.directWriter()
	}
	return nil
}

// deadlineSlack is how far a watcher's write deadline may lag behind the
// exact one (its oldest byte's arrival plus MaxLag) before it is moved.
const deadlineSlack = 100 * time.Millisecond

// needNewDeadline reports whether the sink's write deadline, last set to
// set, must move to want. Moving it costs a timer update per batch, so a
// later deadline waits until it moved noticeably, as long as the one set is
// not about to pass.
func needNewDeadline(want, set time.Time) bool {
	switch {
	case want.Equal(set):
		return false
	case want.IsZero() || set.IsZero() || want.Before(set):
		return true
	}
	return want.Sub(set) > deadlineSlack || time.Until(set) < deadlineSlack
}

// waitDirect waits while the channel's writers write to sink, probing it at
// idle ticks. It returns nil once they hand the watcher back.
func waitDirect(sub *hub.Subscription, sink Sink) error {
	for {
		err := sub.WaitDirect()
		if !errors.Is(err, hub.ErrIdle) {
			return err
		}
		if err := probe(sink); err != nil {
			return err
		}
	}
}

// pump writes the channel to the sink until the channel ends, the hub
// evicts the watcher, or a write fails. Each batch is one writev on a TCP
// connection. While there is nothing to write it probes the sink at each
// idle tick, so that a peer that hung up is let go at once.
func pump(sub *hub.Subscription, sink Sink) (int64, error) {
	err := pumpBatches(sub, sink)
	return sub.Sent(), err // the channel's writers wrote some of it
}

func pumpBatches(sub *hub.Subscription, sink Sink) error {
	flusher, _ := sink.(interface{ Flush() error })
	var iov [3][]byte
	bufs := net.Buffers(iov[:0])
	var written int            // bytes of the last batch, reported with the next Next
	var lastDeadline time.Time // what the sink's deadline is set to
	for {
		batch, deadline, err := sub.DoneNext(written, iov[:0], maxBatch)
		written = 0
		if errors.Is(err, hub.ErrDirect) {
			// Caught up: the channel's writers write while the socket has
			// room. Their writes do not block, so no deadline is due.
			if !lastDeadline.IsZero() {
				sink.SetWriteDeadline(time.Time{})
				lastDeadline = time.Time{}
			}
			err = waitDirect(sub, sink)
		}
		if errors.Is(err, hub.ErrIdle) {
			// Nothing to write for a while: has the peer hung up?
			if err := probe(sink); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if batch == nil {
			continue // handed back by the channel's writers
		}
		if needNewDeadline(deadline, lastDeadline) {
			sink.SetWriteDeadline(deadline)
			lastDeadline = deadline
			select {
			case <-sub.Stopped(): // evicted before the deadline was set
				return sub.Err()
			default:
			}
		}
		bufs = batch
		n, err := writeBatch(sink, &bufs)
		if err == nil && flusher != nil {
			err = flusher.Flush()
		}
		if err == nil {
			written = int(n)
			continue
		}
		sub.Done(int(n))
		if herr := sub.Err(); herr != nil {
			return herr
		}
		if isTimeout(err) && !deadline.IsZero() {
			// Slow but moving: keep the picture by skipping ahead. No
			// progress at all for MaxLag: the watcher is gone.
			if n > 0 && sub.Skip() {
				continue
			}
			return sub.Evict(hub.ReasonLagging)
		}
		return err
	}
}
