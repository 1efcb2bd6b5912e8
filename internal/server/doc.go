// Package server owns fstream's TCP connections: it accepts them, reads and
// answers handshakes, and connects broadcasters and watchers to the hub
// (package hub), which relays the bytes. It also serves watchers for
// other transports (ServeWatcher, used by package httpapi).
//
// # A connection's life
//
// Serve accepts a TCP connection and starts one goroutine for it (conn.serve),
// which owns every read and write on it; other goroutines only set deadlines
// or close it. Under a handshake deadline it reads the first byte: 0x16
// starts a TLS handshake (served on the same port when Config.TLS is set),
// G, P or H an HTTP request, answered with a page that names the HTTP side
// (httpmix.go), anything else is the first byte of a plain frame. It then
// reads one frame (the length is checked against the limit before anything
// is allocated), parses it with package protocol and then:
//
//   - broadcast: authenticates the user (a password, or a one-time token),
//     becomes the channel's publisher (taking over from a previous one),
//     answers "ok" if ack=1 was asked, clears the deadline and lets the hub
//     read the socket until EOF; when the hub stops it (taken over, kicked,
//     shutdown) a broadcaster that asked for acks is told why in a last
//     status frame (cut.go);
//   - watch: subscribes to the live channel with its password (a watcher
//     that asked for wait=1 is first held until the channel is live,
//     wait.go), answers "ok",
//     then loops (pump, in watcher.go): take the next bytes from the hub,
//     up to 256 KiB in at most three slices, write them with one writev
//     under a write deadline, report how many were written;
//   - token: authenticates the user and answers with a one-time token.
//
// A refused handshake is logged with its reason and, if the client asked
// for acks, answered with an error frame before the close. The hub words
// its own refusals (channel not live, wrong channel password, limits); the
// server words the rest (bad frames, authentication, connection limits).
// Every handshake is counted by its result.
//
// Password attempts, broadcaster logins and watchers' channel passwords
// alike (TCP and HTTP share the watcher path), are throttled per remote
// address and per channel; each attempt reserves its failure before the
// password is checked, so parallel attempts cannot outrun the limit
// (ratelimit.go). MaxConns and MaxConnsPerIP count the HTTP side's
// connections too, through LimitListener (connlimit.go).
//
// # Slow watchers
//
// The broadcaster never writes to a watcher's socket and never waits on one
// for longer than the stall timeout. A watcher's write deadline is the
// moment its oldest pending byte becomes older than MaxLag, so a watcher
// blocked in writev on a link slower than the stream is caught too: if it
// is still moving it is skipped ahead (media), otherwise evicted. Watchers
// evicted for stalling or lagging are reset rather than closed, so that
// their unsent kernel buffers are freed at once. Config.WatcherSendBuffer
// bounds those buffers, and how much a watcher can fall behind before the
// server sees it.
//
// # Hang-ups
//
// A watcher sends nothing after its handshake, so a watcher that hangs up
// is seen when a write to it fails. While nothing is written to it (its
// channel is silent, or it waits for a keyframe) the hub's idle tick makes
// its goroutine return from the hub every 0.4 to 0.8 s and read its socket
// without blocking (probe.go): a close or a reset ends the watcher at once,
// logged as "watcher left". No goroutine or timer per watcher is added. An
// HTTP watcher's request context is cancelled by net/http when its client
// closes, which ends it the same way.
//
// # Shutdown
//
// Shutdown closes the listeners, cuts connections still handshaking, and
// closes the hub: broadcasters stop, watchers receive what was buffered and
// then end. It waits for every connection's goroutine, or closes them all
// when its context ends first. Close does that at once.
//
// # Cluster
//
// JoinCluster makes the server a node of a cluster (package cluster keeps
// the directory in NATS): broadcasters claim their channels, watchers of
// channels ingested elsewhere are served from one pull per channel (an
// upstream watch connection published into the local hub), a watch with a
// pull token is another node pulling, and a takeover on another node stops
// the local broadcaster. cluster.go and pull.go hold it; Shutdown leaves
// the cluster, Close only disconnects.
package server
