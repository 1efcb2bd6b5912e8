package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// Auth decides who may broadcast. Required.
	Auth auth.Authenticator
	// Tokens issues and redeems one-time broadcast tokens (the "token"
	// command and token= in a broadcast). Nil disables tokens.
	Tokens TokenStore
	// Logger receives one line per connection event. Nil discards.
	Logger *slog.Logger

	// HandshakeTimeout bounds the time a client has to send its whole
	// handshake after connecting.
	HandshakeTimeout time.Duration
	// MaxHandshake is the largest handshake text accepted, in bytes.
	MaxHandshake int
	// MaxConns bounds open connections (handshaking, watching and
	// broadcasting). Zero means no limit.
	MaxConns int
	// MaxConnsPerIP bounds open connections from one remote address.
	// Zero means no limit.
	MaxConnsPerIP int
	// MaxChannels bounds live channels; MaxWatchersPerChannel bounds one
	// channel's watchers. Zero means no limit.
	MaxChannels           int
	MaxWatchersPerChannel int
	// AuthFailuresPerMinute is how many failed broadcaster logins one
	// remote address may make per minute (as a burst, refilled evenly)
	// before its logins are refused with "busy". Zero means no limit.
	AuthFailuresPerMinute int

	// TLS, if set, lets clients connect with TLS on the same port as plain
	// clients: a connection whose first byte starts a TLS record (0x16) is
	// served over TLS. Plain handshakes always start with 0x00.
	TLS *tls.Config
	// TLSRequired refuses plain (non-TLS) handshakes.
	TLSRequired bool

	// BroadcasterGrace is how long watchers stay connected after their
	// broadcaster leaves, waiting for it to come back.
	BroadcasterGrace time.Duration
	// MaxWatchWait bounds how long a watcher that asked for wait=1 is held
	// while its channel is not live; it is then refused with not-found (and
	// may ask again). Such a watcher is a connection like any other, counted
	// against MaxConns and MaxConnsPerIP. Zero refuses at once, as if wait
	// were not asked.
	MaxWatchWait time.Duration
	// StallTimeout is how long a watcher may make no progress while it
	// holds its channel's broadcaster back before it is disconnected.
	StallTimeout time.Duration
	// MaxLag is the largest age of a watcher's oldest undelivered byte
	// before it is disconnected (a live watcher on a link too slow for the
	// stream). Zero disables the check.
	MaxLag time.Duration
	// ChannelBuffer bounds the bytes a channel buffers for its slowest
	// watcher. It is shared by all watchers of the channel. When it is
	// full the broadcaster is held back.
	ChannelBuffer int

	// Coalesce, if positive, lets a channel's new bytes wait up to this
	// long (or until hub.DefaultCoalesceBytes of them are pending) before
	// its watchers are woken to write them: fewer, larger writes for a few
	// milliseconds of latency. A broadcaster's longer delay= wins for its
	// channel. See docs/PERFORMANCE.md for what it saves.
	Coalesce time.Duration

	// Writers is how many goroutines per channel write to the watchers whose
	// sockets have room, so that a broadcaster's read wakes a few
	// goroutines, not one per watcher (hub.Config.Writers). Zero means one
	// per CPU; -1 means every watcher writes from its own goroutine.
	Writers int

	// WatcherSendBuffer, if positive, sets each watcher socket's kernel send
	// buffer (SO_SNDBUF). Smaller buffers bound the server's kernel memory
	// with many watchers and make MaxLag see lag sooner; zero keeps the
	// kernel's autotuning.
	WatcherSendBuffer int

	// GOPCache bounds the bytes of the latest group of pictures kept so
	// that a joining watcher gets a picture at once. It lives in the
	// channel's ring, shared by all watchers, and is dropped before it
	// could hold the broadcaster back. At most half the channel buffer is
	// used.
	GOPCache int
	// DefaultJoin is where a watcher that asks for no policy starts in a
	// media stream (generic streams always join live).
	DefaultJoin hub.JoinPolicy
	// SlowPolicy is what happens to a media watcher whose oldest byte is
	// older than MaxLag: skip to the newest keyframe, or disconnect.
	SlowPolicy hub.SlowPolicy
	// JoinTimeout bounds how long a watcher waits for a join point (a
	// keyframe): after it, a watcher that found none starts at the safest
	// boundary the stream offers (see docs/JOINS.md).
	JoinTimeout time.Duration
}

// Defaults.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxConns         = 20000
	DefaultMaxConnsPerIP    = 200
	DefaultMaxChannels      = 1000
	DefaultMaxWatchers      = 10000
	DefaultAuthFailures     = 10
	DefaultBroadcasterGrace = 10 * time.Second
	DefaultMaxWatchWait     = 10 * time.Minute
	DefaultStallTimeout     = time.Second
	DefaultMaxLag           = 10 * time.Second
	DefaultChannelBuffer    = 16 << 20
	DefaultGOPCache         = 8 << 20
	DefaultJoinTimeout      = 5 * time.Second
	// minChannelBuffer keeps the ring large enough for efficient reads.
	minChannelBuffer = 64 << 10
	// maxWriters bounds Writers: more writers than CPUs only add wake-ups.
	maxWriters = 256
)

