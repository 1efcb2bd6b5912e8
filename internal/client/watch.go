package client

import (
	"fmt"
	"io"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

// watch copies the stream of an established session to dst until the
// server closes the connection, which returns nil.
func (s *session) watch(dst io.Writer) error {
	buf := make([]byte, bufferSize)
	for {
		// The buffered reader hands over what it read past the status
		// frame first; once empty it reads straight into buf because buf
		// is larger than its own buffer.
		n, rerr := s.r.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return fmt.Errorf("%w: %w", ErrWriteOutput, werr)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return s.streamErr("receive stream", rerr)
		}
	}
}

// waitAnswer reads the final answer after a "waiting": the server holds
// the watcher until the channel goes live, so there is no deadline (ctx
// bounds the wait and closes the connection when it ends). The final
// answer is written at once, so timeout applies to it only once it starts
// arriving; TCP keep-alive notices a server that vanished.
func (s *session) waitAnswer(timeout time.Duration) (protocol.Status, error) {
	s.waited = true
	s.onWaiting()
	if err := s.conn.SetDeadline(time.Time{}); err != nil {
		return protocol.Status{}, s.streamErr("handshake", err)
	}
	for {
		if _, err := s.r.Peek(1); err != nil {
			return protocol.Status{}, s.handshakeErr(err, timeout)
		}
		if err := s.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			return protocol.Status{}, s.streamErr("handshake", err)
		}
		reply, err := protocol.ReadFrame(s.r, maxStatus)
		if err != nil {
			return protocol.Status{}, s.handshakeErr(err, timeout)
		}
		st, err := protocol.ParseStatus(reply)
		if err != nil {
			return protocol.Status{}, fmt.Errorf("%w: %w", ErrNoAnswer, err)
		}
		if !st.Waiting {
			return st, nil
		}
		if err := s.conn.SetDeadline(time.Time{}); err != nil {
			return protocol.Status{}, s.streamErr("handshake", err)
		}
	}
}
