package main

import (
	"strings"
	"testing"

	"github.com/fstream/fstream/internal/hls"
)

func TestHLSFlags(t *testing.T) {
	r := parse(t, []string{"serve"}, nil)
	if r.serve == nil {
		t.Fatalf("default: exit %d, %q", r.code, r.stderr)
	}
	c := r.serve.HLS.config()
	if c == nil || len(c.Channels) != 1 || c.Channels[0] != "*/*" || len(c.Always) != 0 || c.Window != hls.DefaultConfig().Window {
		t.Fatalf("default HLS config %+v", c)
	}

	r = parse(t, []string{"serve", "--hls-channels", "fier/*, alice/cam", "--hls-always", "fier/main",
		"--hls-window", "4", "--hls-memory", "67108864", "--hls-cors", "*"}, nil)
	if r.serve == nil {
		t.Fatalf("exit %d, %q", r.code, r.stderr)
	}
	c = r.serve.HLS.config()
	if strings.Join(c.Channels, ",") != "fier/*,alice/cam" || strings.Join(c.Always, ",") != "fier/main" ||
		c.Window != 4 || c.MaxSegments != 8 || c.MaxTotalBytes != 64<<20 || r.serve.HLS.CORS != "*" {
		t.Errorf("config %+v, CORS %q", c, r.serve.HLS.CORS)
	}

	r = parse(t, []string{"serve"}, map[string]string{"FSTREAM_HLS": "false"})
	if r.serve == nil || r.serve.HLS.config() != nil {
		t.Errorf("FSTREAM_HLS=false: exit %d, %q", r.code, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--hls-channels", "a/[x"}, `"a/[x"`},
		{[]string{"--hls-always", "nochannel"}, `"nochannel": want USER/CHANNEL`},
		{[]string{"--hls-window", "0"}, "--hls-window 0 must be at least 1"},
		{[]string{"--hls-memory", "1000"}, "--hls-memory 1000 must be at least 1 MiB"},
	} {
		r := parse(t, append([]string{"serve"}, tc.args...), nil)
		if r.serve != nil || r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
