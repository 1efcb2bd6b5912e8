package bench

import (
	"crypto/tls"
	"fmt"
	"io"
	"time"
)

// Defaults applied by Run to zero fields.
const (
	DefaultSize     = 64 << 10
	DefaultDuration = 10 * time.Second
	DefaultUser     = "bench"
	// RelayBatch is the most bytes the relay writes to a watcher at once
	// (the server's maxBatch): a watcher's whole backlog, up to this, in
	// one writev. Writers batch records up to the same size by default,
	// so that a baseline makes the system calls the relay makes and a
	// ratio against it compares copies, not write sizes.
	RelayBatch = 256 << 10
	// maxWarmup caps the warmup that Run picks by itself.
	maxWarmup = time.Second
	// connectConcurrency bounds watcher handshakes in flight while
	// connecting, so that 10,000 watchers do not overrun the server's
	// accept queue.
	connectConcurrency = 200
	// broadcastConcurrency bounds broadcaster handshakes in flight; each
	// costs the server a bcrypt comparison.
	broadcastConcurrency = 8
	// handshakeConcurrency is how many handshakes the handshake-rate
	// measurement keeps in flight.
	handshakeConcurrency = 32
	// ioTimeout bounds a dial, a handshake and the child server's start.
	ioTimeout = 10 * time.Second
	// stallPoll is how often a stalled watcher asks the kernel whether the
	// server has dropped it.
	stallPoll = 50 * time.Millisecond
)

// Options configures Run. Zero values mean the defaults above.
type Options struct {
	// Addr is the server to drive (host:port). Empty starts a child
	// server on a free loopback port.
	Addr string
	// ServerCmd starts the child server, e.g. {"/path/to/fstream",
	// "serve"}; Run appends --listen 127.0.0.1:PORT --users DIR, the
	// flags that lift a public server's limits (--max-conns=0 ...), with
	// TLS --tls-cert and --tls-key, and then ServerArgs.
	ServerCmd []string
	// ServerArgs are extra flags for the child server (--channel-buffer…).
	ServerArgs []string
	// ServerPID, with Addr, names the server process whose CPU time and
	// memory are read from /proc. Zero reports neither.
	ServerPID int
	// User and Password authenticate the broadcasters at Addr. With a
	// child server Run makes a throwaway user and ignores them.
	User, Password string

	// Watchers is the number of reading watchers per channel.
	Watchers int
	// Channels is the number of channels, each with one broadcaster.
	Channels int
	// Size is the size of each record (MinSize to MaxSize bytes).
	Size int
	// Batch is the most bytes one write carries: the records due at once
	// (at full speed, always) go out together in one writev, at least
	// one. 0 means RelayBatch; Size writes one record at a time.
	Batch int
	// Rate is each broadcaster's pace in bytes/s; 0 is as fast as
	// possible.
	Rate int64
	// Duration is the measured window, which follows a warmup.
	Duration time.Duration
	// Warmup precedes the window; 0 picks Duration/10, at most 1 s.
	Warmup time.Duration
	// Stalled watchers per channel, in addition to Watchers, never read
	// after their handshake.
	Stalled int
	// Slow watchers per channel, in addition to Watchers, read at
	// SlowRate bytes/s.
	Slow     int
	SlowRate int64

	// Baseline measures the machine instead of a relay: Channels*Watchers
	// independent TCP streams on 127.0.0.1 between the bench's own
	// sockets, written and verified the same way.
	Baseline bool
	// Raw drives a relay that takes no handshake (ncat --broker): the
	// broadcaster connects to Addr first, then the watchers. It needs
	// Addr and one channel.
	Raw bool
	// TLS, if set, makes the clients connect with TLS with this
	// configuration. With a child server Run gives the server a
	// throwaway self-signed certificate and trusts only that. Not for a
	// baseline or raw mode.
	TLS *tls.Config
	// WatchAddrs, with Addr, are where the watchers connect, in turn
	// (watcher i of a channel to WatchAddrs[i%len]); the broadcasters
	// connect to Addr. For a cluster: broadcast on one node, watch on
	// others. Empty: Addr.
	WatchAddrs []string
	// OnWindow, if set, is called as the measured window begins
	// (end false) and as it ends (end true), on the run's goroutine:
	// to read the server's own counters over the same window.
	OnWindow func(end bool)
	// Handshakes, if positive, also measures the handshake rate: that
	// many watch handshakes on a live channel, as fast as possible, after
	// the window.
	Handshakes int
	// Progress receives one progress line per second (a line rewritten in
	// place if it is a terminal). Nil prints nothing.
	Progress io.Writer
}

