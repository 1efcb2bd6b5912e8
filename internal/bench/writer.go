package bench

import (
	"bufio"
	"net"
	"time"

	"github.com/fstream/fstream/internal/client"
)

// recordWriter sends batches of records on one connection. On TCP a batch
// is one writev of headers and slices of the payload pool, so a writer
// copies nothing; under TLS, which encrypts each Write on its own, the
// batch is gathered in a buffer first and sent with one Write, as the
// relay's own TLS writes are.
type recordWriter struct {
	c    net.Conn
	pool *payloadPool
	size int
	hdrs [][HeaderSize]byte // one per record of a batch
	iov  [][]byte
	bufs net.Buffers   // outside write: it escapes, once
	bw   *bufio.Writer // TLS only
}

func newRecordWriter(c net.Conn, pool *payloadPool, size, most int) *recordWriter {
	if cc, ok := c.(*client.Conn); ok {
		c = cc.Conn // it wraps reads only; writev needs the TCP connection itself
	}
	w := &recordWriter{c: c, pool: pool, size: size,
		hdrs: make([][HeaderSize]byte, most), iov: make([][]byte, 0, 2*most)}
	if _, ok := c.(*net.TCPConn); !ok {
		w.bw = bufio.NewWriterSize(c, most*size)
	}
	return w
}

// write sends n records of stream from sequence number seq, all stamped
// with the time just before the write, and returns the bytes written.
func (w *recordWriter) write(stream uint32, seq uint64, n int) (int64, error) {
	sent := time.Now().UnixNano()
	w.iov = w.iov[:0]
	for i := range n {
		q := seq + uint64(i)
		putHeader(&w.hdrs[i], header{size: uint32(w.size), stream: stream, payloadCRC: w.pool.crc(q), seq: q, sent: sent})
		w.iov = append(w.iov, w.hdrs[i][:], w.pool.slot(q))
	}
	if w.bw == nil {
		w.bufs = w.iov
		return w.bufs.WriteTo(w.c)
	}
	for _, b := range w.iov {
		_, _ = w.bw.Write(b) // into the buffer, which holds a whole batch
	}
	total := int64(w.bw.Buffered())
	err := w.bw.Flush()
	return total - int64(w.bw.Buffered()), err
}
