package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Source is the layer a setting's value came from.
type Source int

// The layers, from the default up.
const (
	FromDefault Source = iota
	FromFile
	FromEnv
	FromFlag
)

// Origin says where a setting's value came from.
type Origin struct {
	Source Source
	// Env is the variable, for FromEnv.
	Env string
	// File and Line locate the key, for FromFile.
	File string
	Line int
}

// String reads "default", "fstream.ini:7", "$FSTREAM_MAX_LAG" or
// "command line".
func (o Origin) String() string {
	switch o.Source {
	case FromFile:
		return fmt.Sprintf("%s:%d", o.File, o.Line)
	case FromEnv:
		return "$" + o.Env
	case FromFlag:
		return "command line"
	default:
		return "default"
	}
}

// Layers are the sources Apply reads below the command line.
type Layers struct {
	// Getenv looks up an environment variable; nil skips the environment.
	Getenv func(key string) string
	// EnvPrefix starts every variable name, as in "FSTREAM_".
	EnvPrefix string
	// File is the settings file, or nil for none.
	File *File
	// Fixed names flags that only the command line may set, such as the
	// one naming the settings file, and "help".
	Fixed []string
	// Help is the command that lists the settings, for messages about
	// unknown keys: "fstream serve --help".
	Help string
}

// Accepter is implemented by flag values that can say which values they
// accept ("text or json"), for the fix part of a bad value's message. The
// standard pflag types need not: Apply knows them.
type Accepter interface {
	Accepts() string
}

// EnvName is the environment variable for a flag: EnvName("FSTREAM_",
// "max-lag") is "FSTREAM_MAX_LAG".
func EnvName(prefix, flag string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Apply sets each flag of fs that the command line did not set from the
// environment or else the file (see the package documentation), and returns
// where every flag's value came from, by flag name. The flags it sets keep
// Changed false, which still means "given on the command line".
//
// Every key of the file must name a flag of fs that is not Fixed. All the
// problems found are returned joined, each an *Error; flags may then hold
// some of the new values.
func Apply(fs *pflag.FlagSet, l Layers) (map[string]Origin, error) {
	var errs []error
	if l.File != nil {
		for _, e := range l.File.Entries {
			switch f := fs.Lookup(e.Name); {
			case f == nil:
				errs = append(errs, unknownKey(fs, l, e))
			case slices.Contains(l.Fixed, f.Name):
				errs = append(errs, &Error{File: l.File.Path, Line: e.Line, Key: e.Key, Kind: ErrNotSettable,
					Msg: "can only be given on the command line", Fix: "remove the line"})
			}
		}
	}
	origins := make(map[string]Origin)
	fs.VisitAll(func(f *pflag.Flag) {
		if slices.Contains(l.Fixed, f.Name) {
			return
		}
		if f.Changed {
			origins[f.Name] = Origin{Source: FromFlag}
			return
		}
		var (
			o     Origin
			key   string
			value string
			found bool
		)
		if l.Getenv != nil {
			env := EnvName(l.EnvPrefix, f.Name)
			if v := l.Getenv(env); v != "" {
				o, key, value, found = Origin{Source: FromEnv, Env: env}, f.Name, v, true
			}
		}
		if !found {
			if e, ok := l.File.Lookup(f.Name); ok {
				o, key, value, found = Origin{Source: FromFile, File: l.File.Path, Line: e.Line}, e.Key, e.Value, true
			}
		}
		if !found {
			origins[f.Name] = Origin{Source: FromDefault}
			return
		}
		// Value.Set rather than FlagSet.Set, which would mark the flag
		// Changed.
		if err := f.Value.Set(value); err != nil {
			errs = append(errs, badValue(f, o, key, value, err))
			return
		}
		origins[f.Name] = o
	})
	return origins, errors.Join(errs...)
}

// unknownKey describes a file key that names no flag, suggesting the
// nearest flag name when it is close.
func unknownKey(fs *pflag.FlagSet, l Layers, e Entry) error {
	err := &Error{File: l.File.Path, Line: e.Line, Key: e.Key, Kind: ErrUnknownKey, Msg: "unknown key"}
	best, bestDist := "", 3 // suggest only within two edits
	fs.VisitAll(func(f *pflag.Flag) {
		if slices.Contains(l.Fixed, f.Name) {
			return
		}
		if d := distance(e.Name, f.Name); d < bestDist {
			best, bestDist = f.Name, d
		}
	})
	switch {
	case best != "":
		err.Fix = fmt.Sprintf("did you mean %s?", best)
	case l.Help != "":
		err.Fix = fmt.Sprintf("remove the line; the keys are the flag names without \"--\" listed by %s", l.Help)
	default:
		err.Fix = "remove the line; the keys are the flag names without \"--\""
	}
	return err
}

// badValue describes a value that f's Set refused.
func badValue(f *pflag.Flag, o Origin, key, value string, cause error) error {
	err := &Error{File: o.File, Line: o.Line, Env: o.Env, Key: key, Value: value, ShowValue: true,
		Kind: ErrBadValue, Cause: cause, Msg: cause.Error()}
	typ := f.Value.Type()
	if ne, ok := errors.AsType[*strconv.NumError](cause); ok {
		switch {
		case errors.Is(ne.Err, strconv.ErrRange):
			err.Msg = "out of range"
		case typ == "bool":
			err.Msg = "not true or false"
		case strings.HasPrefix(typ, "float"):
			err.Msg = "not a number"
		default:
			err.Msg = "not a whole number"
		}
	} else if typ == "duration" {
		err.Msg = strings.TrimPrefix(cause.Error(), "time: ")
	}
	example := f.DefValue
	switch a, ok := f.Value.(Accepter); {
	case ok:
		err.Fix = "write " + a.Accepts()
	case typ == "duration":
		if example == "0s" {
			example = "5s"
		}
		err.Fix = "write a duration with a unit (ms, s, m, h), such as " + example
	case typ == "bool":
		err.Fix = "write true or false"
	case strings.HasPrefix(typ, "int") || strings.HasPrefix(typ, "uint"):
		err.Fix = "write a whole number, such as " + example
	case strings.HasPrefix(typ, "float"):
		err.Fix = "write a number, such as " + example
	default:
		err.Fix = fmt.Sprintf("see the help of --%s", f.Name)
	}
	if o.Source == FromFile && (strings.Contains(value, " #") || strings.Contains(value, " ;")) {
		err.Fix += " (comments go on lines of their own)"
	}
	return err
}

// Nearest returns the candidate closest to name, within two edits, or ""
// when none is that close: the "did you mean" of a mistyped name.
func Nearest(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := distance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
