// Package record writes live channels to disk: each channel that matches
// Config.Channels, while it is live, into Dir/USER/CHANNEL/START.EXT files
// (START is the UTC time of the file's first byte, 20261203T104512.345Z;
// EXT is .ts for MPEG-TS, .h264 or .h265 for raw Annex B, .bin for generic
// streams). It knows nothing of sockets.
//
// # The data flow
//
// A Recorder looks at the hub's channels every ScanInterval and starts a
// recording for each live one that matches and has none. A recording is
// two goroutines:
//
//   - The subscriber (channel.go) is an ordinary hub watcher: it loops on
//     Subscription.DoneNext, copies each batch into a queue bounded by
//     Config.Buffer bytes and reports it written at once. It never waits
//     for the disk, so the recorder never holds back the broadcaster or
//     the other watchers. When the queue is full it records a gap: it
//     counts it, logs it, drops its subscription, waits until the writer
//     has caught up to half the buffer and subscribes again at the next
//     keyframe (a generic stream at the next byte), whose bytes start a
//     new file. When Subscription.Stream changes (a takeover, or a
//     broadcaster back within the grace period; the hub starts a media
//     watcher at the new stream's first join point) the next batch starts
//     a new file too.
//   - The disk writer (segment.go) owns the files. It feeds the bytes to
//     its own media.Tracker and rolls over to a new file at the first join
//     point (a keyframe with the PAT and PMT, or the parameter sets, first)
//     after Config.Segment; generic streams roll over when the time is up.
//     Bytes a coming join point may start at (from Tracker.RetainFrom) are
//     held back in memory, at most maxHold, so that a keyframe confirmed a
//     few packets into its PES is still cut at its first byte. MPEG-TS
//     files only ever get whole 188-byte packets, so a crash leaves the
//     current file readable up to its last packet; a finished file is
//     synced and closed before the next one starts.
//
// A disk error (ENOSPC, EDQUOT, a permission or read-only file system, any
// other I/O error) stops that recording with one log line and a count by
// kind: the file keeps its whole packets and is closed, and the stream is
// dropped until a retry after a backoff (RetryMin doubling to RetryMax)
// opens a new file at the next join point. A full disk also runs retention
// at once, which may free the space.
//
// # Retention
//
// After each finished file and every PruneInterval the recorder deletes,
// oldest first, every file older than Keep.Age (by its last write) and then
// files until all fit in Keep.Bytes. Files being written are never
// deleted.
//
// # Names and paths
//
// User and channel names are the protocol's (protocol.ValidateName: no
// separators, not "." or ".."), checked again before a path is built; List
// and Open only know files whose names parse as the recorder's own, and
// Open reads through an os.Root of Dir, so no name reaches outside it.
package record
