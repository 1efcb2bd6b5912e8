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
// Lock order: Hub.mu before Channel.mu; no lock is held across I/O.
package server
