package media

import "bytes"

// PSI table ids.
const (
	tablePAT = 0x00
	tablePMT = 0x02
)

// psiSection returns the offset in the packet and the length of the complete
// section with the given table id that starts in payload (at packet offset
// off), or n == 0 if there is none: sections spanning packets and stale
// (current_next_indicator 0) ones are ignored. The caller checks the CRC
// (newSection) unless the section repeats the cached one.
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
	if sec[5]&1 == 0 {
		return 0, 0
	}
	return off + 1 + ptr, n
}

// newSection reports whether sec is an intact section that differs from the
// cached one. Tables repeat about ten times a second, unchanged but for the
// packet's continuity_counter: comparing them costs less than their CRC.
func newSection(sec []byte, cachedOK bool, cached []byte) bool {
	if cachedOK && bytes.Equal(sec, cached) {
		return false
	}
	return crc32MPEG(sec) == 0
}

// parsePAT takes the PMT PID of the first program.
func (t *tsParser) parsePAT(pk []byte, off int, payload []byte) {
	so, n := psiSection(off, payload, tablePAT)
	if n == 0 {
		return
	}
	sec := pk[so : so+n]
	if !newSection(sec, t.patOK, t.patSec) {
		return
	}
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
		t.setStream(-1, 0, esType{})
		t.setAudio(-1, esType{})
	}
	t.patSec = cacheSection(&t.pat, pk, so, n, &t.tablesGen)
	t.patOK = true
}

// parsePMT chooses the join stream of the program: its first video stream,
// else its first audio stream, else its first other PES stream.
func (t *tsParser) parsePMT(pk []byte, off int, payload []byte) {
	so, n := psiSection(off, payload, tablePMT)
	if n < 16 {
		return
	}
	sec := pk[so : so+n]
	if !newSection(sec, t.pmtOK, t.pmtSec) {
		return
	}
	end := n - 4 // CRC_32
	pid, st, es := -1, byte(0), esType{}
	apid, audio := -1, esType{}
	for i := 12 + (int(sec[10]&0x0f)<<8 | int(sec[11])); i+5 <= end; {
		typ := sec[i]
		epid := int(sec[i+1]&0x1f)<<8 | int(sec[i+2])
		info := 5 + (int(sec[i+3]&0x0f)<<8 | int(sec[i+4]))
		et := tsStreamType(typ, sec[i+5:min(i+info, end)])
		i += info
		if epid < 0x10 || epid > 0x1ffe || epid == t.pmtPID {
			continue
		}
		if et.class == classAudio && apid < 0 {
			apid, audio = epid, et
		}
		if et.class > es.class { // the first one of the best class
			pid, st, es = epid, typ, et
		}
	}
	if pid != t.esPID || st != t.streamType || es != t.es {
		t.setStream(pid, st, es)
	}
	if apid != t.audioPID || audio != t.audio {
		t.setAudio(apid, audio)
	}
	t.pmtSec = cacheSection(&t.pmt, pk, so, n, &t.tablesGen)
	t.pmtOK = true
}

// cacheSection copies packet pk, whose section is new, into dst and returns
// the section inside dst. It bumps *gen, the version of the tables.
func cacheSection(dst *[tsPacketSize]byte, pk []byte, so, n int, gen *uint64) []byte {
	copy(dst[:], pk)
	*gen++
	return dst[so : so+n]
}

// setStream switches to a new join stream (pid -1: none).
func (t *tsParser) setStream(pid int, streamType byte, es esType) {
	t.esPID = pid
	t.streamType = streamType
	t.es = es
	t.scanning = false
	t.raiSeen = false
	t.lastTSOK = false
	switch es.kind {
	case kindH265:
		t.sc.need = 2
	default:
		t.sc.need = 1
	}
}

// setAudio switches to a new first audio stream (pid -1: none).
func (t *tsParser) setAudio(pid int, es esType) {
	t.audioPID = pid
	t.audio = es
	t.audioCodec = es.codec
	// Only MPEG audio has a layer to read from its first frame.
	t.audioNamed = es.sync != syncMPA
}

// tsPrefix is a join prefix built for a PAT and PMT counter pair.
type tsPrefix struct {
	gen   uint64 // tablesGen it was built from
	pmtCC byte
	b     []byte
}

// joinPrefix returns the cached PAT and PMT packets, with continuity
// counters patCC and pmtCC, as one immutable slice. Most muxers send PAT and
// PMT together, so their counters move in step and the 16 slots, one per
// PAT counter, soon hold every prefix the stream needs: joining stops
// allocating. A slot is rebuilt, never modified, when the tables or the
// counter pair change.
func (t *tsParser) joinPrefix(patCC, pmtCC byte) []byte {
	p := &t.prefixes[patCC&0x0f]
	if p.b != nil && p.gen == t.tablesGen && p.pmtCC == pmtCC {
		return p.b
	}
	b := make([]byte, prefixSize)
	copy(b, t.pat[:])
	copy(b[tsPacketSize:], t.pmt[:])
	b[3] = b[3]&0xf0 | patCC&0x0f
	b[tsPacketSize+3] = b[tsPacketSize+3]&0xf0 | pmtCC&0x0f
	*p = tsPrefix{gen: t.tablesGen, pmtCC: pmtCC, b: b}
	return b
}

// prefixNow returns the join prefix for a join point at the packet being
// parsed: the counters are those of the latest PAT and PMT before it.
func (t *tsParser) prefixNow() []byte {
	return t.joinPrefix(t.patCC, t.pmtCC)
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
