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
// chooses the program's join stream (its first video stream, else its
// first audio stream, else its first other PES stream) and publishes a join
// point at the first packet of every PES of that stream a decoder can start
// at (see tses.go).
type tsParser struct {
	js     *joinState
	now    time.Time
	minGap int64 // TrackerConfig.JoinInterval in 90 kHz ticks

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
	// repetition (which only bumps continuity_counter). patCC and pmtCC are
	// the counters of the latest packets of the PAT and PMT PIDs: a join
	// prefix carries them, so that the stream's next copies follow on
	// without a jump. prefixes caches the prefixes built, by PAT counter.
	pmtPID    int // -1 until a PAT names one
	patOK     bool
	pat       [tsPacketSize]byte
	patSec    []byte
	pmtOK     bool
	pmt       [tsPacketSize]byte
	pmtSec    []byte
	tablesGen uint64 // counts changes of pat and pmt
	patCC     byte
	pmtCC     byte
	prefixes  [16]tsPrefix

	// The join stream (esPID -1: none) and the first audio stream, which
	// Info reports.
	esPID      int
	streamType byte
	es         esType
	raiSeen    bool  // random_access_indicator was seen on the join stream
	lastTS     int64 // timestamp of the latest paced join point
	lastTSOK   bool
	audioPID   int
	audio      esType
	audioCodec string
	audioNamed bool // audioCodec is final

	// The video PES whose start is being scanned for a keyframe, and the
	// table state when it started.
	scanning bool
	pesStart int64
	pesTime  time.Time
	pesBytes int // payload bytes scanned, at most maxKeyLead
	pesGen   uint64
	pesPATCC byte
	pesPMTCC byte
	sc       startCodeScanner
}

func (t *tsParser) init(js *joinState, joinInterval time.Duration) {
	t.js = js
	t.minGap = ticks90k(joinInterval)
	t.pmtPID = -1
	t.esPID = -1
	t.audioPID = -1
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
	switch pid {
	case pidPAT:
		if payload != nil {
			t.patCC = pk[3] & 0x0f
		}
		if pusi {
			t.parsePAT(pk, off, payload)
		}
	case t.pmtPID:
		if payload != nil {
			t.pmtCC = pk[3] & 0x0f
		}
		if pusi {
			t.parsePMT(pk, off, payload)
		}
	default:
		if pid == t.esPID {
			t.elementary(at, pusi, rai, payload)
		}
		if pusi && pid == t.audioPID && !t.audioNamed {
			t.nameAudio(payload)
		}
	}
}

// fallback returns the newest packet boundary, with the PAT and PMT first,
// once both are known.
func (t *tsParser) fallback() (JoinPoint, bool) {
	if !t.synced || !t.patOK || !t.pmtOK {
		return JoinPoint{}, false
	}
	return JoinPoint{Pos: t.next, Prefix: t.prefixNow(), Time: t.now}, true
}