// DefaultConfig returns the defaults. Auth must still be set.
func DefaultConfig() Config {
	return Config{
		HandshakeTimeout:      DefaultHandshakeTimeout,
		MaxHandshake:          protocol.DefaultMaxText,
		MaxConns:              DefaultMaxConns,
		MaxConnsPerIP:         DefaultMaxConnsPerIP,
		MaxChannels:           DefaultMaxChannels,
		MaxWatchersPerChannel: DefaultMaxWatchers,
		AuthFailuresPerMinute: DefaultAuthFailures,
		BroadcasterGrace:      DefaultBroadcasterGrace,
		MaxWatchWait:          DefaultMaxWatchWait,
		StallTimeout:          DefaultStallTimeout,
		MaxLag:                DefaultMaxLag,
		ChannelBuffer:         DefaultChannelBuffer,
		GOPCache:              DefaultGOPCache,
		DefaultJoin:           hub.JoinGOP,
		SlowPolicy:            hub.SlowSkip,
		JoinTimeout:           DefaultJoinTimeout,
	}
}

// Validate reports every invalid setting, joined into one error.
func (c *Config) Validate() error {
	var errs []error
	if c.Auth == nil {
		errs = append(errs, errors.New("no authenticator"))
	}
	if c.HandshakeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("handshake timeout %v must be positive", c.HandshakeTimeout))
	}
	if c.MaxHandshake < 1 || c.MaxHandshake > protocol.MaxTextLimit {
		errs = append(errs, fmt.Errorf("max handshake %d must be between 1 and %d bytes", c.MaxHandshake, protocol.MaxTextLimit))
	}
	for _, lim := range []struct {
		name string
		v    int
	}{
		{"max connections", c.MaxConns},
		{"max connections per IP", c.MaxConnsPerIP},
		{"max channels", c.MaxChannels},
		{"max watchers per channel", c.MaxWatchersPerChannel},
		{"auth failures per minute", c.AuthFailuresPerMinute},
	} {
		if lim.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d must not be negative (0 means no limit)", lim.name, lim.v))
		}
	}
	if c.WatcherSendBuffer < 0 {
		errs = append(errs, fmt.Errorf("watcher send buffer %d must not be negative", c.WatcherSendBuffer))
	}
	if c.GOPCache < 0 {
		errs = append(errs, fmt.Errorf("GOP cache %d must not be negative", c.GOPCache))
	}
	if p, err := hub.ParseJoinPolicy(string(c.DefaultJoin)); err != nil || p == "" {
		errs = append(errs, fmt.Errorf("default join policy %q: want gop, keyframe or live", c.DefaultJoin))
	}
	if _, err := hub.ParseSlowPolicy(string(c.SlowPolicy)); err != nil {
		errs = append(errs, err)
	}
	if c.TLSRequired && c.TLS == nil {
		errs = append(errs, errors.New("TLS is required but no certificate is configured"))
	}
	if c.BroadcasterGrace < 0 {
		errs = append(errs, fmt.Errorf("broadcaster grace %v must not be negative", c.BroadcasterGrace))
	}
	if c.MaxWatchWait < 0 {
		errs = append(errs, fmt.Errorf("max watch wait %v must not be negative", c.MaxWatchWait))
	}
	if c.StallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("stall timeout %v must be positive", c.StallTimeout))
	}
	if c.JoinTimeout <= 0 {
		errs = append(errs, fmt.Errorf("join timeout %v must be positive", c.JoinTimeout))
	}
	if c.MaxLag < 0 {
		errs = append(errs, fmt.Errorf("max lag %v must not be negative", c.MaxLag))
	}
	if c.Coalesce < 0 || c.Coalesce > protocol.MaxDelay {
		errs = append(errs, fmt.Errorf("coalesce %v must be between 0 and %v", c.Coalesce, protocol.MaxDelay))
	}
	if c.Writers < -1 || c.Writers > maxWriters {
		errs = append(errs, fmt.Errorf("writers %d must be between -1 and %d", c.Writers, maxWriters))
	}
	if c.ChannelBuffer < minChannelBuffer {
		errs = append(errs, fmt.Errorf("channel buffer %d must be at least %d bytes", c.ChannelBuffer, minChannelBuffer))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("server config: %w", err)
	}
	return nil
}

// gopCache is the GOP cache the hub gets: GOPCache, but at most half the
// channel buffer, so that joins never take the ring from the watchers. A
// bufsize (a join point for generic streams) is bounded by the same.
func (c *Config) gopCache() int { return min(c.GOPCache, c.ChannelBuffer/2) }

// TokenStore issues one-time broadcast tokens; auth.Tokens implements it.
type TokenStore interface {
	Issue(user string) (token string, expires time.Time, err error)
	// Redeem consumes a token; a wrong, used or expired token is an error
	// wrapping auth.ErrDenied.
	Redeem(user, token string) error
}
