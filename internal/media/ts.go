package media

import (
	"bytes"
	"time"
)

const (
	tsPacketSize = 188
	tsSyncByte   = 0x47
	// syncPackets is how many sync bytes 188 bytes apart make an alignment.
	// Random data gets there with odds of about 2^-32 per offset.
	syncPackets = 5
	// pidPAT is the PID of the program association table.
	pidPAT = 0
	// prefixSize is the size of a TS join prefix: one PAT and one PMT packet.
	prefixSize = 2 * tsPacketSize
)

// PSI table ids.
const (
	tablePAT = 0x00
	tablePMT = 0x02
)

// videoKind says how the start of a video PES tells a keyframe.
type videoKind int

const (
	kindNone   videoKind = iota // no video stream known
	kindRAI                     // trust random_access_indicator
	kindH264                    // look for an IDR NAL unit
	kindH265                    // look for an IRAP NAL unit
	kindMPEG12                  // look for a sequence header
)

// videoStream maps a PMT stream_type to a codec name and how to find its
// keyframes; ok is false for non-video stream types.
func videoStream(streamType byte) (codec string, kind videoKind, ok bool) {
	switch streamType {
	case 0x01:
		return "mpeg1video", kindMPEG12, true
	case 0x02:
		return "mpeg2video", kindMPEG12, true
	case 0x10:
		return "mpeg4", kindRAI, true
	case 0x1b:
		return "h264", kindH264, true
	case 0x24:
		return "h265", kindH265, true
	}
	return "", kindNone, false
}

// tsSync finds the alignment of a transport stream: the first sync byte
// that completes a run of syncPackets sync bytes 188 bytes apart.
type tsSync struct {
	// last holds, per offset mod 188, one more than the absolute offset of
	// the last sync byte seen there (0: none); run counts the run it ends.
	last [tsPacketSize]int64
	run  [tsPacketSize]uint8
}

func (d *tsSync) reset() {
	*d = tsSync{}
}

// find scans p, whose first byte is at absolute offset base, and returns the
// index in p of the sync byte that completes a run and the offset of the
// run's first packet; idx is -1 if p holds none. Bytes after idx are not
// looked at. Only 0x47 bytes cost more than a bytes.IndexByte step.
func (d *tsSync) find(p []byte, base int64) (idx int, runStart int64) {
	for i := 0; i < len(p); {
		j := bytes.IndexByte(p[i:], tsSyncByte)
		if j < 0 {
			break
		}
		j += i
		i = j + 1
		x := base + int64(j)
		ph := x % tsPacketSize
		if d.last[ph] != 0 && d.last[ph] == x-tsPacketSize+1 {
			d.run[ph]++
		} else {
			d.run[ph] = 1
		}
		d.last[ph] = x + 1
		if d.run[ph] >= syncPackets {
			return j, x - int64(d.run[ph]-1)*tsPacketSize
		}
	}
	return -1, 0
}

// tsParser follows an aligned transport stream: it caches the PAT and PMT,
// and publishes a join point at the first packet of every video PES that
// starts with a keyframe.
type tsParser struct {
	js  *joinState
	now time.Time

	pos    int64 // absolute offset of the next byte written
	synced bool
	next   int64 // offset of the packet being assembled or next to come
	// part assembles a packet that straddles two writes; every other
	// packet is parsed where it lies in the caller's slice.
	part    [tsPacketSize]byte
	partLen int
	sync    tsSync // finds the alignment again after sync is lost

	// Program tables. The cached packets are copies; patSec and pmtSec are
	// the sections inside them, compared to tell a real change from a
	// repetition (which only bumps continuity_counter).
	pmtPID     int // -1 until a PAT names one
	patOK      bool
	pat        [tsPacketSize]byte
	patSec     []byte
	pmtOK      bool
	pmt        [tsPacketSize]byte
	pmtSec     []byte
	prefix     []byte // PAT+PMT; shared by join points, never modified
	prefixOld  bool   // prefix no longer matches pat and pmt
	videoPID   int    // -1 until a PMT names one
	streamType byte
	codec      string
	kind       videoKind

	// The video PES whose start is being scanned for a keyframe.
	scanning bool
	pesStart int64
	pesTime  time.Time
	pesBytes int // payload bytes scanned, at most maxKeyLead
	sc       startCodeScanner
}

func (t *tsParser) init(js *joinState) {
	t.js = js
	t.pmtPID = -1
	t.videoPID = -1
	t.sc.sink = t
}

// start aligns the parser on a packet starting at pos, the offset of the
// next byte written.
func (t *tsParser) start(pos int64) {
	t.pos = pos
	t.next = pos
	t.synced = true
	t.partLen = 0
}

// retainFrom returns the oldest offset a future join point could have.
func (t *tsParser) retainFrom() int64 {
	if !t.synced {
		return t.pos
	}
	if t.scanning {
		return min(t.pesStart, t.next)
	}
	return t.next
}

