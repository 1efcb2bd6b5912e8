package server

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

const (
	// overlongWait bounds how long the server keeps reading a handshake it
	// already refuses as too large, only to learn whether its sender
	// wants to be told why.
	overlongWait = time.Second
	// overlongChunk is how much of such a handshake is read at a time.
	overlongChunk = 4 << 10
)

// overlongAck reads the start of a handshake text longer than max, only to
// see whether the client asked for a status reply. It stops as soon as a
// complete ack field has been read (the reference client sends ack first,
// so the answer goes out at once), after max bytes, or when the client
// stops sending for overlongWait; then the last field counts as complete.
func (c *conn) overlongAck(max int) bool {
	c.nc.SetReadDeadline(time.Now().Add(min(overlongWait, c.srv.cfg.HandshakeTimeout)))
	var buf bytes.Buffer
	chunk := make([]byte, overlongChunk)
	for buf.Len() < max {
		n, err := c.nc.Read(chunk[:min(len(chunk), max-buf.Len())])
		buf.Write(chunk[:n])
		if ack, found := protocol.FindAck(buf.Bytes(), true); found {
			return ack
		}
		if err != nil {
			// The client sent all it will: its last field is whole,
			// unless the connection broke.
			whole := errors.Is(err, io.EOF) || isTimeout(err)
			ack, _ := protocol.FindAck(buf.Bytes(), !whole)
			return ack
		}
	}
	ack, _ := protocol.FindAck(buf.Bytes(), true)
	return ack
}
