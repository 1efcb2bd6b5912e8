package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// settings are the flags of a test command, one of each kind.
type settings struct {
	maxLag   time.Duration
	maxConns int
	required bool
	listen   string
	format   choice
	config   string
}

// choice is a flag value with a fixed set of values, like --log-format.
type choice string

func (c *choice) String() string { return string(*c) }
func (c *choice) Type() string   { return "format" }
func (c *choice) Set(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("want text or json")
	}
	*c = choice(s)
	return nil
}
func (c *choice) Accepts() string { return "text or json" }

func newFlags(t *testing.T, args ...string) (*pflag.FlagSet, *settings) {
	t.Helper()
	s := &settings{format: "text"}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.DurationVar(&s.maxLag, "max-lag", 10*time.Second, "")
	fs.IntVar(&s.maxConns, "max-conns", 100, "")
	fs.BoolVar(&s.required, "tls-required", false, "")
	fs.StringVar(&s.listen, "listen", ":61920", "")
	fs.Var(&s.format, "log-format", "")
	fs.StringVar(&s.config, "config", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, s
}

func parseFile(t *testing.T, text string) *File {
	t.Helper()
	if text == "" {
		return nil
	}
	f, err := Parse("fstream.ini", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestApplyPrecedence(t *testing.T) {
	def := settings{maxLag: 10 * time.Second, maxConns: 100, listen: ":61920", format: "text"}
	fromFile := func(line int) Origin { return Origin{Source: FromFile, File: "fstream.ini", Line: line} }
	fromEnv := func(v string) Origin { return Origin{Source: FromEnv, Env: v} }
	flag, dflt := Origin{Source: FromFlag}, Origin{Source: FromDefault}
	file := "max-lag = 1s\nmax-conns = 1\ntls-required = true\nlisten = file:1\nlog-format = json\n"
	allEnv := map[string]string{"FSTREAM_MAX_LAG": "2s", "FSTREAM_MAX_CONNS": "2", "FSTREAM_TLS_REQUIRED": "1",
		"FSTREAM_LISTEN": "env:2", "FSTREAM_LOG_FORMAT": "json"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		want    settings
		origins map[string]Origin // by flag; the rest are defaults
	}{
		{name: "defaults", want: def},
		{name: "file over default", file: file,
			want: settings{maxLag: time.Second, maxConns: 1, required: true, listen: "file:1", format: "json"},
			origins: map[string]Origin{"max-lag": fromFile(1), "max-conns": fromFile(2), "tls-required": fromFile(3),
				"listen": fromFile(4), "log-format": fromFile(5)}},
		{name: "env over file", file: file, env: allEnv,
			want: settings{maxLag: 2 * time.Second, maxConns: 2, required: true, listen: "env:2", format: "json"},
			origins: map[string]Origin{"max-lag": fromEnv("FSTREAM_MAX_LAG"), "max-conns": fromEnv("FSTREAM_MAX_CONNS"),
				"tls-required": fromEnv("FSTREAM_TLS_REQUIRED"), "listen": fromEnv("FSTREAM_LISTEN"), "log-format": fromEnv("FSTREAM_LOG_FORMAT")}},
		{name: "flag over env and file", file: file, env: allEnv,
			args:    []string{"--max-lag", "3s", "--max-conns", "3", "--tls-required=false", "--listen", "flag:3", "--log-format", "text"},
			want:    settings{maxLag: 3 * time.Second, maxConns: 3, listen: "flag:3", format: "text"},
			origins: map[string]Origin{"max-lag": flag, "max-conns": flag, "tls-required": flag, "listen": flag, "log-format": flag}},
		{name: "one layer each", args: []string{"--max-lag", "3s"},
			env:     map[string]string{"FSTREAM_MAX_CONNS": "2"},
			file:    "tls-required = true\n",
			want:    settings{maxLag: 3 * time.Second, maxConns: 2, required: true, listen: ":61920", format: "text"},
			origins: map[string]Origin{"max-lag": flag, "max-conns": fromEnv("FSTREAM_MAX_CONNS"), "tls-required": fromFile(1)}},
		{name: "empty variable is unset", file: "listen = file:1\n", env: map[string]string{"FSTREAM_LISTEN": ""},
			want:    settings{maxLag: 10 * time.Second, maxConns: 100, listen: "file:1", format: "text"},
			origins: map[string]Origin{"listen": fromFile(1)}},
		{name: "file may set a flag to its zero", file: "max-lag = 0\nlisten =\n",
			want:    settings{maxConns: 100, format: "text"},
			origins: map[string]Origin{"max-lag": fromFile(1), "listen": fromFile(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, got := newFlags(t, tt.args...)
			origins, err := Apply(fs, Layers{
				Getenv:    func(k string) string { return tt.env[k] },
				EnvPrefix: "FSTREAM_",
				File:      parseFile(t, tt.file),
				Fixed:     []string{"config"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Errorf("settings\n got %+v\nwant %+v", *got, tt.want)
			}
			want := map[string]Origin{"max-lag": dflt, "max-conns": dflt, "tls-required": dflt, "listen": dflt, "log-format": dflt}
			for k, o := range tt.origins {
				want[k] = o
			}
			if !reflect.DeepEqual(origins, want) {
				t.Errorf("origins\n got %v\nwant %v", origins, want)
			}
			for _, name := range []string{"max-lag", "max-conns", "tls-required", "listen", "log-format"} {
				if fs.Lookup(name).Changed != (origins[name].Source == FromFlag) {
					t.Errorf("--%s: Changed is %v, origin %v", name, fs.Lookup(name).Changed, origins[name])
				}
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		kind error
		want string
	}{
		{name: "unknown key, near a flag", file: "listen = :1\nmax-lags = 5s\n", kind: ErrUnknownKey,
			want: "fstream.ini:2: max-lags: unknown key; fix: did you mean max-lag?"},
		{name: "unknown key", file: "colour = blue\n", kind: ErrUnknownKey,
			want: `fstream.ini:1: colour: unknown key; fix: remove the line; the keys are the flag names without "--" listed by fstream serve --help`},
		{name: "fixed key", file: "config = other.ini\n", kind: ErrNotSettable,
			want: "fstream.ini:1: config: can only be given on the command line; fix: remove the line"},
		{name: "duration without unit", file: "\nmax-lag = 5\n", kind: ErrBadValue,
			want: `fstream.ini:2: max-lag = "5": missing unit in duration "5"; fix: write a duration with a unit (ms, s, m, h), such as 10s`},
		{name: "inline comment", file: "max-lag = 5s # five seconds\n", kind: ErrBadValue,
			want: `fstream.ini:1: max-lag = "5s # five seconds": unknown unit "s # five seconds" in duration "5s # five seconds"; fix: write a duration with a unit (ms, s, m, h), such as 10s (comments go on lines of their own)`},
		{name: "int from env", env: map[string]string{"FSTREAM_MAX_CONNS": "many"}, kind: ErrBadValue,
			want: `$FSTREAM_MAX_CONNS = "many": not a whole number; fix: write a whole number, such as 100`},
		{name: "int out of range", file: "max-conns = 99999999999999999999\n", kind: ErrBadValue,
			want: `fstream.ini:1: max-conns = "99999999999999999999": out of range; fix: write a whole number, such as 100`},
		{name: "bool", file: "tls-required = yes\n", kind: ErrBadValue,
			want: `fstream.ini:1: tls-required = "yes": not true or false; fix: write true or false`},
		{name: "accepter", env: map[string]string{"FSTREAM_LOG_FORMAT": "xml"}, kind: ErrBadValue,
			want: `$FSTREAM_LOG_FORMAT = "xml": want text or json; fix: write text or json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, _ := newFlags(t, tt.args...)
			_, err := Apply(fs, Layers{
				Getenv:    func(k string) string { return tt.env[k] },
				EnvPrefix: "FSTREAM_",
				File:      parseFile(t, tt.file),
				Fixed:     []string{"config"},
				Help:      "fstream serve --help",
			})
			if !errors.Is(err, tt.kind) {
				t.Fatalf("error %v, want %v", err, tt.kind)
			}
			if err.Error() != tt.want {
				t.Errorf("message\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestApplyReportsAll(t *testing.T) {
	fs, _ := newFlags(t)
	_, err := Apply(fs, Layers{
		Getenv:    func(k string) string { return map[string]string{"FSTREAM_MAX_CONNS": "x"}[k] },
		EnvPrefix: "FSTREAM_",
		File:      parseFile(t, "max-lag = x\nnope = 1\n"),
	})
	got := strings.Split(fmt.Sprint(err), "\n")
	if len(got) != 3 || !strings.HasPrefix(got[0], "fstream.ini:2: nope:") ||
		!strings.HasPrefix(got[1], "$FSTREAM_MAX_CONNS") || !strings.HasPrefix(got[2], "fstream.ini:1: max-lag") {
		t.Errorf("errors: %q", got)
	}
}

// A value given on the command line wins without the file's being read.
func TestApplyShadowedValueUnread(t *testing.T) {
	fs, s := newFlags(t, "--max-lag", "3s")
	if _, err := Apply(fs, Layers{File: parseFile(t, "max-lag = bad\n")}); err != nil {
		t.Fatal(err)
	}
	if s.maxLag != 3*time.Second {
		t.Errorf("max-lag %v", s.maxLag)
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{"max-lag": "FSTREAM_MAX_LAG", "listen": "FSTREAM_LISTEN", "http-admin-token": "FSTREAM_HTTP_ADMIN_TOKEN"} {
		if got := EnvName("FSTREAM_", flag); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestOriginString(t *testing.T) {
	for o, want := range map[Origin]string{
		{}:                                  "default",
		{Source: FromFlag}:                  "command line",
		{Source: FromEnv, Env: "FSTREAM_X"}: "$FSTREAM_X",
		{Source: FromFile, File: "f.ini", Line: 12}: "f.ini:12",
	} {
		if got := o.String(); got != want {
			t.Errorf("%+v: %q, want %q", o, got, want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"max-lag", "max-lags", 1}, {"max-lag", "mxa-lag", 2}, {"kitten", "sitting", 3}} {
		if d := distance(tt.a, tt.b); d != tt.d {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, d, tt.d)
		}
	}
}
