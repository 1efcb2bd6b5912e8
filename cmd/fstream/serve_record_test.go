package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/record"
)

func TestServeRecordFlags(t *testing.T) {
	file := writeConfig(t, strings.Join([]string{
		"record = /srv/rec",
		"record-channels = fier/*, */cam",
		"record-segment = 30s",
		"record-keep = 7d,50GiB",
		"",
	}, "\n"))
	want := recordOptions{Dir: "/srv/rec", Channels: []string{"fier/*", "*/cam"}, Segment: 30 * time.Second,
		Keep: record.Keep{Age: 7 * 24 * time.Hour, Bytes: 50 << 30}}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"flags", []string{"serve", "--record", "/srv/rec", "--record-channels", "fier/*,*/cam",
			"--record-segment", "30s", "--record-keep", "7d,50GiB"}, nil},
		{"file", []string{"serve", "--config", file}, nil},
		{"environment", []string{"serve"}, map[string]string{"FSTREAM_RECORD": "/srv/rec",
			"FSTREAM_RECORD_CHANNELS": "fier/*,*/cam", "FSTREAM_RECORD_SEGMENT": "30s", "FSTREAM_RECORD_KEEP": "7d,50GiB"}},
	} {
		r := parse(t, tt.args, tt.env)
		if r.serve == nil || !reflect.DeepEqual(r.serve.Record, want) {
			t.Errorf("%s: exit %d %q: %+v, want %+v", tt.name, r.code, r.stderr, r.serve, want)
		}
	}
	if r := parse(t, []string{"serve"}, nil); r.serve == nil || r.serve.Record.Dir != "" ||
		r.serve.Record.Segment != record.DefaultSegment || len(r.serve.Record.Channels) != 0 || r.serve.Record.Keep != (record.Keep{}) {
		t.Errorf("defaults: %+v", r.serve)
	}
}

// TestServeRecordRefusals: each mistake stops start-up (exit 2) with a
// message that says what to write instead, naming the file and line.
func TestServeRecordRefusals(t *testing.T) {
	bad := writeConfig(t, "record = /srv/rec\nrecord-keep = 50\n")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--record-keep", "7x"}, "neither an age (7d, 12h, 30m) nor a size"},
		{[]string{"--record-keep", "7d,1d"}, "two ages"},
		{[]string{"--record-channels", "fier"}, "want USER/CHANNEL, such as alice/cam"},
		{[]string{"--record-channels", "fier/["}, "wildcards are"},
		{[]string{"--record-channels", "fier/cam"}, "--record-channels needs --record DIR"},
		{[]string{"--record-keep", "7d"}, "--record-keep needs --record DIR"},
		{[]string{"--record", "/srv/rec", "--record-segment", "10ms"}, "shorter than 1s"},
		{[]string{"--config", bad}, "fstream.ini:2"},
	} {
		r := parse(t, append([]string{"serve"}, tt.args...), nil)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("serve %v: exit %d, %q; want exit %d saying %q", tt.args, r.code, r.stderr, exitUsage, tt.want)
		}
	}
}
