// Package media finds the places in a live byte stream where a new watcher
// can start and decode a clean picture at once: join points.
//
// The relay feeds a Tracker every chunk it reads from a broadcaster, in
// order, from the broadcaster's goroutine. The Tracker only reads: it never
// modifies or keeps the caller's slices, it copies nothing of the stream but
// the few bytes it caches (the first 4 KiB while detecting, PAT and PMT
// packets, parameter sets, one TS packet split across two writes), and once
// those caches are warm a Write allocates nothing. Every decision depends on
// the bytes alone, never on how they were split into writes, so the join
// points are the same for any read sizes. The package has no I/O, no
// goroutines and no locks.
//
// # Detection
//
// The first bytes decide the format, in this order:
//
//   - Annex B: the stream starts with zero bytes and 0x01 (a start code),
//     then a NAL unit header. It is H.264 when that header and the next
//     NAL unit's are plausible H.264 headers (forbidden bit clear, a type an
//     encoder starts with, a nal_ref_idc the type allows), else H.265 when
//     both are plausible H.265 headers (two bytes, base layer, temporal id
//     set). The nal_ref_idc rules keep an H.265 AUD (0x46 0x01) from passing
//     as an H.264 SEI. If no second NAL unit arrives within the first 4 KiB,
//     the first header alone decides.
//   - MPEG-TS: 0x47 sync bytes 188 bytes apart five times in a row, at any
//     offset, so a stream that does not start on a packet boundary is found
//     too.
//   - Generic: anything else, once TrackerConfig.DetectLimit bytes went by.
//
// The first 4 KiB are kept until the format is known and then replayed into
// the chosen parser, so a keyframe at the very start counts.
//
// # MPEG-TS
//
// The parser walks 188-byte packets in place. When a packet does not start
// with 0x47 it drops the alignment and finds it again as in detection. From
// PID 0 it takes the PAT and the PMT PID of the first program; from the PMT
// the first video stream and its codec (stream_type 0x1b H.264, 0x24 H.265,
// 0x01/0x02 MPEG-1/2 video, 0x10 MPEG-4). Sections must fit in one packet
// and pass their CRC. The latest PAT and PMT packets are cached; a
// repetition that differs only in continuity_counter keeps the cached copy.
//
// A join point is the first packet (payload_unit_start_indicator set) of a
// video PES that starts with a keyframe, and its Prefix is the cached PAT and
// PMT packets, so that a demuxer knows the programs at once. For H.264,
// H.265 and MPEG-1/2 video the PES itself decides: its first VCL NAL unit
// must be an IDR (H.264) or an IRAP picture (H.265), or a sequence header
// must come before the first picture (MPEG-1/2). random_access_indicator is
// not trusted for these codecs, because muxers also set it on open-GOP and
// recovery-point I pictures, where a decoder that starts shows errors; it
// is what decides for other video codecs.
//
// # H.264 and H.265 Annex B
//
// A start code scanner finds 00 00 01 with bytes.IndexByte, handling start
// codes and NAL unit headers split across writes, and reports each NAL
// unit's header and the byte after it. From these the parser groups NAL
// units into access units (H.264 7.4.1.2.3, H.265 7.4.2.4.4): an access
// unit starts at an AUD; at a parameter set, SEI or other prefix NAL unit
// that follows a VCL NAL unit; or at a VCL NAL unit that starts a new
// picture (first_mb_in_slice == 0, first_slice_segment_in_pic_flag set)
// after another picture's VCL NAL unit.
//
// A join point is the start of an access unit whose first VCL NAL unit is an
// IDR (H.264 type 5) or IRAP (H.265 types 16 to 21: BLA, IDR, CRA; a decoder
// starting at a CRA drops the RASL pictures after it). An I slice with a
// recovery point SEI is not one: its pictures may reference the GOP before.
// The latest SPS and PPS (and VPS for H.265) are cached with 4-byte start
// codes. When the access unit at a join point does not carry all of them,
// its Prefix is the cached ones; when none were seen yet, it is no join
// point. Encoders like libx264 repeat the parameter sets before every IDR,
// hardware encoders often send them only once.
//
// Only the latest parameter set of each type is cached, so streams that
// switch between several SPS or PPS ids are not supported; H.265 NAL units
// of layers above the base layer are ignored.
//
// # Retention
//
// Prefix slices are immutable: a change of PAT, PMT or parameter sets makes
// a new one, so any number of watchers may share them. RetainFrom tells the
// relay the oldest offset a future join point could start at (the TS packet,
// PES, NAL unit or access unit still being parsed, or 0 while detecting);
// keeping bytes from min(RetainFrom, JoinPoint.Pos) on is enough to serve
// any join point.
//
// Tests use small ffmpeg-made fixtures in testdata/; see testdata/README.md.
package media

//go:generate sh testdata/gen.sh
