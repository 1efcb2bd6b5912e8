package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/fstream/fstream/internal/config"
	"github.com/fstream/fstream/internal/server"
)

// exampleFile is the annotated example at the repository's root.
const exampleFile = "../../fstream.example.ini"

// writeConfig writes a settings file for one test and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fstream.ini")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeSettingsPrecedence(t *testing.T) {
	file := writeConfig(t, strings.Join([]string{
		"max-lag = 1s",
		"max-conns-per-ip = 1",
		"tls-required = true",
		"listen = 127.0.0.1:1",
		"log-format = json",
		"log-level = warn",
		"",
	}, "\n"))
	other := writeConfig(t, "max-lag = 7s\n")
	env := map[string]string{
		"FSTREAM_MAX_LAG":          "2s",
		"FSTREAM_MAX_CONNS_PER_IP": "2",
		"FSTREAM_TLS_REQUIRED":     "false",
		"FSTREAM_LISTEN":           "127.0.0.1:2",
		"FSTREAM_LOG_FORMAT":       "text",
		"FSTREAM_LOG_LEVEL":        "error",
	}
	flags := []string{"--max-lag", "3s", "--max-conns-per-ip", "3", "--tls-required", "--listen", "127.0.0.1:3",
		"--log-format", "json", "--log-level", "debug"}
	// tls-required needs a certificate; serve loads it only when it runs.
	tlsFiles := []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}
	type values struct {
		maxLag   time.Duration
		perIP    int
		required bool
		listen   string
		format   string
		level    slog.Level
	}
	def := values{server.DefaultMaxLag, server.DefaultMaxConnsPerIP, false, ":61920", "text", slog.LevelInfo}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want values
		from config.Source // of every setting above
	}{
		{"defaults", nil, nil, def, config.FromDefault},
		{"file over default", []string{"--config", file}, nil,
			values{time.Second, 1, true, "127.0.0.1:1", "json", slog.LevelWarn}, config.FromFile},
		{"file named by FSTREAM_CONFIG", nil, map[string]string{"FSTREAM_CONFIG": file},
			values{time.Second, 1, true, "127.0.0.1:1", "json", slog.LevelWarn}, config.FromFile},
		{"--config over FSTREAM_CONFIG", []string{"--config", file}, map[string]string{"FSTREAM_CONFIG": other},
			values{time.Second, 1, true, "127.0.0.1:1", "json", slog.LevelWarn}, config.FromFile},
		{"env over file", []string{"--config", file}, env,
			values{2 * time.Second, 2, false, "127.0.0.1:2", "text", slog.LevelError}, config.FromEnv},
		{"flag over env and file", append([]string{"--config", file}, flags...), env,
			values{3 * time.Second, 3, true, "127.0.0.1:3", "json", slog.LevelDebug}, config.FromFlag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, append(append([]string{"serve"}, tlsFiles...), tt.args...), tt.env)
			if r.serve == nil {
				t.Fatalf("serve did not run: exit %d, %q", r.code, r.stderr)
			}
			o := r.serve
			got := values{o.Config.MaxLag, o.Config.MaxConnsPerIP, o.Config.TLSRequired, o.Listen, o.LogFormat, o.LogLevel}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			from := make(map[string]config.Source)
			for _, s := range o.Settings {
				from[s.Name] = s.Origin.Source
			}
			for _, name := range []string{"max-lag", "max-conns-per-ip", "tls-required", "listen", "log-format", "log-level"} {
				if from[name] != tt.from {
					t.Errorf("--%s came from %v, want %v (settings %+v)", name, from[name], tt.from, o.Settings)
				}
			}
		})
	}
}

func TestServeSettingsErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // written to a temporary file, named PATH in want
		env  map[string]string
		args []string
		want string
	}{
		{name: "unknown key", file: "listen = :1\nmax-lags = 5s\n",
			want: "fstream: PATH:2: max-lags: unknown key; fix: did you mean max-lag? (see 'fstream serve --help')\n"},
		{name: "bad value", file: "# limits\nmax-conns-per-ip = lots\n",
			want: `fstream: PATH:2: max-conns-per-ip = "lots": not a whole number; fix: write a whole number, such as 200 (see 'fstream serve --help')` + "\n"},
		{name: "bad choice", file: "log-format = xml\n",
			want: `fstream: PATH:1: log-format = "xml": want text or json; fix: write text or json (see 'fstream serve --help')` + "\n"},
		{name: "bad env", env: map[string]string{"FSTREAM_LOG_LEVEL": "loud"},
			want: `fstream: $FSTREAM_LOG_LEVEL = "loud": want debug, info, warn or error; fix: write debug, info, warn or error (see 'fstream serve --help')` + "\n"},
		{name: "config in the file", file: "config = other.ini\n",
			want: "fstream: PATH:1: config: can only be given on the command line; fix: remove the line (see 'fstream serve --help')\n"},
		{name: "section", file: "[serve]\nlisten = :1\n",
			want: "fstream: PATH:1: unexpected section [serve]; fix: remove the header line; settings go at the top of the file, outside any section (see 'fstream serve --help')\n"},
		{name: "two problems", file: "max-lag = 5\nmax-lag = 6s\n",
			want: "fstream: PATH:2: max-lag: set again (first on line 1); fix: keep one of the two lines (see 'fstream serve --help')\n"},
		{name: "missing file", args: []string{"--config", "/nonexistent/fstream.ini"},
			want: "fstream: config: read settings file: open /nonexistent/fstream.ini: no such file or directory (see 'fstream serve --help')\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve"}, tt.args...)
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
				args = append(args, "--config", path)
			}
			r := parse(t, args, tt.env)
			if want := strings.ReplaceAll(tt.want, "PATH", path); r.code != exitUsage || r.stderr != want || r.serve != nil {
				t.Errorf("exit %d, stderr\n%q\nwant %d and\n%q", r.code, r.stderr, exitUsage, want)
			}
		})
	}
}

