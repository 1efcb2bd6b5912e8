package bench

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
)

// Record layout. All integers are little-endian; see doc.go.
const (
	// HeaderSize is the size of a record header.
	HeaderSize = 36
	// MinSize is the smallest record (write) size: a header and a few
	// payload bytes.
	MinSize = 64
	// MaxSize is the largest record size.
	MaxSize = 16 << 20

	offMagic      = 0
	offSize       = 4
	offStream     = 8
	offPayloadCRC = 12
	offSeq        = 16
	offSent       = 24
	offHeaderCRC  = 32

	// poolSlots is how many distinct payloads a pool holds. Record seq uses
	// slot seq%poolSlots. It is prime, so that records a power-of-two
	// distance apart (a ring buffer lapping itself) never carry the same
	// payload and a relay serving stale ring bytes fails the checksum.
	poolSlots = 61
	// poolStride is the offset between two slots' payloads in the pool.
	poolStride = 8
)

// magic starts every record. Resynchronisation scans for it.
var magic = [4]byte{0xf5, 0x7b, 0xe4, 0x1c}

// castagnoli is CRC-32C, which the hash/crc32 package computes with the
// CPU's CRC instructions where there are some.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is a decoded record header.
type header struct {
	size       uint32
	stream     uint32
	payloadCRC uint32
	seq        uint64
	sent       int64
}

// putHeader encodes h into b, including the header checksum.
func putHeader(b *[HeaderSize]byte, h header) {
	copy(b[offMagic:], magic[:])
	binary.LittleEndian.PutUint32(b[offSize:], h.size)
	binary.LittleEndian.PutUint32(b[offStream:], h.stream)
	binary.LittleEndian.PutUint32(b[offPayloadCRC:], h.payloadCRC)
	binary.LittleEndian.PutUint64(b[offSeq:], h.seq)
	binary.LittleEndian.PutUint64(b[offSent:], uint64(h.sent))
	binary.LittleEndian.PutUint32(b[offHeaderCRC:], crc32.Checksum(b[:offHeaderCRC], castagnoli))
}

// parseHeader decodes b and reports whether its magic and header checksum
// are right. It does not check the size or stream against expectations.
func parseHeader(b *[HeaderSize]byte) (header, bool) {
	if [4]byte(b[offMagic:offMagic+4]) != magic {
		return header{}, false
	}
	if crc32.Checksum(b[:offHeaderCRC], castagnoli) != binary.LittleEndian.Uint32(b[offHeaderCRC:]) {
		return header{}, false
	}
	return header{
		size:       binary.LittleEndian.Uint32(b[offSize:]),
		stream:     binary.LittleEndian.Uint32(b[offStream:]),
		payloadCRC: binary.LittleEndian.Uint32(b[offPayloadCRC:]),
		seq:        binary.LittleEndian.Uint64(b[offSeq:]),
		sent:       int64(binary.LittleEndian.Uint64(b[offSent:])),
	}, true
}

// payloadPool holds the payloads of every record of one size, with their
// checksums computed once, so that a writer spends nothing per record on
// its payload: it sends a header and a slice of the pool in one writev.
// It is read-only after newPayloadPool and shared by all writers of a run.
type payloadPool struct {
	buf  []byte
	n    int // payload length
	crcs [poolSlots]uint32
}

func newPayloadPool(size int) *payloadPool {
	n := size - HeaderSize
	p := &payloadPool{buf: make([]byte, n+poolSlots*poolStride), n: n}
	// Random bytes, so that a misplaced slice of payload cannot pass a
	// checksum; fixed seed, so that runs are reproducible.
	rng := rand.NewChaCha8([32]byte{'f', 's', 't', 'r', 'e', 'a', 'm'})
	_, _ = rng.Read(p.buf) // ChaCha8.Read never fails
	// A magic inside a payload would only cost a resynchronising watcher
	// one failed header check, but removing it is free.
	for {
		i := bytes.Index(p.buf, magic[:])
		if i < 0 {
			break
		}
		p.buf[i] ^= 0xff
	}
	for s := range p.crcs {
		p.crcs[s] = crc32.Checksum(p.slot(uint64(s)), castagnoli)
	}
	return p
}

// slot returns the payload of record seq.
func (p *payloadPool) slot(seq uint64) []byte {
	off := int(seq%poolSlots) * poolStride
	return p.buf[off : off+p.n : off+p.n]
}

// crc returns the payload checksum of record seq.
func (p *payloadPool) crc(seq uint64) uint32 { return p.crcs[seq%poolSlots] }

// appendRecord appends a whole record to dst (tests and fuzzing use it; the
// writers send header and payload without joining them).
func (p *payloadPool) appendRecord(dst []byte, stream uint32, seq uint64, sent int64) []byte {
	var h [HeaderSize]byte
	putHeader(&h, header{size: uint32(HeaderSize + p.n), stream: stream, payloadCRC: p.crc(seq), seq: seq, sent: sent})
	dst = append(dst, h[:]...)
	return append(dst, p.slot(seq)...)
}

