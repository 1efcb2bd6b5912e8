package media

import "time"

// esClass ranks the elementary streams of a program as join streams.
type esClass int

const (
	classData  esClass = iota // never a join stream: sections, subtitles, metadata
	classOther                // a PES stream of a type not known here
	classAudio
	classVideo
)

// esKind says how the join points of a join stream are found.
type esKind int

const (
	kindNone   esKind = iota
	kindRAI           // random_access_indicator; paced PES starts until one is seen
	kindH264          // look for an IDR NAL unit
	kindH265          // look for an IRAP NAL unit
	kindMPEG12        // look for a sequence header
	kindAudio         // paced PES starts that begin with a frame
)

// audioSync names the frame sync word an audio PES must start with to be a
// join point: audio frames decode independently, but only from their start.
type audioSync int

const (
	syncNone audioSync = iota
	syncADTS           // AAC in ADTS: 12 bits 0xfff, layer 0
	syncLATM           // AAC in LATM/LOAS: 11 bits 0x2b7, and a StreamMuxConfig
	syncMPA            // MPEG-1/2 audio: 11 bits 0x7ff, layer not 0
	syncAC3            // AC-3 and E-AC-3: 0x0b77
	syncOpus           // Opus in TS: control header, 11 bits 0x3ff
)

// esType is what the PMT says about an elementary stream.
type esType struct {
	class esClass
	kind  esKind
	sync  audioSync
	codec string // ffmpeg's name; "" for classOther and classData
}

// Descriptor tags used to tell the content of stream_type 0x06 (private
// PES data).
const (
	descRegistration = 0x05 // format_identifier, four characters
	descVBI          = 0x45
	descVBITeletext  = 0x46
	descTeletext     = 0x56
	descSubtitling   = 0x59
	descAC3          = 0x6a // DVB AC-3
	descEAC3         = 0x7a // DVB enhanced AC-3
)

// tsStreamType classifies a PMT entry: its stream_type and the descriptors
// of its ES_info loop.
func tsStreamType(st byte, desc []byte) esType {
	switch st {
	case 0x01:
		return esType{classVideo, kindMPEG12, syncNone, "mpeg1video"}
	case 0x02:
		return esType{classVideo, kindMPEG12, syncNone, "mpeg2video"}
	case 0x1b:
		return esType{classVideo, kindH264, syncNone, "h264"}
	case 0x24:
		return esType{classVideo, kindH265, syncNone, "h265"}
	case 0x03, 0x04: // MPEG-1 and MPEG-2 audio; the first frame tells the layer
		return esType{classAudio, kindAudio, syncMPA, "mp2"}
	case 0x0f:
		return esType{classAudio, kindAudio, syncADTS, "aac"}
	case 0x11:
		return esType{classAudio, kindAudio, syncLATM, "aac_latm"}
	case 0x81:
		return esType{classAudio, kindAudio, syncAC3, "ac3"}
	case 0x87:
		return esType{classAudio, kindAudio, syncAC3, "eac3"}
	case 0x06:
		return privateStream(desc)
	case 0x05, 0x0a, 0x0b, 0x0c, 0x0d, 0x13, 0x14, 0x15, 0x16, 0x86:
		// Private sections, DSM-CC, metadata, SCTE-35 splice info.
		return esType{}
	case 0x1f, 0x20:
		// SVC and MVC sub-bitstreams: not decodable on their own.
		return esType{}
	}
	if codec := rawVideo[st]; codec != "" {
		return esType{classVideo, kindRAI, syncNone, codec}
	}
	return esType{classOther, kindRAI, syncNone, ""}
}

// rawVideo names the video stream types whose keyframes are not parsed
// here: random_access_indicator tells them.
var rawVideo = map[byte]string{
	0x10: "mpeg4",
	0x21: "jpeg2000",
	0x33: "vvc",
	0x42: "cavs",
	0xd1: "dirac",
	0xd2: "avs2",
	0xd4: "avs3",
	0xea: "vc1",
}

// privateStream classifies stream_type 0x06 by its descriptors.
func privateStream(desc []byte) esType {
	data := false
	for len(desc) >= 2 {
		tag, n := desc[0], int(desc[1])
		if 2+n > len(desc) {
			break
		}
		body := desc[2 : 2+n]
		desc = desc[2+n:]
		switch tag {
		case descAC3:
			return esType{classAudio, kindAudio, syncAC3, "ac3"}
		case descEAC3:
			return esType{classAudio, kindAudio, syncAC3, "eac3"}
		case descTeletext, descSubtitling, descVBI, descVBITeletext:
			data = true
		case descRegistration:
			if n < 4 {
				continue
			}
			switch string(body[:4]) {
			case "AC-3":
				return esType{classAudio, kindAudio, syncAC3, "ac3"}
			case "EAC3":
				return esType{classAudio, kindAudio, syncAC3, "eac3"}
			case "Opus":
				return esType{classAudio, kindAudio, syncOpus, "opus"}
			case "AV01":
				return esType{classVideo, kindRAI, syncNone, "av1"}
			case "ID3 ", "KLVA":
				data = true
			}
		}
	}
	if data {
		return esType{}
	}
	return esType{classOther, kindRAI, syncNone, ""}
}