// write feeds the next bytes of the stream.
func (t *tsParser) write(p []byte) {
	for len(p) > 0 {
		if !t.synced {
			idx, _ := t.sync.find(p, t.pos)
			if idx < 0 {
				t.pos += int64(len(p))
				return
			}
			// Parse from the packet that completed the run: deterministic
			// whatever the write sizes were.
			t.pos += int64(idx)
			p = p[idx:]
			t.start(t.pos)
			continue
		}
		if t.partLen == 0 {
			if p[0] != tsSyncByte {
				t.lostSync()
				continue
			}
			if len(p) >= tsPacketSize {
				t.packet(p[:tsPacketSize], t.next)
				t.pos += tsPacketSize
				t.next += tsPacketSize
				p = p[tsPacketSize:]
				continue
			}
		}
		n := copy(t.part[t.partLen:], p)
		t.partLen += n
		t.pos += int64(n)
		p = p[n:]
		if t.partLen == tsPacketSize {
			t.partLen = 0
			t.packet(t.part[:], t.next)
			t.next += tsPacketSize
		}
	}
}

// lostSync drops the alignment; the program tables stay cached.
func (t *tsParser) lostSync() {
	t.synced = false
	t.scanning = false
	t.partLen = 0
	t.sync.reset()
}

// packet parses one whole packet that starts at absolute offset at.
func (t *tsParser) packet(pk []byte, at int64) {
	if pk[1]&0x80 != 0 {
		return // transport_error_indicator
	}
	pusi := pk[1]&0x40 != 0
	pid := int(pk[1]&0x1f)<<8 | int(pk[2])
	afc := pk[3] >> 4 & 3
	off := 4
	rai := false
	if afc&2 != 0 {
		afl := int(pk[4])
		if afl > tsPacketSize-5 {
			return
		}
		if afl > 0 {
			rai = pk[5]&0x40 != 0
		}
		off = 5 + afl
	}
	var payload []byte
	if afc&1 != 0 {
		payload = pk[off:]
	}
	switch {
	case pid == pidPAT:
		if pusi {
			t.parsePAT(pk, off, payload)
		}
	case pid == t.pmtPID:
		if pusi {
			t.parsePMT(pk, off, payload)
		}
	case pid == t.videoPID:
		t.video(at, pusi, rai, payload)
	}
}

// psiSection returns the offset in the packet and the length of the complete
// section with the given table id that starts in payload (at packet offset
// off), or n == 0 if there is none: sections spanning packets, stale
// (current_next_indicator 0) or corrupt (CRC) ones are ignored.
func psiSection(off int, payload []byte, tableID byte) (secOff, n int) {
	if len(payload) < 1 {
		return 0, 0
	}
	ptr := int(payload[0])
	if 1+ptr+3 > len(payload) {
		return 0, 0
	}
	sec := payload[1+ptr:]
	if sec[0] != tableID || sec[1]&0x80 == 0 {
		return 0, 0
	}
	n = 3 + (int(sec[1]&0x0f)<<8 | int(sec[2]))
	if n > len(sec) || n < 12 {
		return 0, 0
	}
	sec = sec[:n]
	if sec[5]&1 == 0 || crc32MPEG(sec) != 0 {
		return 0, 0
	}
	return off + 1 + ptr, n
}

// parsePAT takes the PMT PID of the first program.
func (t *tsParser) parsePAT(pk []byte, off int, payload []byte) {
	so, n := psiSection(off, payload, tablePAT)
	if n == 0 {
		return
	}
	sec := pk[so : so+n]
	pmt := -1
	for i := 8; i+4 <= n-4; i += 4 {
		if sec[i] != 0 || sec[i+1] != 0 { // program_number 0 is the NIT
			pmt = int(sec[i+2]&0x1f)<<8 | int(sec[i+3])
			break
		}
	}
	if pmt < 0x10 || pmt > 0x1ffe {
		return
	}
	if pmt != t.pmtPID {
		t.pmtPID = pmt
		t.pmtOK = false
		t.setVideo(-1, 0)
	}
	t.patSec = cacheSection(&t.pat, pk, so, n, t.patOK, t.patSec, &t.prefixOld)
	t.patOK = true
}

// parsePMT takes the first video elementary stream of the program.
func (t *tsParser) parsePMT(pk []byte, off int, payload []byte) {
	so, n := psiSection(off, payload, tablePMT)
	if n < 16 {
		return
	}
	sec := pk[so : so+n]
	vpid, vtype := -1, byte(0)
	i := 12 + (int(sec[10]&0x0f)<<8 | int(sec[11]))
	for i+5 <= n-4 {
		st := sec[i]
		epid := int(sec[i+1]&0x1f)<<8 | int(sec[i+2])
		if _, _, ok := videoStream(st); ok && vpid < 0 {
			vpid, vtype = epid, st
		}
		i += 5 + (int(sec[i+3]&0x0f)<<8 | int(sec[i+4]))
	}
	if vpid < 0x10 || vpid > 0x1ffe || vpid == t.pmtPID {
		vpid, vtype = -1, 0
	}
	if vpid != t.videoPID || vtype != t.streamType {
		t.setVideo(vpid, vtype)
	}
	t.pmtSec = cacheSection(&t.pmt, pk, so, n, t.pmtOK, t.pmtSec, &t.prefixOld)
	t.pmtOK = true
}

