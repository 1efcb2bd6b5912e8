package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fstream/fstream/internal/config"

	"github.com/fstream/fstream/internal/record"
	"github.com/fstream/fstream/internal/server"
)

// recordOptions are the serve flags that record channels to disk
// (docs/DEPLOY.md). Without --record nothing is recorded.
type recordOptions struct {
	Dir      string
	Channels []string
	Segment  time.Duration
	Keep     record.Keep
}

func addRecordFlags(fl *pflag.FlagSet, o *recordOptions) {
	fl.StringVar(&o.Dir, "record", "", "record the channels named by --record-channels into `DIR`/USER/CHANNEL/START.ts (empty: record nothing)")
	fl.Var(globListValue{&o.Channels}, "record-channels", "channels to record: `PATTERNS` of USER/CHANNEL, comma-separated, with * and ? (alice/cam, alice/*, */*; default none)")
	fl.DurationVar(&o.Segment, "record-segment", record.DefaultSegment, "start a new recording file at the first keyframe after this long")
	fl.Var(keepValue{&o.Keep}, "record-keep", "delete the oldest recordings beyond an age, a total size or both, such as 7d, 50GiB or 7d,50GiB (empty: keep all)")
	setPlaceholder(fl, "record-keep", "KEEP")
}

// check reports recording settings that cannot work, naming where each
// came from.
func (o *recordOptions) check(set settings) []error {
	var errs []error
	if o.Dir == "" {
		for _, name := range []string{"record-channels", "record-keep"} {
			if set.Origins[name].Source != config.FromDefault {
				errs = append(errs, fmt.Errorf("%s needs %s DIR: where to record", set.flag(name), set.flag("record")))
			}
		}
		return errs
	}
	if err := o.config(nil).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s, %s: %w", set.flag("record"), set.flag("record-segment"), err))
	}
	return errs
}

func (o *recordOptions) config(logger *slog.Logger) record.Config {
	return record.Config{Dir: o.Dir, Channels: o.Channels, Segment: o.Segment, Keep: o.Keep, Logger: logger}
}

// startRecorder starts recording if --record is set; nil otherwise.
func startRecorder(o *recordOptions, srv *server.Server, logger *slog.Logger) (*record.Recorder, error) {
	if o.Dir == "" {
		return nil, nil
	}
	rec, err := record.New(o.config(logger), srv.Hub())
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	if len(o.Channels) == 0 {
		logger.Warn("--record is set but --record-channels names no channel: nothing is recorded", "dir", o.Dir)
	}
	logger.Info("recording", "dir", o.Dir, "channels", strings.Join(o.Channels, ","),
		"segment", o.Segment.String(), "keep", o.Keep.String())
	return rec, nil
}

// startRecorderAndHTTP starts the recorder (--record) and then the HTTP
// side (--http), which serves the recordings; either may be nil.
func startRecorderAndHTTP(opts *serveOptions, srv *server.Server, streamAddr string, tlsConfig *tls.Config, logger *slog.Logger) (*record.Recorder, *httpSide, error) {
	rec, err := startRecorder(&opts.Record, srv, logger)
	if err != nil {
		return nil, nil, err
	}
	web, err := startHTTP(opts, srv, rec, streamAddr, tlsConfig, logger)
	if err != nil {
		rec.Close()
		return nil, nil, err
	}
	return rec, web, nil
}

// globListValue is a flag holding comma-separated USER/CHANNEL patterns;
// a bad one is refused where it is set, with its file and line.
type globListValue struct{ p *[]string }

func (v globListValue) Type() string   { return "patterns" }
func (v globListValue) String() string { return strings.Join(*v.p, ",") }

// Accepts says what Set takes, for the fix part of a bad value's message.
func (v globListValue) Accepts() string {
	return "USER/CHANNEL patterns separated by commas, such as alice/cam,bob/*"
}

func (v globListValue) Set(s string) error {
	var list []string
	for _, g := range strings.Split(s, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if err := record.ValidateGlob(g); err != nil {
			return err
		}
		list = append(list, g)
	}
	*v.p = list
	return nil
}

// keepValue is the --record-keep flag.
type keepValue struct{ p *record.Keep }

func (v keepValue) Type() string   { return "keep" }
func (v keepValue) String() string { return v.p.String() }

// Accepts says what Set takes.
func (v keepValue) Accepts() string {
	return "an age (7d, 12h), a size (50GiB, 500MB) or both (7d,50GiB)"
}

func (v keepValue) Set(s string) error {
	k, err := record.ParseKeep(s)
	if err != nil {
		return err
	}
	*v.p = k
	return nil
}