// starts reports whether es, the start of a PES payload, begins with an
// audio frame of this kind that a decoder can start with.
func (s audioSync) starts(es []byte) bool {
	if len(es) < 4 {
		return false
	}
	b0, b1 := es[0], es[1]
	switch s {
	case syncADTS:
		return b0 == 0xff && b1&0xf6 == 0xf0
	case syncLATM:
		// useSameStreamMux, the first bit after the 13-bit length, must be
		// 0: the frame carries the AudioSpecificConfig the decoder needs.
		// ffmpeg's LATM muxer sends it every 20 frames.
		return b0 == 0x56 && b1&0xe0 == 0xe0 && es[3]&0x80 == 0
	case syncMPA:
		return b0 == 0xff && b1&0xe0 == 0xe0 && b1&0x06 != 0
	case syncAC3:
		return b0 == 0x0b && b1 == 0x77
	case syncOpus:
		return b0 == 0x7f && b1&0xe0 == 0xe0
	}
	return false
}

// nameAudio reads the layer of an MPEG audio stream from the first frame
// header at the start of one of its PES.
func (t *tsParser) nameAudio(payload []byte) {
	es, _, _ := pesHeader(payload)
	if !syncMPA.starts(es) {
		return
	}
	t.audioCodec = [4]string{"", "mp3", "mp2", "mp1"}[es[1]>>1&3]
	t.audioNamed = true
}

// elementary handles a packet of the join stream.
func (t *tsParser) elementary(at int64, pusi, rai bool, payload []byte) {
	if !t.patOK || !t.pmtOK {
		return
	}
	if !pusi {
		t.raiSeen = t.raiSeen || rai
		if t.scanning {
			t.scan(payload)
		}
		return
	}
	t.scanning = false
	switch t.es.kind {
	case kindRAI:
		// Until the muxer shows that it flags random access points, any
		// PES start (paced) is the best there is.
		switch {
		case rai:
			t.raiSeen = true
			t.js.publish(at, t.prefixNow(), t.now)
		case !t.raiSeen:
			if _, ts, ok := pesHeader(payload); ok && t.paced(ts) {
				t.js.publish(at, t.prefixNow(), t.now)
			}
		}
	case kindAudio:
		if es, ts, ok := pesHeader(payload); ok && t.es.sync.starts(es) && t.paced(ts) {
			t.js.publish(at, t.prefixNow(), t.now)
		}
	case kindH264, kindH265, kindMPEG12:
		// random_access_indicator is not trusted for these: muxers set it
		// on open-GOP and recovery-point I pictures too, where a decoder
		// that starts shows errors. The PES itself says what it starts
		// with. The tables' state is kept from here: the keyframe may show
		// only in a later packet, after another PAT or PMT.
		t.scanning = true
		t.pesStart = at
		t.pesTime = t.now
		t.pesBytes = 0
		t.pesGen, t.pesPATCC, t.pesPMTCC = t.tablesGen, t.patCC, t.pmtCC
		t.sc.reset(0)
		es, _, _ := pesHeader(payload)
		t.scan(es)
	}
}

// ptsMask keeps the 33 bits of a PTS or DTS.
const ptsMask = 1<<33 - 1

// ticks90k converts d to 90 kHz clock ticks, at most 2^32 - 1 so that a
// timestamp that went back (a wrap or a discontinuity) always ends a wait.
func ticks90k(d time.Duration) int64 {
	return min(d.Nanoseconds()/1000*9/100, 1<<32-1)
}

// paced reports whether a PES start with timestamp ts may be a join point,
// JoinInterval after the previous one, and records it if so.
func (t *tsParser) paced(ts int64) bool {
	if t.lastTSOK && (ts-t.lastTS)&ptsMask < t.minGap {
		return false
	}
	t.lastTS, t.lastTSOK = ts, true
	return true
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

// pesHeader parses the PES header at the start of payload, when all of it is
// in this packet (as muxers do). es is what follows the header: payload
// itself when it does not start with a PES start code, nil when the header
// goes on in the next packet. ts is the DTS, or the PTS when there is no
// DTS (both are in decoding order for audio); ok is false when the header
// has neither.
func pesHeader(payload []byte) (es []byte, ts int64, ok bool) {
	if len(payload) < 9 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 {
		return payload, 0, false
	}
	if payload[6]&0xc0 != 0x80 {
		return payload[6:], 0, false // no optional PES header
	}
	h := 9 + int(payload[8])
	if h > len(payload) {
		return nil, 0, false
	}
	switch payload[7] >> 6 {
	case 2:
		if h >= 14 {
			ts, ok = pesTimestamp(payload[9:14]), true
		}
	case 3:
		if h >= 19 {
			ts, ok = pesTimestamp(payload[14:19]), true
		}
	}
	return payload[h:], ts, ok
}

// pesTimestamp decodes the 33-bit PTS or DTS in the five bytes b.
func pesTimestamp(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
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
	switch t.es.kind {
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
		// The prefix stands for the tables as they were at the PES start;
		// in the rare case that they changed since, for the new ones.
		patCC, pmtCC := t.pesPATCC, t.pesPMTCC
		if t.pesGen != t.tablesGen {
			patCC, pmtCC = t.patCC, t.pmtCC
		}
		t.js.publish(t.pesStart, t.joinPrefix(patCC, pmtCC), t.pesTime)
	} else if done {
		t.scanning = false
	}
}