// cacheSection copies packet pk into dst unless the cached section is the
// same, and returns the section inside dst.
func cacheSection(dst *[tsPacketSize]byte, pk []byte, so, n int, ok bool, old []byte, changed *bool) []byte {
	if ok && bytes.Equal(old, pk[so:so+n]) {
		return old
	}
	copy(dst[:], pk)
	*changed = true
	return dst[so : so+n]
}

// setVideo switches to a new video stream (pid -1: none).
func (t *tsParser) setVideo(pid int, streamType byte) {
	t.videoPID = pid
	t.streamType = streamType
	t.codec, t.kind, _ = videoStream(streamType)
	t.scanning = false
	switch t.kind {
	case kindH265:
		t.sc.need = 2
	default:
		t.sc.need = 1
	}
}

// video handles a packet of the video PID.
func (t *tsParser) video(at int64, pusi, rai bool, payload []byte) {
	if !t.patOK || !t.pmtOK {
		return
	}
	if !pusi {
		if t.scanning {
			t.scan(payload)
		}
		return
	}
	t.scanning = false
	switch t.kind {
	case kindRAI:
		if rai {
			t.js.publish(at, t.joinPrefix(), t.now)
		}
	case kindH264, kindH265, kindMPEG12:
		// The flag is not trusted for these: muxers set it on open-GOP and
		// recovery-point I pictures too, where a decoder that starts
		// shows errors. The PES itself says what it starts with.
		t.scanning = true
		t.pesStart = at
		t.pesTime = t.now
		t.pesBytes = 0
		t.sc.reset(0)
		t.scan(pesPayload(payload))
	}
}

// scan feeds the next payload bytes of the video PES to the keyframe scan,
// and gives up when the PES went on too long without a picture.
func (t *tsParser) scan(payload []byte) {
	t.pesBytes += len(payload)
	if t.pesBytes > maxKeyLead {
		t.scanning = false
		return
	}
	t.sc.write(payload)
}

// pesPayload skips the PES header at the start of payload, when all of it is
// in this packet (as muxers do); otherwise it returns nil and the scan goes
// on with the next packet.
func pesPayload(payload []byte) []byte {
	if len(payload) < 9 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 {
		return payload
	}
	if payload[6]&0xc0 != 0x80 {
		return payload[6:] // no optional PES header
	}
	if h := 9 + int(payload[8]); h <= len(payload) {
		return payload[h:]
	}
	return nil
}

// startCode implements nalSink; the PES scan only needs headers.
func (t *tsParser) startCode([]byte, int, int64) {}

// header implements nalSink: it decides from the first NAL units (or MPEG
// video start codes) of a video PES whether it starts with a keyframe.
func (t *tsParser) header(h []byte, _ []byte, _ int) {
	if !t.scanning {
		return
	}
	key, done := false, false
	switch t.kind {
	case kindH264:
		if h[0]&0x80 == 0 {
			switch h[0] & 0x1f {
			case h264IDR:
				key = true
			case h264Slice, h264PartA, h264PartA + 1, h264PartC:
				done = true
			}
		}
	case kindH265:
		if h[0]&0x80 == 0 {
			if typ := h[0] >> 1 & 0x3f; typ <= h265MaxVCL {
				key = typ >= h265BLAWLP && typ <= h265CRA
				done = true
			}
		}
	case kindMPEG12:
		switch h[0] {
		case 0xb3: // sequence_header_code
			key = true
		case 0x00: // picture_start_code before any sequence header
			done = true
		}
	}
	if key {
		t.scanning = false
		t.js.publish(t.pesStart, t.joinPrefix(), t.pesTime)
	} else if done {
		t.scanning = false
	}
}

// joinPrefix returns the cached PAT and PMT packets as one immutable slice,
// rebuilt only when one of them changed.
func (t *tsParser) joinPrefix() []byte {
	if t.prefix == nil || t.prefixOld {
		b := make([]byte, prefixSize)
		copy(b, t.pat[:])
		copy(b[tsPacketSize:], t.pmt[:])
		t.prefix = b
		t.prefixOld = false
	}
	return t.prefix
}

// crcTable is the CRC-32/MPEG-2 table (polynomial 0x04c11db7, MSB first).
var crcTable = func() (tab [256]uint32) {
	for i := range tab {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		tab[i] = c
	}
	return tab
}()

// crc32MPEG computes CRC-32/MPEG-2; it is 0 over a whole PSI section,
// CRC_32 field included, when the section is intact.
func crc32MPEG(b []byte) uint32 {
	c := uint32(0xffffffff)
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>24)^x]
	}
	return c
}