func TestServeCheck(t *testing.T) {
	keyFile := writeConfig(t, "tls-key = k.pem\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil,
			"--tls-cert and --tls-key go together: set both, or neither"},
		{"key from a file without cert", []string{"--config", keyFile}, nil,
			"--tls-cert and --tls-key (from " + keyFile + ":1) go together: set both, or neither"},
		{"required without certificate", []string{"--tls-required"}, nil,
			"--tls-required needs a certificate: set --tls-cert and --tls-key"},
		{"required from env", nil, map[string]string{"FSTREAM_TLS_REQUIRED": "true"},
			"--tls-required (from $FSTREAM_TLS_REQUIRED) needs a certificate: set --tls-cert and --tls-key"},
		{"negative shutdown timeout", []string{"--shutdown-timeout", "-1s"}, nil,
			"--shutdown-timeout -1s must not be negative"},
		{"zero auth timeout", []string{"--auth-timeout", "0s"}, nil, "--auth-timeout 0s must be positive"},
		{"zero token ttl", []string{"--token-ttl", "0s"}, nil, "--token-ttl 0s must be positive"},
		{"http without port", []string{"--http", "localhost"}, nil,
			`--http "localhost": want HOST:PORT, such as 127.0.0.1:8080`},
		{"auth-url without scheme", []string{"--auth-url", "auth.example/check"}, nil,
			"--auth-url: want an http:// or https:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, append([]string{"serve"}, tt.args...), tt.env)
			want := "fstream: " + tt.want + " (see 'fstream serve --help')\n"
			if r.code != exitUsage || r.stderr != want || r.serve != nil {
				t.Errorf("exit %d, stderr\n%q\nwant %d and\n%q", r.code, r.stderr, exitUsage, want)
			}
		})
	}
	// Accepted: both TLS files, a zero shutdown timeout, good addresses.
	r := parse(t, []string{"serve", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-required",
		"--shutdown-timeout", "0s", "--http", "127.0.0.1:8080", "--auth-url", "http://127.0.0.1:9/auth"}, nil)
	if r.serve == nil {
		t.Errorf("exit %d, %q", r.code, r.stderr)
	}
}

// serveFlags returns the flags of a fresh serve command, parsed from args.
func serveFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	s := &streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
	cmd := newServeCmd(s, nil)
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return cmd.Flags()
}

// TestExampleConfig keeps fstream.example.ini true: it loads as it is, and
// with its commented "# key = value" lines uncommented it sets every serve
// setting once, to its default.
func TestExampleConfig(t *testing.T) {
	r := parse(t, []string{"serve", "--config", exampleFile}, nil)
	if r.serve == nil {
		t.Fatalf("the example does not load: exit %d, %q", r.code, r.stderr)
	}
	if !reflect.DeepEqual(r.serve.Config, server.DefaultConfig()) || len(r.serve.Settings) != 0 {
		t.Errorf("the example changes settings: %+v", r.serve.Settings)
	}

	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	setting := regexp.MustCompile(`(?m)^# ([a-z][a-z-]*) =(.*)$`)
	uncommented := setting.ReplaceAllString(string(data), "$1 =$2")
	keys := setting.FindAllStringSubmatch(string(data), -1)
	path := writeConfig(t, uncommented)

	fl := serveFlags(t, "--config", path)
	set, err := applySettings(fl, func(string) string { return "" })
	if err != nil {
		t.Fatalf("the uncommented example does not load: %v", err)
	}
	seen := make(map[string]bool)
	for _, k := range keys {
		if seen[k[1]] {
			t.Errorf("key %s is in the example twice", k[1])
		}
		seen[k[1]] = true
	}
	fl.VisitAll(func(f *pflag.Flag) {
		switch {
		case f.Name == configFlag || f.Name == "help":
		case !seen[f.Name]:
			t.Errorf("--%s is missing from %s: add it, with its default %q", f.Name, exampleFile, f.DefValue)
		case set.Origins[f.Name].Source != config.FromFile:
			t.Errorf("--%s was not set by the example", f.Name)
		case f.Value.String() != f.DefValue:
			t.Errorf("%s says %s = %s, but its default is %s", exampleFile, f.Name, f.Value, f.DefValue)
		}
	})
}

func TestChoiceAndLevelValues(t *testing.T) {
	var format string
	c := newChoiceValue(&format, "text", "text", "json")
	if format != "text" || c.Set("json") != nil || format != "json" || c.Set("xml") == nil || format != "json" {
		t.Errorf("choice: %q", format)
	}
	var level slog.Level
	l := levelValue{&level}
	for _, tt := range []struct {
		in   string
		want slog.Level
	}{{"debug", slog.LevelDebug}, {"INFO", slog.LevelInfo}, {"Warn", slog.LevelWarn}, {"error", slog.LevelError}} {
		if err := l.Set(tt.in); err != nil || level != tt.want || l.String() != strings.ToLower(tt.in) {
			t.Errorf("Set(%q): %v, level %v, String %q", tt.in, err, level, l.String())
		}
	}
	if err := l.Set("warning"); err == nil {
		t.Error("Set accepted warning")
	}
	if got := orList([]string{"a"}); got != "a" {
		t.Errorf("orList: %q", got)
	}
}
