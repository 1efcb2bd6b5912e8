// Package server owns fstream's connections and the hub that relays each
// broadcaster's bytes to its watchers.
//
// # A connection's life
//
// Serve accepts a TCP connection and starts one goroutine for it (conn.serve),
// which owns every read and write on it. Under a handshake deadline it reads
// one frame (the length is checked against the limit before anything is
// allocated), parses it with package protocol and then:
//
//   - broadcast: authenticates the user, becomes the channel's publisher
//     (taking over from a previous one), answers "ok" if ack=1 was asked, clears
//     the deadline and lets the hub read the socket until EOF;
//   - watch: subscribes to the live channel with its password, answers "ok",
//     then loops: take the next bytes from the hub, write them with one
//     writev under a deadline, report how many were written.
//
// A refused handshake is logged with its reason and, if the client asked for
// acks, answered with an error frame before the close.
//
// Password attempts, broadcaster logins and watchers' channel passwords
// alike (TCP and HTTP share the watcher path), are throttled per remote
// address and per channel; each attempt reserves its failure before the
// password is checked, so parallel attempts cannot outrun the limit
// (ratelimit.go). MaxConns and MaxConnsPerIP count the HTTP side's
// connections too, through LimitListener (connlimit.go).
//
// # The hub
//
// A Channel is a byte ring. The broadcaster's goroutine reads from its
// socket straight into the ring's free space and then moves the head under the
// channel lock; watchers get slices of the ring between their cursor and the
// head. No byte is copied per watcher in user space, memory per watcher is a
// cursor and a goroutine, and the buffered bytes belong to the channel. The
// broadcaster never writes to a watcher's socket and never waits on one
// for longer than the stall timeout:
//
//   - The ring grows on demand up to Config.ChannelBuffer. When it is full
//     the broadcaster waits for the slowest watcher (TCP flow control end to
//     end, so bulk transfers stay byte-exact) and evicts watchers that made no
//     progress for StallTimeout while holding it back.
//   - A watcher whose oldest undelivered byte is older than MaxLag is evicted
//     (a live watcher on a link slower than the stream). Its write deadline is
//     that same moment, so a watcher blocked in writev is caught too.
//
// Evicted watchers are reset rather than closed, so that their unsent kernel
// buffers are freed at once.
//
// # Why a ring and not a channel of chunks per watcher
//
// The design card sketched a buffered Go channel per watcher carrying
// references to immutable chunks. That costs, per chunk, one send per watcher
// (O(watchers) work and a reference count or an allocation each), a
// per-watcher queue sized in chunks rather than bytes, and a copy or a pool
// for the broadcaster's read buffers. The ring turns all of that into
// positions: publishing a chunk is one head update and one wake-up of the
// watchers that sleep; a watcher's "queue" is the distance from its cursor to
// the head; the reads need no buffers of their own; and the bytes kept for the
// slowest watcher, for joins (the latest GOP) and for bufsize alignment are
// the same bytes, bounded by one number per channel. A watcher that wakes takes
// everything available (up to 1 MiB, in at most two slices, plus the bytes a
// join needs first) and writes it with one writev, so a watcher that fell a
// little behind catches up in few system calls. The free space is only
// recomputed (a walk over the watchers' cursors) when the broadcaster needs it.
//
// # Joins and media
//
// The broadcaster's goroutine feeds every chunk to a media.Tracker before
// publishing it. The channel keeps the latest join point (a keyframe
// position and the PAT/PMT or parameter sets to send before it) and the
// positions of recent ones, retains the ring from the latest keyframe on (up
// to the GOP cache bound; dropped before it would hold the broadcaster back),
// and places each new watcher by its join policy. Under the skip policy a
// lagging media watcher is sent the rest of its GOP and then moved to the
// newest keyframe: a clean cut.
//
// Lock order: Hub.mu before Channel.mu; no lock is held across I/O.
package server
