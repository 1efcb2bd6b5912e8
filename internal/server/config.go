package server

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/protocol"
)

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// Auth decides who may broadcast. Required.
	Auth auth.Authenticator
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

	// BroadcasterGrace is how long watchers stay connected after their
	// broadcaster leaves, waiting for it to come back.
	BroadcasterGrace time.Duration
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
}

// Defaults.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxConns         = 20000
	DefaultBroadcasterGrace = 10 * time.Second
	DefaultStallTimeout     = time.Second
	DefaultMaxLag           = 10 * time.Second
	DefaultChannelBuffer    = 16 << 20
	// minChannelBuffer keeps the ring large enough for efficient reads.
	minChannelBuffer = 64 << 10
)

// DefaultConfig returns the defaults. Auth must still be set.
func DefaultConfig() Config {
	return Config{
		HandshakeTimeout: DefaultHandshakeTimeout,
		MaxHandshake:     protocol.DefaultMaxText,
		MaxConns:         DefaultMaxConns,
		BroadcasterGrace: DefaultBroadcasterGrace,
		StallTimeout:     DefaultStallTimeout,
		MaxLag:           DefaultMaxLag,
		ChannelBuffer:    DefaultChannelBuffer,
	}
}

// Validate reports the first invalid setting.
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
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("max connections %d must not be negative", c.MaxConns))
	}
	if c.BroadcasterGrace < 0 {
		errs = append(errs, fmt.Errorf("broadcaster grace %v must not be negative", c.BroadcasterGrace))
	}
	if c.StallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("stall timeout %v must be positive", c.StallTimeout))
	}
	if c.MaxLag < 0 {
		errs = append(errs, fmt.Errorf("max lag %v must not be negative", c.MaxLag))
	}
	if c.ChannelBuffer < minChannelBuffer {
		errs = append(errs, fmt.Errorf("channel buffer %d must be at least %d bytes", c.ChannelBuffer, minChannelBuffer))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("server config: %w", err)
	}
	return nil
}
