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
// PID 0 it takes the PAT and the PMT PID of the first program. Sections must
// fit in one packet and pass their CRC; a repetition that differs only in
// continuity_counter keeps the cached copy (and is recognised by comparing
// bytes, before any CRC is computed).
//
// From the PMT it chooses the join stream: the first video stream, else the
// first audio stream, else the first other PES stream (sections, SCTE-35,
// subtitles, teletext and metadata never join). How its PES become join
// points depends on what it is:
//
//   - H.264 (stream_type 0x1b), H.265 (0x24), MPEG-1/2 video (0x01, 0x02):
//     the PES itself decides. Its first VCL NAL unit must be an IDR (H.264)
//     or an IRAP picture (H.265), or a sequence header must come before the
//     first picture (MPEG-1/2). random_access_indicator is not trusted for
//     these codecs, because muxers also set it on open-GOP and recovery-point
//     I pictures, where a decoder that starts shows errors.
//   - Audio: AAC in ADTS (0x0f) or LATM (0x11), MPEG-1/2 audio (0x03,
//     0x04), AC-3 (0x81), E-AC-3 (0x87), and private data (0x06) with an
//     AC-3 or enhanced AC-3 descriptor or a registration descriptor "AC-3",
//     "EAC3" or "Opus". Audio frames decode on their own, so a PES is a join
//     point when its payload starts with a frame's sync word (for LATM, with
//     a frame that carries its StreamMuxConfig) and it has a PTS. Audio PES
//     come every 20 ms to a few hundred, so join points are paced: at least
//     TrackerConfig.JoinInterval (250 ms) apart by the stream's own DTS or
//     PTS; a timestamp that goes back (a wrap, a splice) ends the wait.
//   - Other video codecs (MPEG-4 part 2, VC-1, AV1, ...) and unknown stream
//     types: a PES whose first packet sets random_access_indicator; until the
//     stream has shown that it sets the flag at all, any PES start with a
//     timestamp, paced as audio.
//
// Info.Codec names the join stream's codec when it is video; Info.AudioCodec
// the first audio stream's, reading the layer (mp1, mp2, mp3) from MPEG
// audio's first frame header.
//
// A join point's Prefix is the cached PAT and PMT packets, so that a demuxer
// knows the programs at once. They carry the continuity counters of the
// latest copies before the join point (for a keyframe found a few packets
// into its PES, before the PES start), so that the stream's next copies
// follow on without a discontinuity. Prefixes are built per table version
// and PAT counter, at most 16, so a stream whose PAT and PMT repeat in step
// soon stops allocating.
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
// # Fallback points
//
// A stream may offer no join point for a long time: an encoder with a very
// long GOP, audio PES that never start with a frame, a TS without timestamps
// or random_access_indicator. For a watcher that waited too long,
// Tracker.FallbackPoint gives the safest boundary there is: the newest TS
// packet boundary with the PAT and PMT first (the demuxer skips to the next
// PES of each stream; video may show errors until its next keyframe), or
// the start of the newest Annex B access unit with the cached parameter
// sets. Its Seq is 0: it is not a join point.
//
// # Retention
//
// Prefix slices are immutable: a change of PAT, PMT or parameter sets makes
// a new one, so any number of watchers may share them. RetainFrom tells the
// relay the oldest offset a future join point or the fallback point could
// start at (the TS packet, PES, NAL unit or access unit still being parsed,
// or 0 while detecting); keeping bytes from min(RetainFrom, JoinPoint.Pos) on
// is enough to serve any join point and the fallback point.
//
// The subpackage mediatest checks TS continuity counters for tests at any
// layer.
//
// Tests use small ffmpeg-made fixtures in testdata/; see testdata/README.md.
package media

//go:generate sh testdata/gen.sh
