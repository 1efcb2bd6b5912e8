package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// flagLine is a line of the flag list: the flag, its value's placeholder
// if it takes one, then the usage.
var flagLine = regexp.MustCompile(`^  (?:-\w, |    )--([a-z-]+)(?: (\S+))?  +\S`)

// TestHelpFlags: every command's help names flag values the same way
// (an upper-case noun), and watch lists only what applies to watching.
func TestHelpFlags(t *testing.T) {
	root := newRootCmd(&streams{Getenv: func(string) string { return "" }}, "test", defaultRunners())
	var visit func(c *cobra.Command)
	helps := map[string]string{}
	visit = func(c *cobra.Command) {
		var out bytes.Buffer
		c.SetOut(&out)
		c.SetErr(&out)
		if err := c.Help(); err != nil {
			t.Fatalf("%s --help: %v", c.CommandPath(), err)
		}
		helps[c.CommandPath()] = out.String()
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
	lines := 0
	for path, help := range helps {
		_, flags, ok := strings.Cut(help, "\nFlags:\n")
		if !ok {
			continue
		}
		for _, l := range strings.Split(flags, "\n") {
			if l == "" {
				break
			}
			m := flagLine.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("%s: flag line %q does not read like the others", path, l)
				continue
			}
			lines++
			if p := m[2]; p != "" && !regexp.MustCompile(`^[A-Z][A-Z]*$`).MatchString(p) {
				t.Errorf("%s --%s: placeholder %q, want an upper-case noun", path, m[1], p)
			}
		}
	}
	if lines < 50 {
		t.Fatalf("only %d flag lines in all the helps", lines)
	}
	watch := helps["fstream watch"]
	for _, flag := range []string{"--user-password", "--token", "--delay"} {
		if strings.Contains(watch, flag+" ") {
			t.Errorf("watch --help lists %s, which does not apply to watching", flag)
		}
	}
	for _, want := range []string{"--wait ", "--join POLICY", "--connect-timeout DURATION"} {
		if !strings.Contains(watch, want) {
			t.Errorf("watch --help lacks %q", want)
		}
	}
	if r := parse(t, []string{"--help"}, nil); !strings.Contains(r.stdout, "\n  completion ") {
		t.Errorf("fstream --help does not list completion:\n%s", r.stdout)
	}
}

// TestFlagSuggestion: a mistyped flag gets a "did you mean", as a mistyped
// command does.
func TestFlagSuggestion(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "h", "--user", "u", "--chanel", "c"}, "unknown flag: --chanel; did you mean --channel?"},
		{[]string{"broadcast", "h", "--user", "u", "--user-pasword=1"}, "unknown flag: --user-pasword; did you mean --user-password?"},
		{[]string{"serve", "--max-lags", "1s"}, "unknown flag: --max-lags; did you mean --max-lag?"},
		{[]string{"watch", "h", "--user", "u", "--bogus"}, "unknown flag: --bogus (see"},
	} {
		r := parse(t, tt.args, nil)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, %q; want %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// TestUnknownVariables: an FSTREAM_ variable that fstream does not read is
// warned about, with the nearest one it does; known ones are not.
func TestUnknownVariables(t *testing.T) {
	var stderr bytes.Buffer
	s := &streams{
		Out: &bytes.Buffer{}, Err: &stderr, Getenv: func(string) string { return "" },
		Environ: func() []string {
			return []string{"HOME=/root", "FSTREAM_USER_PASWORD=x", "FSTREAM_MAX_LAG=5s", "FSTREAM_CONFIG=", "FSTREAM_COLOUR=blue", "FSTREAM_USERS=u"}
		},
	}
	if code := execute(t.Context(), []string{"version"}, s, "test", defaultRunners()); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	want := "fstream: warning: $FSTREAM_USER_PASWORD is not a variable fstream reads; did you mean $FSTREAM_USER_PASSWORD?\n" +
		"fstream: warning: $FSTREAM_COLOUR is not a variable fstream reads\n"
	if stderr.String() != want {
		t.Errorf("stderr %q\nwant   %q", stderr.String(), want)
	}
}

// TestUsersHintNamesTheCommand: the hint of a server without users names
// fstream as the user ran it.
func TestUsersHintNamesTheCommand(t *testing.T) {
	for self, want := range map[string]string{"": "fstream", "fstream": "fstream", "bin/fstream": "bin/fstream", "./fstream": "./fstream"} {
		if got := commandName(self); got != want {
			t.Errorf("commandName(%q) = %q, want %q", self, got, want)
		}
	}
}