// verifier checks the records of one stream as its bytes arrive, whatever
// the read boundaries, and counts what it finds. It allocates nothing per
// record: a header is gathered in a fixed array and a payload is checked as
// it passes, so records may be far larger than a read.
//
// Until it is in sync (at the start, since a watcher joins mid-record, and
// after a corrupt record) it scans for a magic followed by a valid header
// checksum; from then on every record must follow the previous one exactly.
type verifier struct {
	size   uint32 // expected record size
	stream uint32 // expected stream (channel) number
	hist   *histogram

	synced  bool
	hdr     [HeaderSize]byte
	hdrN    int    // bytes gathered in hdr
	payLeft int    // payload bytes still to come of the current record
	crc     uint32 // running checksum of the current payload
	want    uint32 // the current record's payload checksum
	sent    int64  // the current record's send time
	haveSeq bool   // a record was seen, so next is meaningful
	next    uint64 // the sequence number expected next

	// Counts, read by the owner after the stream ends.
	records  int64 // valid records
	measured int64 // valid records completed while measuring
	gaps     int64 // sequence discontinuities
	lost     int64 // records missing in those gaps
	corrupt  int64 // records failing a check (magic, checksum, size, stream)
	resyncs  int64 // times sync was regained after losing it
	skipped  int64 // bytes dropped while out of sync
	everSync bool
}

func newVerifier(size int, stream uint32, hist *histogram) *verifier {
	return &verifier{size: uint32(size), stream: stream, hist: hist}
}

// feed checks b, which arrived at now (Unix nanoseconds). Records completed
// while measure is set go into the latency histogram.
func (v *verifier) feed(b []byte, now int64, measure bool) {
	for len(b) > 0 {
		if v.payLeft > 0 {
			n := min(v.payLeft, len(b))
			v.crc = crc32.Update(v.crc, castagnoli, b[:n])
			v.payLeft -= n
			b = b[n:]
			if v.payLeft == 0 {
				v.endRecord(now, measure)
			}
			continue
		}
		if !v.synced && v.hdrN == 0 {
			i := bytes.Index(b, magic[:])
			if i < 0 {
				// Keep a tail that may be the start of a magic.
				k := magicPrefixSuffix(b)
				v.skipped += int64(len(b) - k)
				v.hdrN = copy(v.hdr[:], b[len(b)-k:])
				return
			}
			v.skipped += int64(i)
			b = b[i:]
		}
		n := copy(v.hdr[v.hdrN:], b)
		v.hdrN += n
		b = b[n:]
		if v.hdrN == HeaderSize {
			v.onHeader()
		}
	}
}

// onHeader handles a complete header in v.hdr.
func (v *verifier) onHeader() {
	h, ok := parseHeader(&v.hdr)
	if ok && (h.size != v.size || h.stream != v.stream) {
		// A genuine record, but not one of ours: bytes of another
		// channel, or of another run.
		v.corrupt++
		v.synced = false
		ok = false
	} else if !ok && v.synced {
		v.corrupt++
		v.synced = false
	}
	if !ok {
		v.shift()
		return
	}
	if !v.synced {
		v.synced = true
		if v.everSync {
			v.resyncs++
		}
		v.everSync = true
	}
	if v.haveSeq && h.seq != v.next {
		v.gaps++
		if h.seq > v.next {
			v.lost += int64(h.seq - v.next)
		}
	}
	v.haveSeq = true
	v.next = h.seq + 1
	v.want = h.payloadCRC
	v.sent = h.sent
	v.crc = 0
	v.payLeft = int(h.size) - HeaderSize
	v.hdrN = 0
}

// endRecord handles the last payload byte of a record.
func (v *verifier) endRecord(now int64, measure bool) {
	if v.crc != v.want {
		// The payload is wrong; whether bytes were lost or changed, the
		// next header tells: resynchronising finds it at once if the
		// alignment is still right.
		v.corrupt++
		v.synced = false
		return
	}
	v.records++
	if measure {
		v.measured++
		if v.hist != nil {
			v.hist.record(now - v.sent)
		}
	}
}

// shift drops the first byte of a failed header candidate and keeps the
// rest from the next position that may start a magic.
func (v *verifier) shift() {
	for k := 1; k < v.hdrN; k++ {
		rest := v.hdr[k:v.hdrN]
		if m := min(len(rest), len(magic)); bytes.Equal(rest[:m], magic[:m]) {
			v.skipped += int64(k)
			v.hdrN = copy(v.hdr[:], rest)
			return
		}
	}
	v.skipped += int64(v.hdrN)
	v.hdrN = 0
}

// magicPrefixSuffix returns the length of the longest proper prefix of the
// magic that b ends with.
func magicPrefixSuffix(b []byte) int {
	for k := min(len(magic)-1, len(b)); k > 0; k-- {
		if bytes.Equal(b[len(b)-k:], magic[:k]) {
			return k
		}
	}
	return 0
}
