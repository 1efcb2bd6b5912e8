package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every problem is an
// *Error with a line, that scan and ini.v1 agree on the text, and that
// every entry sits on a line of the input and was written there with its
// key.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "listen = :1\n", "[DEFAULT]\na=1\n[x]\nb=2\n", "a = \"\"\"x\ny\"\"\"\n", "a = `x", "\"k\" = v",
		"\uFEFFa=1\r\n", "a\n", " = x", "[", "- = 1", "a=1\nA=2\n", "a_b = 1\na-b = 2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		file, err := Parse("fuzz.ini", []byte(text))
		if err != nil {
			for _, e := range flatten(err) {
				var ce *Error
				if !errors.As(e, &ce) {
					t.Fatalf("%T %v is no *Error", e, e)
				}
				// These mean that scan and ini.v1 read the text
				// differently.
				if ce.Line == 0 || ce.Cause != nil {
					t.Fatalf("scan and ini.v1 disagree on %q: %v", text, ce)
				}
			}
			return
		}
		rows := strings.Split(text, "\n")
		seen := make(map[string]bool)
		for _, e := range file.Entries {
			if e.Line < 1 || e.Line > len(rows) {
				t.Fatalf("entry %+v outside the %d lines", e, len(rows))
			}
			if !strings.Contains(rows[e.Line-1], e.Key) {
				t.Fatalf("line %d %q does not hold key %q", e.Line, rows[e.Line-1], e.Key)
			}
			if seen[e.Name] {
				t.Fatalf("setting %q twice", e.Name)
			}
			seen[e.Name] = true
		}
	})
}

// flatten splits joined errors; an *Error is one problem.
func flatten(err error) []error {
	if _, ok := err.(*Error); ok { //nolint:errorlint // this very error, not one it wraps
		return []error{err}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var all []error
		for _, e := range j.Unwrap() {
			all = append(all, flatten(e)...)
		}
		return all
	}
	return []error{err}
}
