package server

import (
	"fmt"
	"io"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

// cutLinger bounds how long the server keeps reading (and discarding) a
// broadcaster's bytes after it told it why its stream was cut, waiting for
// the client to read the status frame and close. Closing at once, with the
// client's bytes still arriving, would reset the connection, and a reset
// may destroy the frame before the client reads it.
const cutLinger = 2 * time.Second

// cutStatus is the status frame that tells a broadcaster why the hub ended
// its stream; ok is false for reasons that do not apply to broadcasters.
func cutStatus(r hub.CloseReason, key hub.Key) (st protocol.Status, ok bool) {
	name := key.User + "/" + key.Channel
	switch r {
	case hub.ReasonTakenOver:
		return protocol.Status{Reason: protocol.ReasonTakenOver, Message: "taken over by a new broadcaster of " + name}, true
	case hub.ReasonKicked:
		return protocol.Status{Reason: protocol.ReasonKicked, Message: fmt.Sprintf("removed from %s by the server's operator", name)}, true
	case hub.ReasonShutdown:
		return protocol.Status{Reason: protocol.ReasonShutdown, Message: "the server is shutting down"}, true
	}
	return protocol.Status{}, false
}

// tellCut sends a broadcaster that asked for acks the status frame saying
// why the hub ended its stream, then half-closes and lingers until the
// client closes (or cutLinger passes), so that the frame arrives. Clients
// that predate it never read their downstream direction and just see the
// connection close, as before.
func (c *conn) tellCut(r hub.CloseReason, key hub.Key) {
	st, ok := cutStatus(r, key)
	if !ok {
		return
	}
	c.nc.SetWriteDeadline(time.Now().Add(statusWriteTimeout))
	if err := protocol.WriteFrame(c.nc, st.Text()); err != nil {
		c.srv.log.Debug("end of stream not delivered", "id", c.id, "reason", string(st.Reason), "err", err)
		return
	}
	c.lingerClose(-1)
}

// lingerClose half-closes the connection after a last answer and reads
// what the client still sends (at most limit bytes; -1: no limit) until it
// closes or cutLinger passes: unread bytes would turn the close into a
// reset that can destroy the answer before the client reads it.
func (c *conn) lingerClose(limit int64) {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite() // the answer is out; a failure only ends the linger early
	}
	c.nc.SetReadDeadline(time.Now().Add(cutLinger))
	var r io.Reader = c.nc
	if limit >= 0 {
		r = io.LimitReader(c.nc, limit)
	}
	_, _ = io.Copy(io.Discard, r) // until the client closes, or the deadline
}
