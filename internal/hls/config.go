package hls

import (
	"fmt"
	"path"
	"time"
)

// Config configures a Manager. Zero fields take the defaults of
// DefaultConfig (see withDefaults).
type Config struct {
	// Window is the number of segments a live playlist lists.
	Window int
	// MaxSegments bounds the segments kept per channel (at least Window):
	// a player that read the previous playlist may still fetch the ones
	// that just left the window.
	MaxSegments int
	// MaxChannelBytes bounds the segment bytes kept per channel, and
	// MaxTotalBytes those of all channels; the oldest segments go first.
	MaxChannelBytes int64
	MaxTotalBytes   int64
	// MinSegment is the shortest segment: a keyframe closer than this to
	// the segment's start does not cut (audio-only TS has join points
	// every 250 ms).
	MinSegment time.Duration
	// MaxSegmentBytes bounds one segment still being cut (a stream without
	// keyframes): past it the bytes are dropped and the next segment is
	// marked discontinuous.
	MaxSegmentBytes int
	// IdleTimeout stops a channel's segmenter when no playlist or segment
	// of it was requested for this long.
	IdleTimeout time.Duration
	// Channels are path.Match globs of "user/channel" for which HLS is
	// served; empty means all. The operator's per-channel switch.
	Channels []string
	// Always are globs of channels whose segmenter runs whenever the
	// channel is live, viewers or not (segments are ready at once).
	Always []string
	// SignTTL is how long a signed segment URL of a protected channel
	// stays valid after its segment was made.
	SignTTL time.Duration
}

// DefaultConfig returns the defaults: six segments listed, twelve kept,
// 64 MiB per channel and 512 MiB in all, 1 s shortest segment, 30 s idle.
func DefaultConfig() Config {
	return Config{
		Window:          6,
		MaxSegments:     12,
		MaxChannelBytes: 64 << 20,
		MaxTotalBytes:   512 << 20,
		MinSegment:      time.Second,
		MaxSegmentBytes: 32 << 20,
		IdleTimeout:     30 * time.Second,
		SignTTL:         10 * time.Minute,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.MaxSegments <= 0 {
		c.MaxSegments = max(d.MaxSegments, 2*c.Window)
	}
	c.MaxSegments = max(c.MaxSegments, c.Window)
	if c.MaxChannelBytes <= 0 {
		c.MaxChannelBytes = d.MaxChannelBytes
	}
	if c.MaxTotalBytes <= 0 {
		c.MaxTotalBytes = d.MaxTotalBytes
	}
	if c.MinSegment <= 0 {
		c.MinSegment = d.MinSegment
	}
	if c.MaxSegmentBytes <= 0 {
		c.MaxSegmentBytes = d.MaxSegmentBytes
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.SignTTL <= 0 {
		c.SignTTL = d.SignTTL
	}
	return c
}

// Validate reports a malformed channel glob.
func (c Config) Validate() error {
	for _, list := range [][]string{c.Channels, c.Always} {
		for _, g := range list {
			if _, err := path.Match(g, "u/c"); err != nil {
				return fmt.Errorf("hls: channel glob %q: %w", g, err)
			}
		}
	}
	return nil
}

// matchAny reports whether "user/channel" matches one of globs.
func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
