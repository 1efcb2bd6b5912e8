package hub

// ring is a channel's bytes: one array written by the broadcaster and read by
// every watcher, addressed by absolute stream positions. Byte pos lives at
// buf[pos%len(buf)]. Bytes in [tail, head) are retained; [head,
// tail+len(buf)) is free space.
//
// Watchers write slices of buf to their sockets without the channel lock, so
// a retained byte is never written over: the broadcaster writes only into the
// free space, and grow copies into a new array rather than reusing the old
// one, which stays valid for whoever still holds a slice of it.
//
// A ring is not safe for concurrent use; the channel lock guards it.
type ring struct {
	buf  []byte
	head int64 // bytes written so far
	tail int64 // oldest byte still retained
}

func newRing(size int) ring { return ring{buf: make([]byte, size)} }

// buffered returns how many bytes are retained.
func (r *ring) buffered() int { return int(r.head - r.tail) }

// free returns how many bytes can be written before the oldest retained byte
// would be overwritten.
func (r *ring) free() int { return len(r.buf) - r.buffered() }

// release lets the ring reuse the bytes before pos.
func (r *ring) release(pos int64) { r.tail = max(r.tail, pos) }

// grow doubles the ring, up to limit bytes, keeping every retained byte at
// its position.
func (r *ring) grow(limit int) {
	n := min(2*len(r.buf), limit)
	nb := make([]byte, n)
	for pos := r.tail; pos < r.head; {
		src := r.buf[pos%int64(len(r.buf)):]
		dst := nb[pos%int64(n):]
		k := copy(dst, src[:min(int64(len(src)), r.head-pos)])
		pos += int64(k)
	}
	r.buf = nb
}

// writable returns the free space at the head that one write can fill: at
// most limit bytes, and never across the end of the array.
func (r *ring) writable(limit int) []byte {
	size := int64(len(r.buf))
	start := r.head % size
	end := min(size, start+int64(r.free()), start+int64(limit))
	return r.buf[start:end]
}

// commit makes the first n bytes of the last writable region part of the
// stream.
func (r *ring) commit(n int) { r.head += int64(n) }

// appendSpan appends the bytes at positions [start, end) of a ring array to
// dst, as one slice or, across the end of the array, two. It needs no lock:
// buf is an array the caller took from the ring under the lock, and those
// bytes stay retained until the caller reports them written.
func appendSpan(dst [][]byte, buf []byte, start, end int64) [][]byte {
	n := end - start
	if n <= 0 {
		return dst
	}
	size := int64(len(buf))
	i := start % size
	first := min(n, size-i)
	dst = append(dst, buf[i:i+first])
	if first < n {
		dst = append(dst, buf[:n-first])
	}
	return dst
}
