package client

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

// cutWait bounds how long a broadcaster whose write failed waits for the
// status frame that may say why; the server sends it before it closes, so
// it is normally there already.
const cutWait = 2 * time.Second

// aLongTimeAgo is a deadline in the past: it makes a blocked read or write
// return at once.
var aLongTimeAgo = time.Unix(1, 0)

// downstream reads what a server sends a broadcaster after "ok": nothing
// until it closes, or one status frame that says why it cut the stream.
// Its goroutine belongs to the session's broadcast, which waits for it.
type downstream struct {
	done     chan struct{}
	stopping atomic.Bool // the broadcast ends the reader itself
	// Set before done is closed.
	cut *CutError
	err error // how reading ended when no frame came: io.EOF for a clean close
}

// readDownstream starts reading the server's side of a broadcast. When the
// server cuts the stream or closes, the reader interrupts the writer and,
// if it can, a pending read of src, so that the loss is noticed at once
// even while the input is idle.
func (s *session) readDownstream(src io.Reader) *downstream {
	d := &downstream{done: make(chan struct{})}
	go func() {
		defer close(d.done)
		text, err := protocol.ReadFrame(s.r, maxStatus)
		switch {
		case err != nil:
			d.err = err
		default:
			st, perr := protocol.ParseStatus(text)
			if perr != nil || st.OK {
				d.err = fmt.Errorf("%w: unexpected frame %q from the server during the stream", ErrNoAnswer, text)
			} else {
				d.cut = &CutError{Reason: st.Reason, Message: st.Message}
			}
		}
		if d.stopping.Load() {
			return
		}
		_ = s.conn.SetWriteDeadline(aLongTimeAgo)
		if r, ok := src.(interface{ SetReadDeadline(time.Time) error }); ok {
			_ = r.SetReadDeadline(aLongTimeAgo)
		}
	}()
	return d
}

// stop ends the reader and waits for it.
func (d *downstream) stop(s *session) {
	d.stopping.Store(true)
	_ = s.conn.SetReadDeadline(aLongTimeAgo)
	<-d.done
}

// ended reports why the server ended the stream, once the reader knows.
func (d *downstream) ended(s *session) (error, bool) {
	select {
	case <-d.done:
	default:
		return nil, false
	}
	switch {
	case d.cut != nil:
		return d.cut, true
	case d.err != nil && !d.stopping.Load():
		// The server closed or reset the connection, or it broke.
		return s.streamErr("send stream", d.err), true
	}
	return nil, false
}

// broadcast sends src on an established session until src ends, then
// waits (at most closeTimeout) for the server to confirm it read
// everything by closing its side. A stream the server cut returns a
// *CutError.
func (s *session) broadcast(src io.Reader, closeTimeout time.Duration) error {
	if r, ok := src.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = r.SetReadDeadline(time.Time{}) // a lost connection before may have set it
	}
	d := s.readDownstream(src)
	defer d.stop(s)
	buf := make([]byte, bufferSize)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := s.conn.Write(buf[:n]); werr != nil {
				return s.writeErr(d, werr)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if s.ctx.Err() != nil {
				return s.ctx.Err()
			}
			if errors.Is(rerr, os.ErrDeadlineExceeded) {
				// The downstream reader interrupted us, and is about to
				// say why.
				select {
				case <-d.done:
				case <-time.After(cutWait):
				}
			}
			if err, ok := d.ended(s); ok {
				return err
			}
			return fmt.Errorf("%w: %w", ErrReadInput, rerr)
		}
	}
	s.inputEnded = true
	return s.finish(d, closeTimeout)
}

// writeErr explains a failed write: with the server's reason when it sent
// one before closing.
func (s *session) writeErr(d *downstream, werr error) error {
	select {
	case <-d.done:
	case <-time.After(cutWait):
		d.stop(s)
	}
	if s.ctx.Err() != nil {
		return s.ctx.Err()
	}
	if err, ok := d.ended(s); ok {
		return err
	}
	return s.streamErr("send stream", werr)
}

// finish half-closes the connection and waits for the server to close its
// side, which it does after reading everything up to our EOF.
func (s *session) finish(d *downstream, timeout time.Duration) error {
	cw, ok := s.conn.(interface{ CloseWrite() error })
	if !ok {
		return fmt.Errorf("finish stream: %T cannot half-close", s.conn)
	}
	if err := cw.CloseWrite(); err != nil {
		return s.writeErr(d, err)
	}
	if err := s.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return s.streamErr("finish stream", err)
	}
	<-d.done
	switch err := d.err; {
	case s.ctx.Err() != nil:
		return s.ctx.Err()
	case d.cut != nil:
		// Cut while the last bytes were on their way: they may be lost.
		return d.cut
	case errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w within %v: %w", ErrCloseTimeout, timeout, err)
	default:
		return s.streamErr("finish stream", err)
	}
}
