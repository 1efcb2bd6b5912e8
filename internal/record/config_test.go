package record

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/media"
)

// keepCases drive the parse test and seed the fuzz corpus.
var keepCases = []struct {
	in   string
	want Keep
	err  string // a piece of the error; "" for none
}{
	{"", Keep{}, ""},
	{"7d", Keep{Age: 7 * 24 * time.Hour}, ""},
	{"36h", Keep{Age: 36 * time.Hour}, ""},
	{"90m", Keep{Age: 90 * time.Minute}, ""},
	{"50GiB", Keep{Bytes: 50 << 30}, ""},
	{"500MB", Keep{Bytes: 500e6}, ""},
	{"1.5TiB", Keep{Bytes: 3 << 39}, ""},
	{"7d,50GiB", Keep{Age: 7 * 24 * time.Hour, Bytes: 50 << 30}, ""},
	{" 50GiB , 7d ", Keep{Age: 7 * 24 * time.Hour, Bytes: 50 << 30}, ""},
	{"7d,", Keep{}, "empty part"},
	{"7d,1d", Keep{}, "two ages"},
	{"1GiB,2GiB", Keep{}, "two sizes"},
	{"50", Keep{}, "no unit"},
	{"50gb", Keep{}, "neither an age"},
	{"0d", Keep{}, "must be positive"},
	{"-5GiB", Keep{}, "must be positive"},
	{"xGiB", Keep{}, "not a number"},
	{"99999999999TiB", Keep{}, "too large"},
}

func TestParseKeep(t *testing.T) {
	for _, tt := range keepCases {
		got, err := ParseKeep(tt.in)
		if tt.err != "" {
			if !errors.Is(err, ErrBadKeep) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseKeep(%q): %v, want ErrBadKeep saying %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseKeep(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if back, err := ParseKeep(got.String()); err != nil || back != got {
			t.Errorf("ParseKeep(%q).String() = %q reads back as %+v, %v", tt.in, got.String(), back, err)
		}
	}
}

// FuzzParseKeep: any input either fails with ErrBadKeep or gives a Keep
// whose String reads back as the same Keep.
func FuzzParseKeep(f *testing.F) {
	for _, tt := range keepCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKeep(s)
		if err != nil {
			if !errors.Is(err, ErrBadKeep) {
				t.Fatalf("ParseKeep(%q): %v does not wrap ErrBadKeep", s, err)
			}
			return
		}
		if k.Age < 0 || k.Bytes < 0 {
			t.Fatalf("ParseKeep(%q) = %+v: negative", s, k)
		}
		if back, err := ParseKeep(k.String()); err != nil || back != k {
			t.Fatalf("ParseKeep(%q) = %+v; String %q reads back as %+v, %v", s, k, k.String(), back, err)
		}
	})
}

func TestValidateGlobAndMatch(t *testing.T) {
	for _, tt := range []struct {
		glob string
		ok   bool
	}{
		{"alice/cam", true}, {"alice/*", true}, {"*/*", true}, {"a?/[a-c]*", true},
		{"alice", false}, {"/cam", false}, {"alice/", false}, {"a/b/c", false}, {"a/[", false},
	} {
		if err := ValidateGlob(tt.glob); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadGlob)) {
			t.Errorf("ValidateGlob(%q): %v, want ok %v", tt.glob, err, tt.ok)
		}
	}
	globs := []string{"alice/*", "*/cam"}
	for _, tt := range []struct {
		key  hub.Key
		want bool
	}{
		{hub.Key{User: "alice", Channel: "x"}, true},
		{hub.Key{User: "bob", Channel: "cam"}, true},
		{hub.Key{User: "bob", Channel: "cam2"}, false},
		{hub.Key{User: "alicex", Channel: "y"}, false},
	} {
		if got := matches(globs, tt.key); got != tt.want {
			t.Errorf("matches(%v, %v) = %v", globs, tt.key, got)
		}
	}
	if matches(nil, hub.Key{User: "a", Channel: "b"}) {
		t.Error("no patterns matched a channel")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		err  error
	}{
		{"ok", Config{Dir: "x", Channels: []string{"*/*"}}, nil},
		{"no dir", Config{}, ErrBadConfig},
		{"short segment", Config{Dir: "x", Segment: time.Millisecond}, ErrBadConfig},
		{"small buffer", Config{Dir: "x", Buffer: 10}, ErrBadConfig},
		{"bad glob", Config{Dir: "x", Channels: []string{"nope"}}, ErrBadGlob},
	} {
		if err := tt.cfg.Validate(); !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("%s: Validate: %v, want %v", tt.name, err, tt.err)
		}
	}
}

func TestFileNames(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 45, 12, 345_678_000, time.FixedZone("CET", 3600))
	name := fileName(at, media.FormatMPEGTS)
	if name != "20261203T094512.345Z.ts" {
		t.Errorf("fileName = %q", name)
	}
	if got, ok := parseFileName(name); !ok || !got.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("parseFileName(%q) = %v, %v", name, got, ok)
	}
	for _, bad := range []string{"", "x.ts", "20261203T094512.345Z.mp4", "20261203T094512.345Z", "../20261203T094512.345Z.ts",
		"20261203T094512.345Z.ts/..", "20261203T094512Z.ts", "20261203T094512.345+01:00.ts", " 20261203T094512.345Z.ts"} {
		if _, ok := parseFileName(bad); ok {
			t.Errorf("parseFileName(%q) accepted it", bad)
		}
	}
}

// FuzzParseFileName: a name it accepts is exactly the one fileName makes
// for its time, so it can never hold a path separator.
func FuzzParseFileName(f *testing.F) {
	f.Add("20261203T094512.345Z.ts")
	f.Add("20261203T094512.345Z.bin")
	f.Add("../x.ts")
	f.Fuzz(func(t *testing.T, s string) {
		at, ok := parseFileName(s)
		if !ok {
			return
		}
		if strings.ContainsAny(s, `/\`) || !strings.HasPrefix(s, at.UTC().Format(stampLayout)+".") {
			t.Fatalf("parseFileName accepted %q", s)
		}
	})
}
