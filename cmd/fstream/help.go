package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fstream/fstream/internal/config"
)

// placeholderAnnotation names a flag's value in the help when its usage
// does not (with a `BACKQUOTED` word).
const placeholderAnnotation = "fstream_placeholder"

// typePlaceholders name the values of the flag types whose usage names none,
// so that every placeholder reads the same way: upper case, a noun.
var typePlaceholders = map[string]string{
	"duration": "DURATION",
	"int":      "N",
	"int64":    "N",
	"uint":     "N",
	"float64":  "NUMBER",
	"string":   "TEXT",
	"level":    "LEVEL",
}

// setPlaceholder names flag's value in the help.
func setPlaceholder(fl *pflag.FlagSet, flag, placeholder string) {
	if err := fl.SetAnnotation(flag, placeholderAnnotation, []string{placeholder}); err != nil {
		panic(err) // a flag defined a line above
	}
}

// flagPlaceholder returns the name of f's value in the help ("" for a
// switch) and its usage without backquotes.
func flagPlaceholder(f *pflag.Flag) (name, usage string) {
	name, usage = pflag.UnquoteUsage(f)
	switch {
	case strings.Contains(f.Usage, "`"):
		return name, usage
	case len(f.Annotations[placeholderAnnotation]) > 0:
		return f.Annotations[placeholderAnnotation][0], usage
	case f.Value.Type() == "bool":
		return "", usage
	}
	if p, ok := typePlaceholders[f.Value.Type()]; ok {
		return p, usage
	}
	return strings.ToUpper(name), usage
}

// flagUsages lists flags as pflag does, with fstream's placeholders.
func flagUsages(fs *pflag.FlagSet) string {
	type row struct{ left, right string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		name, usage := flagPlaceholder(f)
		if name != "" {
			left += " " + name
		}
		switch f.DefValue {
		case "", "0", "0s", "false", "[]":
		default:
			if f.Value.Type() == "string" {
				usage += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		rows = append(rows, row{left, usage})
		width = max(width, len(left))
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s   %s\n", width, r.left, r.right)
	}
	return b.String()
}

var addTemplateFunc sync.Once

// useFlagUsages makes cmd's help, and its subcommands', list flags with
// flagUsages.
func useFlagUsages(cmd *cobra.Command) {
	// cobra keeps template functions in a global map: register once, so
	// that commands built concurrently (tests) do not race on it.
	addTemplateFunc.Do(func() { cobra.AddTemplateFunc("flagUsages", flagUsages) })
	t := cmd.UsageTemplate()
	t = strings.ReplaceAll(t, ".LocalFlags.FlagUsages", "flagUsages .LocalFlags")
	t = strings.ReplaceAll(t, ".InheritedFlags.FlagUsages", "flagUsages .InheritedFlags")
	cmd.SetUsageTemplate(t)
}

// flagError turns a flag parsing error into a usage error, with the
// nearest flag of cmd when one was mistyped: "unknown flag: --chanel; did
// you mean --channel?".
func flagError(cmd *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return asUsage(err)
	}
	name, _, _ = strings.Cut(name, "=")
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	if near := config.Nearest(name, names); near != "" {
		return &usageError{fmt.Errorf("%w; did you mean --%s?", err, near)}
	}
	return asUsage(err)
}

// knownVariables are the FSTREAM_ variables fstream reads besides one per
// serve flag.
var knownVariables = []string{envConfig, envUserPassword, envUsers, "FSTREAM_BENCH_FAKE_SERVER"}

// warnUnknownVariables warns about FSTREAM_ variables that fstream does not
// read, with the nearest one it does: a mistyped FSTREAM_USER_PASWORD would
// otherwise be ignored without a word. The settings file does the same for
// its keys.
func warnUnknownVariables(s *streams, root *cobra.Command) {
	if s.Environ == nil {
		return
	}
	known := slices.Clone(knownVariables)
	if serve, _, err := root.Find([]string{"serve"}); err == nil {
		serve.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name != configFlag && f.Name != "help" {
				known = append(known, config.EnvName(envPrefix, f.Name))
			}
		})
	}
	for _, kv := range s.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || slices.Contains(known, name) {
			continue
		}
		msg := fmt.Sprintf("fstream: warning: $%s is not a variable fstream reads", name)
		if near := config.Nearest(name, known); near != "" {
			msg += fmt.Sprintf("; did you mean $%s?", near)
		}
		fmt.Fprintln(s.Err, msg)
	}
}
