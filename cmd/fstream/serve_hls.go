package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/fstream/fstream/internal/hls"
)

// hlsOptions are the serve flags of HLS on the HTTP side (--http).
type hlsOptions struct {
	// On serves /hls/USER/CHANNEL/index.m3u8. It is on by default: a
	// channel's segmenter runs only while someone fetches its playlist,
	// so idle channels cost nothing, and iPhones can play at once.
	On bool
	// Channels are the channels HLS is served for, as user/channel globs;
	// Always those segmented whenever they are live.
	Channels, Always []string
	Window           int
	Memory           int64
	CORS             string
}

func addHLSFlags(fl *pflag.FlagSet, o *hlsOptions) {
	d := hls.DefaultConfig()
	o.Channels = []string{"*/*"}
	fl.BoolVar(&o.On, "hls", true, "serve channels as HLS at /hls/USER/CHANNEL/index.m3u8 on --http (a channel is segmented only while it has HLS viewers)")
	fl.Var(globListValue{&o.Channels}, "hls-channels", "user/channel `GLOBS` (comma-separated) HLS is served for; others answer 404")
	fl.Var(globListValue{&o.Always}, "hls-always", "user/channel `GLOBS` (comma-separated) segmented whenever live, so their first HLS viewer starts at once")
	fl.IntVar(&o.Window, "hls-window", d.Window, "segments listed in an HLS playlist")
	fl.Int64Var(&o.Memory, "hls-memory", d.MaxTotalBytes, "`BYTES` of HLS segments kept in memory for all channels (the oldest go first)")
	fl.StringVar(&o.CORS, "hls-cors", "", "Access-Control-Allow-Origin of HLS answers, for players on other sites (\"*\": any; empty: none)")
}

// config returns the hls.Config of the flags, or nil when HLS is off.
func (o *hlsOptions) config() *hls.Config {
	if !o.On {
		return nil
	}
	c := hls.DefaultConfig()
	c.Channels, c.Always = o.Channels, o.Always
	c.Window = o.Window
	c.MaxSegments = 2 * o.Window
	c.MaxTotalBytes = o.Memory
	c.MaxChannelBytes = min(c.MaxChannelBytes, o.Memory)
	return &c
}

// check reports HLS settings out of range.
func (o *hlsOptions) check(set settings) []error {
	var errs []error
	if o.Window < 1 {
		errs = append(errs, fmt.Errorf("%s %d must be at least 1", set.flag("hls-window"), o.Window))
	}
	if o.Memory < 1<<20 {
		errs = append(errs, fmt.Errorf("%s %d must be at least 1 MiB", set.flag("hls-memory"), o.Memory))
	}
	return errs
}