// withDefaults returns a copy of o with zero fields set and checks it.
func (o Options) withDefaults() (Options, error) {
	if o.Channels == 0 {
		o.Channels = 1
	}
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	if o.Batch == 0 {
		o.Batch = RelayBatch
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Warmup == 0 {
		o.Warmup = min(o.Duration/10, maxWarmup)
	}
	if o.Addr == "" && !o.Baseline {
		o.User = DefaultUser
		o.Password = "" // made up when the server starts
	}
	return o, o.validate()
}

func (o *Options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadOptions}, args...)...)
	}
	switch {
	case o.Watchers < 0 || o.Stalled < 0 || o.Slow < 0 || o.Channels < 0 || o.Handshakes < 0:
		return bad("counts must not be negative")
	case o.Watchers+o.Stalled+o.Slow == 0:
		return bad("no watchers")
	case o.Size < MinSize || o.Size > MaxSize:
		return bad("size %d is out of range %d to %d bytes", o.Size, MinSize, MaxSize)
	case o.Batch < 0 || o.Batch > MaxSize:
		return bad("batch %d is out of range 0 to %d bytes", o.Batch, MaxSize)
	case o.Rate < 0 || o.SlowRate < 0:
		return bad("rates must not be negative")
	case o.Duration < 0 || o.Warmup < 0:
		return bad("durations must not be negative")
	case o.Slow > 0 && o.SlowRate == 0:
		return bad("slow watchers need a slow rate")
	case o.Channels*(o.Watchers+o.Stalled+o.Slow) > 1_000_000:
		return bad("%d watchers in all is too many", o.Channels*(o.Watchers+o.Stalled+o.Slow))
	}
	if o.TLS != nil && (o.Baseline || o.Raw) {
		return bad("TLS goes with the fstream handshake: not with a baseline or raw mode")
	}
	if o.Baseline {
		switch {
		case o.Raw || o.Addr != "" || len(o.WatchAddrs) > 0:
			return bad("a baseline uses no server (no address, not raw)")
		case o.Stalled > 0 || o.Slow > 0:
			return bad("a baseline has no relay to stall: no stalled or slow watchers")
		case o.Handshakes > 0:
			return bad("a baseline has no handshakes to measure")
		}
		return nil
	}
	if o.Raw {
		switch {
		case o.Addr == "":
			return bad("raw mode drives a running relay: give its address")
		case o.Channels != 1:
			return bad("raw mode has a single channel")
		case len(o.WatchAddrs) > 0:
			return bad("raw mode has one address")
		case o.Handshakes > 0:
			return bad("raw mode has no handshakes to measure")
		}
		return nil
	}
	if o.Addr == "" {
		if len(o.ServerCmd) == 0 {
			return bad("no address and no command to start a server")
		}
		if o.ServerPID != 0 || len(o.WatchAddrs) > 0 {
			return bad("a server pid and watch addresses go with an address")
		}
		return nil
	}
	if o.User == "" {
		return bad("driving %s needs a user who may broadcast", o.Addr)
	}
	return nil
}

// readBufSize picks a watcher's read buffer: large at full speed, so that
// one read takes whatever the kernel has; about 1/8 s of stream at a set
// rate, so that 10,000 watchers stay small.
func readBufSize(rate int64) int {
	const small, large = 4 << 10, 256 << 10
	if rate <= 0 {
		return large
	}
	n := small
	for n < large && int64(n) < rate/8 {
		n *= 2
	}
	return n
}

// perWrite is how many records one write carries at most.
func (o *Options) perWrite() int { return max(1, o.Batch/o.Size) }

// channelName is the name of channel i.
func channelName(i int) string { return fmt.Sprintf("bench-%d", i) }
