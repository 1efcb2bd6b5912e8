// Package hls serves live channels as HTTP Live Streaming: it cuts a
// channel's bytes into MPEG-TS segments kept in memory and lists them in a
// live playlist. It has no network code (package httpapi serves the
// playlists and segments) and does not import net.
//
// # The data flow
//
// A Manager owns one segmenter run per channel with HLS viewers. The first
// playlist request starts it (Manager.Playlist): the run subscribes to the
// hub like any watcher (at the latest keyframe, hub.JoinGOP, with the
// channel password skipped: the HTTP side checked it) and one goroutine
// loops on Subscription.DoneNext, feeding every byte to a Segmenter. Each
// finished segment is stored under Manager.mu; a request that arrives
// before the first one waits for it. The janitor stops a run after
// Config.IdleTimeout without a playlist or segment request and drops its
// segments, so a channel nobody watches over HLS costs nothing; channels
// matching Config.Always run whenever they are live.
//
// # Cutting
//
// The Segmenter runs a media.Tracker over the bytes it is fed (in pieces
// of at most seven TS packets, so that no piece holds two keyframes) and
// goes by its format:
//
//   - MPEG-TS is cut at the tracker's join points, the same keyframes a
//     joining watcher starts at: a segment is the join point's prefix (the
//     PAT and PMT) and the bytes from one join point to the first one at
//     least Config.MinSegment later. Its duration is the difference of the
//     PTS of the PES at the two join points (33-bit wrap handled), or of
//     their arrival times when a PTS is missing or jumps by a minute or
//     more.
//   - Raw H.264 and H.265 (Annex B) are split into access units (annexb.go,
//     the rules package media uses) and packetised into MPEG-TS with
//     github.com/asticode/go-astits, a maintained MPEG-TS muxer (a muxer of
//     our own would repeat its PSI, PES and adaptation field code): one PES
//     per access unit on PID 0x100, the PAT and PMT before every keyframe,
//     a PCR in every PES, the cached parameter sets before a keyframe that
//     lacks them. Decode timestamps come from the frame rate in the
//     parameter sets (an H.264 SPS's VUI timing, an H.265 SPS's VUI or VPS
//     timing) when the stream has one, one frame per access unit;
//     otherwise from each access unit's arrival time. Presentation
//     timestamps follow each picture's order count read from its first
//     slice header (poc.go; H.264 pic_order_cnt_type 0, and H.265), four
//     frames after the decode time, so B-frames show in order; streams
//     timed by arrival, or whose order count is not read (H.264 types 1
//     and 2; type 2 has no B-frames), get PTS = DTS.
//
// Every segment thus starts with a PAT, a PMT and a keyframe. A segment
// that grows past Config.MaxSegmentBytes without a keyframe is dropped,
// and the next one is marked discontinuous.
//
// # Broadcaster changes
//
// When Subscription.Stream changes (a takeover, or a broadcaster that came
// back within the grace period), the run finishes the segment being cut,
// starts a new Segmenter state and marks the next segment: the playlist
// puts EXT-X-DISCONTINUITY before it and counts it in
// EXT-X-DISCONTINUITY-SEQUENCE once it leaves the window.
//
// # Segments and playlists
//
// Segments are named RUN-SEQ.ts, RUN being random per run, so a name never
// stands for other bytes and caches may keep it. A channel keeps at most
// Config.MaxSegments and Config.MaxChannelBytes; all channels together at
// most Config.MaxTotalBytes, the oldest segment anywhere going first. Each
// eviction is counted (Counters.Evicted). The live playlist lists the
// newest Config.Window segments with EXT-X-PROGRAM-DATE-TIME (the arrival
// time of a segment's first byte) and an EXT-X-TARGETDURATION that is the
// longest segment of the run so far, rounded up: with a steady GOP it is
// the GOP.
//
// # Protected channels
//
// A Signer signs segment URLs with an HMAC-SHA256 key made at start: the
// playlist of a protected channel needs the channel password, and lists
// each segment with ?exp=&sig=, where exp is the segment's creation plus
// Config.SignTTL. The same segment always gets the same URL, so a cache
// keeps one copy, and the password never appears in a segment URL.
package hls
