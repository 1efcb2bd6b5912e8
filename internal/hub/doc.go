// Package hub relays each live channel's bytes from its one broadcaster to
// its many watchers. It knows nothing of sockets (it does not import net):
// a broadcaster hands it an io.Reader, a watcher takes byte slices from it
// and reports how many it wrote. Package server feeds it TCP connections,
// package httpapi HTTP responses.
//
// # The data flow
//
// A Channel is identified by a Key (user, channel) and holds a ring: one
// byte array addressed by absolute stream positions (ring.go).
//
//   - Publish makes the caller the channel's broadcaster (creating the
//     channel or taking it over). Its goroutine runs Publisher.ReadFrom,
//     which loops: reserve free space in the ring, Read from the broadcaster
//     straight into it (no lock held: nobody else writes or reads there),
//     feed the bytes to a media.Tracker, commit them (publisher.go).
//     Committing moves the head, copies the newest join point and fallback
//     point from the tracker (join.go) and publishes the bytes to
//     watchers, at once or after the broadcaster's delay or the hub's
//     coalescing interval (Config.Coalesce: up to an interval or 64 KiB,
//     so that each watcher writes fewer, larger batches), by waking the
//     watchers that sleep. Publishing records when the bytes became
//     visible: a byte's lag is measured from then (lag.go), so a delay is
//     not lag.
//   - Subscribe adds a watcher, placed by its join policy: at the latest
//     keyframe with the PAT/PMT or parameter sets it needs first, waiting
//     for the next keyframe, at the next byte, or at a bufsize chunk start
//     (join.go). A watcher that found no join point within JoinTimeout
//     starts at the newest fallback point instead (a TS packet boundary
//     after the PAT and PMT, an Annex B access unit after the parameter
//     sets), counted and logged once per channel. The watcher's goroutine
//     loops on Subscription.DoneNext: it gets up to three slices (join
//     prefix and at most two spans of the ring), writes them, and reports
//     how many bytes it wrote with the next call (subscription.go).
//   - A watcher whose sink can be written without blocking (a plain TCP
//     socket: SubscribeOptions.Direct) does not sleep once it is caught up:
//     Next returns ErrDirect and the channel's few writers (Config.Writers,
//     one per CPU by default) write to it at each publish, taking the lock
//     once per group of watchers, until a write cannot take a whole batch;
//     then they hand it back to its goroutine, which goes on with its own
//     blocking, deadline-bound writes (direct.go). One publish wakes a few
//     goroutines, not one per watcher.
//   - A watcher with nothing to write sleeps on its channel's wake-up and
//     on the hub's idle tick (IdleTick): a channel closed every tick for
//     all watchers, so no timer per watcher. A watcher gets ErrIdle one to
//     two ticks after it last wrote, however often new chunks wake it
//     meanwhile (a waiting one), and one that waits for the next chunk of
//     a live stream is not woken at all. At ErrIdle the caller checks that
//     its peer is still there (a hung-up watcher of a silent channel, or
//     one waiting for a keyframe, is noticed) before it calls again; a
//     waiting watcher past its join timeout takes the fallback point then,
//     even if the channel is silent.
//   - When the ring is full the broadcaster grows it (up to Config.Buffer),
//     then drops the GOP kept for joins, then waits for the slowest watcher:
//     TCP flow control end to end, so a file piped at full speed arrives
//     byte-exact. A watcher that makes no progress for StallTimeout while
//     holding the ring full is evicted; the congestion clock that measures
//     this outlives one wait, so watchers that stalled together go together
//     (lag.go).
//   - A watcher whose oldest pending byte is older than MaxLag is moved to
//     the newest keyframe after finishing its GOP (SlowSkip, media only) or
//     evicted (SlowDisconnect, and always for generic streams). Next tells
//     the caller that moment, so it can use it as its write deadline.
//   - Each broadcaster (the first, one that took over, one that came back
//     within the grace period) sends its own stream (stream.go). Watchers
//     see a transport stream up to its last whole packet only, so that a
//     switch never follows a torn packet. A watcher that reaches the end of
//     a media stream waits for the next stream's first join point, as a
//     joining watcher would, rather than being fed a new stream in mid-GOP;
//     after a generic stream it goes on at the next one's first byte.
//     Subscription.Stream numbers the stream of the bytes Next returned,
//     which never span two, so HLS and recordings can mark the switch.
//   - A channel ends when its broadcaster leaves and none comes back within
//     Config.Grace; its watchers get every byte first, then ErrChannelEnded.
//     Kick and Close end connections on an operator's or the server's
//     behalf. Every eviction and stop is counted by CloseReason and reported
//     to the connection through OnEvict or OnStop, so that it can interrupt
//     a blocked write or read.
//
// A broadcaster or watcher the hub turns away gets a *JoinError: its
// sentinel for errors.Is, the protocol.Reason and a message for the peer,
// from one table (errors.go). Status snapshots and counters are in info.go.
//
// # Why one ring per channel
//
// The alternative, a queue per watcher carrying references to chunks, costs
// per chunk one send per watcher (work that grows with the watchers, and a
// reference count or an allocation each), a queue sized in chunks rather
// than bytes, and a pool for the broadcaster's read buffers. The ring turns
// all of that into positions: publishing a chunk is a head update and one
// wake-up of the watchers that sleep; a watcher's queue is the distance
// from its cursor to the head; the broadcaster's reads need no buffers of
// their own; no byte is copied per watcher; and the bytes kept for the
// slowest watcher, for joins (the latest GOP) and for bufsize alignment are
// the same bytes, bounded by one number per channel. A watcher that wakes
// takes everything available in one batch, so one that fell a little
// behind catches up in few system calls. The free space is recomputed (a
// walk over the watchers' cursors) only when the broadcaster needs it.
//
// # Time
//
// The hub reads time from Config.Clock: lag marks, stall checks, grace
// periods, delayed publishing, join timeouts, the idle tick and the
// broadcaster's periodic checks while it waits. Tests pass hubtest.Clock and move time themselves.
//
// # Locks
//
// Lock order: Hub.mu before Channel.mu. No lock is held across I/O: the
// broadcaster reads into the ring's free space and watchers (or the
// channel's writers) write ring slices without the channel lock, and the OnStop, OnEvict and OnEvent
// callbacks run with no lock held. Functions named ...Locked expect
// Channel.mu.
package hub
