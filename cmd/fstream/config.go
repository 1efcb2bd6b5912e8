package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/config"
)

// Settings from the environment and a settings file.
const (
	// envPrefix starts the variable of every setting: FSTREAM_MAX_LAG
	// sets --max-lag.
	envPrefix = "FSTREAM_"
	// envConfig names the settings file when --config is not given.
	envConfig = envPrefix + "CONFIG"
	// configFlag names the settings file; it is the one flag that neither
	// the file nor the environment variables of the other flags can set.
	configFlag = "config"
	// secretAnnotation marks a flag whose value is never logged.
	secretAnnotation = "fstream_secret"
)

// setting is where one flag that is not at its default got its value.
type setting struct {
	Name   string
	Value  string // "(hidden)" for secrets
	Origin config.Origin
}

// settings are the outcome of applySettings.
type settings struct {
	// File is the settings file read, or "".
	File string
	// Origins tells, by flag name, where each value came from.
	Origins map[string]config.Origin
}

// flag names the flag for a message, with where its value came from when
// that was not the command line: "--tls-key (from fstream.ini:4)".
func (s settings) flag(name string) string {
	switch o := s.Origins[name]; o.Source {
	case config.FromFile, config.FromEnv:
		return fmt.Sprintf("--%s (from %s)", name, o)
	default:
		return "--" + name
	}
}

// changed lists the flags not at their defaults, sorted by name.
func (s settings) changed(fl *pflag.FlagSet) []setting {
	var list []setting
	fl.VisitAll(func(f *pflag.Flag) {
		o, ok := s.Origins[f.Name]
		if !ok || o.Source == config.FromDefault {
			return
		}
		v := f.Value.String()
		if _, secret := f.Annotations[secretAnnotation]; secret {
			v = "(hidden)"
		} else {
			v = auth.RedactURL(v) // such as --auth-url https://user:password@host/
		}
		list = append(list, setting{Name: f.Name, Value: v, Origin: o})
	})
	return list
}

// applySettings sets the flags of fl that the command line did not set
// from $FSTREAM_<FLAG> variables and from the settings file named by
// --config or else $FSTREAM_CONFIG: flag > environment > file > default.
func applySettings(fl *pflag.FlagSet, getenv func(string) string) (settings, error) {
	var s settings
	if f := fl.Lookup(configFlag); f != nil && f.Changed {
		s.File = f.Value.String()
	} else {
		s.File = getenv(envConfig)
	}
	var file *config.File
	if s.File != "" {
		var err error
		if file, err = config.Load(s.File); err != nil {
			return s, err
		}
	}
	origins, err := config.Apply(fl, config.Layers{
		Getenv:    getenv,
		EnvPrefix: envPrefix,
		File:      file,
		Fixed:     []string{configFlag, "help"},
	})
	s.Origins = origins
	return s, err
}

// markSecret keeps the value of flag name out of logs.
func markSecret(fl *pflag.FlagSet, name string) {
	if err := fl.SetAnnotation(name, secretAnnotation, []string{"true"}); err != nil {
		panic(err) // a flag defined a line above
	}
}

// choiceValue is a string flag with a fixed set of values, so that a bad
// one is refused where it is set, with its file and line.
type choiceValue struct {
	p       *string
	choices []string
}

func newChoiceValue(p *string, value string, choices ...string) *choiceValue {
	*p = value
	return &choiceValue{p: p, choices: choices}
}

func (c *choiceValue) String() string { return *c.p }
func (c *choiceValue) Type() string   { return "string" }

func (c *choiceValue) Set(s string) error {
	for _, ch := range c.choices {
		if s == ch {
			*c.p = s
			return nil
		}
	}
	return fmt.Errorf("want %s", c.Accepts())
}

// Accepts lists the choices: "text or json".
func (c *choiceValue) Accepts() string { return orList(c.choices) }

// levelValue is a log level flag: debug, info, warn or error.
type levelValue struct{ p *slog.Level }

var levelNames = []string{"debug", "info", "warn", "error"}

func (l levelValue) String() string { return strings.ToLower(l.p.String()) }
func (l levelValue) Type() string   { return "level" }

func (l levelValue) Set(s string) error {
	for _, name := range levelNames {
		if strings.EqualFold(s, name) {
			return l.p.UnmarshalText([]byte(name))
		}
	}
	return fmt.Errorf("want %s", l.Accepts())
}

// Accepts lists the levels.
func (l levelValue) Accepts() string { return orList(levelNames) }

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
