// Package bench is the load generator behind "fstream bench": it drives a
// relay (or, for a baseline, plain loopback TCP) with broadcasters that
// write verifiable records and watchers that check every byte, and reports
// throughput, latency, integrity, evictions and the server's CPU and
// memory. Run is the entry point; Options says what to run and Result
// holds what was measured.
//
// # Modes
//
//   - relay (the default): an fstream server, either at Options.Addr or a
//     child process the bench starts on a free 127.0.0.1 port with a
//     throwaway user in a temporary users folder. Each channel bench-N gets
//     one broadcaster (broadcast,ack=1,user=U,user-password=P,channel=…)
//     and its watchers (watch,ack=1,user=U,channel=…), all connected and
//     handshaken by client.Dial, as "fstream watch" is; a refused
//     handshake fails the run with the server's reason. With Options.TLS
//     every client connects with TLS, and a child server gets a throwaway
//     self-signed certificate (ECDSA P-256) that only the bench trusts.
//   - raw: a relay that takes no handshake, such as ncat --broker. The
//     broadcaster connects first, then the watchers; one channel.
//   - baseline: no relay. Channels×Watchers independent TCP streams on
//     127.0.0.1 between the bench's own listener and dialers, one writer
//     goroutine per stream, verified the same way (like iperf3 -P N). A
//     relay must make at least these kernel copies, plus its ingest, so
//     every claim about the relay is a ratio against a baseline measured
//     the same way on the same machine.
//
// # Records
//
// A writer sends records of Options.Size bytes (MinSize to MaxSize): a
// 36-byte header, then payload. The records due at once (at full speed:
// always) go out together in one write of up to Options.Batch bytes,
// RelayBatch by default, which is what the relay writes to a watcher at
// once; so a baseline makes the relay's system calls, and a ratio above
// 1 would mean something. Integers are little-endian.
//
//	offset size field
//	     0    4 magic f5 7b e4 1c
//	     4    4 record size, header included
//	     8    4 stream: the channel index (baseline: the stream index)
//	    12    4 payload checksum: CRC-32C of the payload
//	    16    8 sequence number, from 0, per stream
//	    24    8 send time, Unix nanoseconds, taken just before the write
//	    32    4 header checksum: CRC-32C of bytes 0 to 31
//
// The two checksums together cover the whole record; CRC-32C runs on the
// CPU's CRC instructions (about 20 GB/s per core), so checking costs the
// watchers little next to the copies. Payloads are random bytes from a pool
// of 61 slots (record seq uses slot seq mod 61), prepared once with their
// checksums: a writer sends headers and pool slices with one writev and
// computes only the headers' checksums (under TLS, which encrypts each
// write on its own, it gathers them in a buffer first). 61 is prime, so records a power of
// two apart never share a payload, and a relay that serves bytes of a ring
// buffer that has since been overwritten fails the payload checksum.
//
// A watcher joins a live stream at an arbitrary byte, not at a record
// boundary. Its verifier scans for the magic and accepts a candidate only
// if the header checksum, the size and the stream match; from then on each
// record must follow the previous one exactly. It gathers a header in a
// fixed array and checksums a payload as it passes, so read boundaries do
// not matter, records may be larger than the read buffer, and nothing is
// allocated per record. A failed check counts one corrupt record and
// starts a new scan (a resync).
//
// # What the numbers mean
//
// The run connects broadcasters, then watchers (at most 200 handshakes in
// flight), warms up (Options.Warmup, by default a tenth of Duration, at
// most 1 s), then measures for Duration. Rates and latency cover that
// window; gaps, corrupt records and evictions cover the whole run.
//
//   - ingest: bytes the broadcasters wrote in the window, per second.
//   - egress: bytes all reading watchers (regular and slow) read, per
//     second; Gbit/s is 10^9 bits. "regular" repeats it for the regular
//     watchers alone when slow ones are present.
//   - per watcher: minimum, median and maximum of the regular watchers'
//     read rates.
//   - latency: for each record a regular watcher completed in the window,
//     the time its last byte was read minus its send time (same machine,
//     same clock). Log-linear histogram, 16 buckets per power of two:
//     percentiles are upper estimates within 6.25 %; max is exact.
//   - gaps: sequence discontinuities (a record missing, repeated or out of
//     order); lost: the records skipped by them. corrupt: records that
//     failed a check. resyncs: times a watcher had to find the boundary
//     again. All must be 0 for a correct relay.
//   - evicted: watchers the relay closed (reset or EOF) before the end,
//     by kind, with the time from handshake to eviction. Stalled watchers
//     (which never read) and slow ones (reading at SlowRate) are expected
//     to be evicted; they learn it from the kernel's TCP state (Linux
//     only, with unix.GetsockoptTCPInfo) and from a read error
//     respectively. Evictions are counted, not failures.
//   - server CPU: user+system time of the server process in the window
//     (/proc/PID/stat, read with prometheus/procfs), in seconds and in
//     cores, and per 10^9 bytes of egress.
//   - server RSS: peak is the larger of VmHWM at the end of the window and
//     the highest VmRSS sampled once a second. Per watcher is the RSS at
//     the end of the warmup minus the RSS once the broadcasters were
//     connected but no watcher was, divided by the watchers still
//     connected; it includes whatever channel buffers grew because
//     watchers joined. Per channel (JSON, and the table with several
//     channels) is the RSS with broadcasters connected minus before any,
//     divided by the channels.
//   - bench CPU: the bench's own CPU time in the window; it shares the
//     machine with the server, so it is part of the picture.
//   - handshakes: with Options.Handshakes, after the window, with writers
//     stopped and watchers closed but channels live: that many watch
//     handshakes on bench-0, 32 in flight, each closed once accepted;
//     the rate of accepted ones per second.
//
// # Cost of the bench itself
//
// A writer does one writev per batch and one CRC over 32 bytes per record. A watcher
// reuses one read buffer (256 KiB at full speed; about an eighth of a
// second of stream, 4 KiB to 256 KiB, when Rate is set, so that 10,000
// watchers stay small), takes one timestamp per read, and updates one
// atomic counter per read; its histogram is its own (about 4.7 KB) and
// merged at the end. Rate pacing is a token bucket that sleeps only when
// at least 1 ms ahead and catches up after falling behind (up to 1 s).
//
// # Lifetime
//
// The child server, the suite's ncat and its cluster's nats-server and
// nodes are subprocesses (subprocess.go):
// started in their own process group, so that Ctrl-C reaches only the
// bench, which then ends the window early and reports it as interrupted
// (on Linux they also get SIGTERM if the bench dies); ready once they
// accept a connection (the probe sends nothing, so a server logs one
// failed handshake); stopped with SIGTERM, killed if still there 10 s
// later, and reaped. Run stops by itself after Duration. On return every
// goroutine has ended, every connection is closed with a reset (so that
// 10,000 closes leave no TIME_WAIT sockets; under TLS the TCP connection
// is closed directly), and the child server has exited. The bench
// connects only to 127.0.0.1 unless given an address.
//
// # The suite
//
// RunSuite runs the project's performance targets (suite.go, plan.go,
// metrics.go, table.go), each scenario against child servers of its own,
// with baselines measured in the same run; SuiteResult.Err judges it. The
// cluster scenario (plan_cluster.go, cluster.go, clusterprobe.go) starts a
// nats-server and three nodes joined to it, drives them with Run
// (Options.WatchAddrs puts the watchers on other nodes than the
// broadcaster; Options.OnWindow reads the origin's /metrics at the
// window's edges) and times cold pulls and a failover with probes. It
// is run by the command in cmd/suite ("make bench"), not by the shipped
// fstream binary, whose "fstream bench" is the load generator alone.
package bench
