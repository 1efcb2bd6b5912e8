// Package httpapi is fstream's HTTP side listener: live status, operator
// actions, Prometheus metrics, HTTP streaming and a browser player. It is a
// plain http.Handler built on a *server.Server; it owns no listener.
// NewListener wraps the listener it is served on so that an fstream client
// that reached the HTTP port by mistake is told at once where to go.
//
// # Endpoints
//
//	GET  /watch/{user}/{channel}                the live stream as the response body
//	GET  /play/{user}/{channel}                 browser player page (mpegts.js, or native HLS without MSE)
//	GET  /hls/{user}/{channel}/index.m3u8       live HLS playlist (hls.go, package hls)
//	GET  /hls/{user}/{channel}/{segment}.ts     an HLS segment (immutable; signed for protected channels)
//	GET  /healthz                               "ok"
//	GET  /assets/...                            embedded CSS, JS and the vendored player
//	GET  /                                      status page (loopback only by default)
//	GET  /api/v1/channels                       JSON list of channels (loopback only by default)
//	GET  /api/v1/channels/{user}/{channel}      JSON for one channel (loopback only by default)
//	GET  /api/v1/bitrates                       every channel's bitrates, last 5 minutes (loopback only by default)
//	POST /api/v1/channels/{user}/{channel}/kick       kick broadcaster and watchers (admin token)
//	POST /api/v1/channels/{user}/{channel}/kick/{id}  kick one connection (admin token)
//	GET  /api/v1/nodes                          JSON list of the cluster's nodes (loopback only by default)
//	GET  /metrics                               Prometheus text exposition (loopback only by default)
//	GET  /api/v1/recordings                     recorded channels and their files (loopback only by default)
//	GET  /recordings/{user}/{channel}/{file}    a recording's file, for download (loopback only by default)
//
// In a cluster (server.JoinCluster) the channel list adds every channel live
// on other nodes, and each channel's origin and every carrying node's
// watchers, from the directory; a kick is sent to every node (202), with
// ?node=NAME naming the node of a connection id; /metrics adds the
// fstream_cluster_* counters (cluster.go).
//
// # An HTTP watcher's life
//
// GET /watch takes the channel password from ?password= or from the password
// part of HTTP basic auth and calls server.ServeWatcher, the code path TCP
// watchers use: the same hub subscription, join policy (?join=), slow-watcher
// policy, counters and logs. A watcher that cannot join gets the hub's
// refusal before anything is streamed: its reason as the status code
// (refusalStatus: 404 not live, 401 wrong or missing password, 503 full or
// shutting down, with Retry-After, 400 bad join policy) and its message as
// a text body. Once joined, the response
// header is written with a Content-Type from the channel's detected format;
// while the format is still being detected the header waits for the first
// stream bytes, which are sniffed if detection has not finished by then.
// Every batch the hub hands out is written and flushed under the hub's write
// deadline (set through http.ResponseController), so a slow HTTP watcher is
// evicted exactly like a slow TCP one. A watcher the hub ends (kick,
// lagging, stalled) has its response aborted, so the client sees a truncated
// stream rather than a clean end; a channel that ends normally ends the body
// cleanly.
//
// # HLS
//
// With Config.HLS set, a playlist request starts the channel's segmenter
// (package hls) and waits up to 15 s for its first segment. A protected
// channel's playlist needs the channel password (?password= or basic
// auth), checked by the watcher path (server.ServeWatcher, leaving as soon
// as it joined), so that its refusals, counters and the throttle of wrong
// passwords are the watchers'; a password that passed is believed for 30 s
// (hlsauth.go). The playlist is answered "private" and lists signed segment
// URLs. Playlists are "max-age=1"; segments
// "max-age=3600, immutable" with an ETag (their name: it never stands for
// other bytes), served with http.ServeContent (ranges, If-None-Match).
// Config.HLSCORS sets Access-Control-Allow-Origin on both. fstream_hls_*
// metrics count requests by kind and status, segment bytes, viewers
// (client address and User-Agent pairs that fetched a playlist in the last
// 30 s), segments held and evicted.
//
// # A public listener
//
// HTTPServer and Listener give the listener the limits a public port needs:
// a 16 KiB header, a header timeout, an idle timeout, and the relay's own
// connection limits (MaxConns, MaxConnsPerIP) counted together with its
// TCP connections, so that one address cannot double its share. Wrong
// channel passwords share the relay's failure throttle and are answered 429
// past it. Behind a reverse proxy, Config.TrustedProxies names the proxies
// whose X-Forwarded-For (or Forwarded) header is believed: the client is the
// right-most address in it that is not a trusted proxy (see proxy.go); that
// address is what the loopback check, the logs, the status and the
// throttle see.
//
// # Status and bitrates
//
// A sampler goroutine reads every channel's byte counters once a second;
// bitrates are the difference over the last five seconds. The bitrates of
// the last five minutes are kept per channel (rates.go), so that the status
// page draws full graphs when it opens. The JSON API and
// the metrics read the server's counters at request time and never include
// a password. The status page polls the JSON API and draws the bitrate
// graphs itself; the player page is rendered with the few facts it needs
// (protected or not), because it is served to remote clients that may not
// read the API.
package httpapi
