package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Entry
	}{
		{"empty", "", nil},
		{"comments and blanks", "# a comment\n; another\n\n   \n", nil},
		{"keys", "listen = :61920\nmax-lag=5s\n  users =  /srv/users  \n", []Entry{
			{Key: "listen", Name: "listen", Value: ":61920", Line: 1},
			{Key: "max-lag", Name: "max-lag", Value: "5s", Line: 2},
			{Key: "users", Name: "users", Value: "/srv/users", Line: 3},
		}},
		{"case and underscores", "Max_Lag = 5s\n", []Entry{{Key: "Max_Lag", Name: "max-lag", Value: "5s", Line: 1}}},
		{"CRLF and BOM", "\uFEFF# x\r\nlisten = :1\r\n\r\nusers = u\r\n", []Entry{
			{Key: "listen", Name: "listen", Value: ":1", Line: 2},
			{Key: "users", Name: "users", Value: "u", Line: 4},
		}},
		{"default section", "[DEFAULT]\nlisten = :1\n", []Entry{{Key: "listen", Name: "listen", Value: ":1", Line: 2}}},
		{"quotes removed", "listen = \":61920\"\nusers = '/a b'\n", []Entry{
			{Key: "listen", Name: "listen", Value: ":61920", Line: 1},
			{Key: "users", Name: "users", Value: "/a b", Line: 2},
		}},
		{"literal comment characters", "http-admin-token = a#b;c \\\nusers = x\n", []Entry{
			{Key: "http-admin-token", Name: "http-admin-token", Value: "a#b;c \\", Line: 1},
			{Key: "users", Name: "users", Value: "x", Line: 2},
		}},
		{"no interpolation", "auth-url = http://127.0.0.1/%(users)s\nusers = x\n", []Entry{
			{Key: "auth-url", Name: "auth-url", Value: "http://127.0.0.1/%(users)s", Line: 1},
			{Key: "users", Name: "users", Value: "x", Line: 2},
		}},
		{"empty value", "http =\n", []Entry{{Key: "http", Name: "http", Value: "", Line: 1}}},
		{"multi-line value", "a = \"\"\"one\ntwo\"\"\"\nb = `x\n\ny`\nc = 1", []Entry{
			{Key: "a", Name: "a", Value: "one\ntwo", Line: 1},
			{Key: "b", Name: "b", Value: "x\n\ny", Line: 3},
			{Key: "c", Name: "c", Value: "1", Line: 6},
		}},
		{"quoted key", "\"max-lag\" = 5s\n", []Entry{{Key: "max-lag", Name: "max-lag", Value: "5s", Line: 1}}},
		{"no final newline", "listen = :1", []Entry{{Key: "listen", Name: "listen", Value: ":1", Line: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("test.ini", []byte(tt.text))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(f.Entries, tt.want) {
				t.Errorf("entries\n got %+v\nwant %+v", f.Entries, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		kind error
		want []string // the messages, in order
	}{
		{"no equals", "listen = :1\nmax-lag 5s\n", ErrSyntax,
			[]string{"test.ini:2: neither a [section] header nor key = value; fix: write key = value, or start a comment with '#'"}},
		{"colon is no delimiter", "listen: :61920\n", ErrSyntax,
			[]string{"test.ini:1: neither a [section] header nor key = value; fix: write key = value, or start a comment with '#'"}},
		{"no key", "\n = x\n", ErrSyntax,
			[]string{"test.ini:2: no key before '='; fix: write key = value, or start a comment with '#'"}},
		{"unclosed header", "[serve\n", ErrSyntax,
			[]string{"test.ini:1: unclosed section header; fix: end it with ']', or start a comment with '#'"}},
		{"empty header", "[]\n", ErrSyntax,
			[]string{"test.ini:1: empty section header; fix: remove the line"}},
		{"unclosed quote", "a = 1\nb = \"\"\"x\ny\n", ErrSyntax,
			[]string{`test.ini:2: value opened with """ is never closed; fix: close it on the same line, or remove the quote`}},
		{"auto key", "- = x\n", ErrSyntax,
			[]string{`test.ini:1: "-" is not a key; fix: write key = value`}},
		{"section", "listen = :1\n[serve]\nmax-lag = 5s\n", ErrSection,
			[]string{"test.ini:2: unexpected section [serve]; fix: remove the header line; settings go at the top of the file, outside any section"}},
		{"duplicate", "max-lag = 5s\nlisten = :1\nmax_lag = 6s\n", ErrDuplicate,
			[]string{"test.ini:3: max_lag: set again (first on line 1); fix: keep one of the two lines"}},
		{"all at once", "a\nb\n", ErrSyntax, []string{
			"test.ini:1: neither a [section] header nor key = value; fix: write key = value, or start a comment with '#'",
			"test.ini:2: neither a [section] header nor key = value; fix: write key = value, or start a comment with '#'",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.ini", []byte(tt.text))
			if !errors.Is(err, tt.kind) {
				t.Fatalf("error %v, want %v", err, tt.kind)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("messages\n got %q\nwant %q", got, tt.want)
			}
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Errorf("%T is no *Error", err)
			}
		})
	}
}

// A syntax error must not echo the line: it may be a pasted secret.
func TestParseErrorHidesLine(t *testing.T) {
	_, err := Parse("test.ini", []byte("s3cr3t-token\n"))
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error %v", err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.ini")
	if err := os.WriteFile(path, []byte("listen = :1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := f.Lookup("listen"); !ok || e.Value != ":1" || f.Path != path {
		t.Errorf("Lookup: %+v %v, path %q", e, ok, f.Path)
	}
	if _, ok := f.Lookup("users"); ok {
		t.Error("Lookup found a key that is not there")
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.ini"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.ini") {
		t.Errorf("missing file: %v", err)
	}
}
