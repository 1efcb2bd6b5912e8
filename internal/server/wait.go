package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

// clusterWaitPoll is how often a waiting watcher of a clustered server
// looks for its channel on other nodes.
const clusterWaitPoll = 2 * time.Second

// errLeftWaiting means a watcher hung up while it waited for its channel.
var errLeftWaiting = errors.New("watcher left while waiting for the channel")

// wantsWait reports whether a watcher asked to be held until its channel
// goes live (wait=1).
func wantsWait(req protocol.Request) bool {
	v, ok := req.Params[protocol.KeyWait]
	return ok && (v == "1" || v == "true" || v == "yes" || v == "on")
}

// watchOrWait serves a TCP watcher. One that asked for wait=1 and whose
// channel is not live is told "waiting" (with ack=1) and held until a
// broadcaster arrives; its password and the limits are checked then. The
// wait ends early when the client hangs up, the server shuts down or
// MaxWatchWait passes (then it is refused with not-found, and may ask
// again). Without wait=1 nothing changes: a channel that is not live is
// refused at once.
func (c *conn) watchOrWait(req protocol.Request, wr WatchRequest, joined func() error) error {
	s := c.srv
	err := s.serveWatcher(context.Background(), wr, newTCPSink(c.nc, c.raw), joined)
	if !errors.Is(err, hub.ErrNotLive) || !wantsWait(req) || s.cfg.MaxWatchWait <= 0 {
		return err
	}
	key := hub.Key{User: req.User, Channel: req.Channel}
	log := s.log.With("id", c.id, "remote", c.remote, "role", "watcher", "user", req.User, "channel", req.Channel)
	if req.Ack {
		c.nc.SetWriteDeadline(time.Now().Add(statusWriteTimeout))
		st := protocol.Status{Waiting: true, Message: fmt.Sprintf("channel %q of user %q is not live yet; waiting up to %v", key.Channel, key.User, s.cfg.MaxWatchWait)}
		if err := protocol.WriteFrame(c.nc, st.Text()); err != nil {
			log.Info("watcher left while waiting", "err", err)
			return errLeftWaiting
		}
		c.nc.SetWriteDeadline(time.Time{})
	}
	log.Info("watcher waiting for the channel to go live", "max_wait", s.cfg.MaxWatchWait.String())
	start := time.Now()
	deadline := start.Add(s.cfg.MaxWatchWait)
	for errors.Is(err, hub.ErrNotLive) {
		until := deadline
		if s.cluster != nil {
			// A broadcast on another node does not wake this hub: look
			// in the directory again now and then.
			if poll := time.Now().Add(clusterWaitPoll); poll.Before(deadline) {
				until = poll
			}
		}
		perr := c.park(key, until)
		// Not live by a poll's end: look again; otherwise the wait is over.
		polled := errors.Is(perr, hub.ErrNotLive) && until.Before(deadline)
		if perr != nil && !polled {
			if errors.Is(perr, errLeftWaiting) {
				log.Info("watcher left while waiting", "waited", time.Since(start).Round(time.Millisecond).String())
			}
			return perr
		}
		wr.FromStart = true // it was here before the stream began
		err = s.serveWatcher(context.Background(), wr, newTCPSink(c.nc, c.raw), joined)
	}
	return err
}

// park waits until the channel key is live. A watcher sends nothing after
// its handshake, so a read that returns means it hung up (or the server
// cut it short at shutdown); the read's goroutine is stopped before park
// returns.
func (c *conn) park(key hub.Key, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	c.nc.SetReadDeadline(time.Time{}) // clears the handshake deadline
	hungUp := make(chan struct{})
	go func() {
		defer close(hungUp)
		var b [1]byte
		_, _ = c.nc.Read(b[:]) // any return, data or error, ends the wait
		cancel()
	}()
	err := c.srv.hub.WaitLive(ctx, key)
	c.nc.SetReadDeadline(aLongTimeAgo)
	<-hungUp
	c.nc.SetReadDeadline(time.Time{})
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return err // the hub closed: the server is shutting down
	case c.srv.shuttingDown():
		// Shutdown cut the read short; tell the client, which may try
		// another server.
		return &hub.JoinError{Reason: protocol.ReasonBusy, Msg: "server is shutting down", Err: hub.ErrHubClosed}
	case errors.Is(err, context.DeadlineExceeded):
		return &hub.JoinError{
			Reason: protocol.ReasonNotFound,
			Msg:    fmt.Sprintf("channel %q of user %q did not go live within %v", key.Channel, key.User, c.srv.cfg.MaxWatchWait),
			Err:    hub.ErrNotLive,
		}
	}
	return errLeftWaiting
}
