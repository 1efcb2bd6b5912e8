package record

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/hub/hubtest"
)

// bareRecorder is a Recorder with no goroutines, for List, Open and prune.
func bareRecorder(t *testing.T, dir string, keep Keep, clock hub.Clock) *Recorder {
	cfg := Config{Dir: dir, Keep: keep, Clock: clock, Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	return &Recorder{cfg: cfg, clock: clock, log: cfg.Logger, stats: make(map[hub.Key]*chanStats), active: make(map[hub.Key]bool)}
}

// put writes a recording file of n bytes last written at mod.
func put(t *testing.T, dir, user, channel, name string, n int, mod time.Time) string {
	t.Helper()
	p := filepath.Join(dir, user, channel, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenRefusesPathsOutsideTheDirectory: names with separators, dot
// names, names the recorder would not make, and a symbolic link out of
// the directory never open anything.
func TestOpenRefusesPathsOutsideTheDirectory(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "rec")
	now := time.Now()
	const name = "20261203T094512.345Z.ts"
	put(t, dir, "alice", "cam", name, 10, now)
	secret := filepath.Join(base, "secret.ts")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	const link = "20261203T094513.000Z.ts"
	if err := os.Symlink(secret, filepath.Join(dir, "alice", "cam", link)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(base, filepath.Join(dir, "alice", "up")); err != nil {
		t.Fatal(err)
	}
	r := bareRecorder(t, dir, Keep{}, hubtest.NewClock())

	f, err := r.Open("alice", "cam", name)
	if err != nil {
		t.Fatalf("Open of a recording: %v", err)
	}
	f.Close()
	for _, tt := range []struct{ user, channel, file string }{
		{"..", "rec", name},
		{"alice", "..", name},
		{".", "cam", name},
		{"alice/cam", "x", name},
		{"alice", "cam", "../cam/" + name},
		{"alice", "cam", "../../secret.ts"},
		{"alice", "cam", "secret.ts"},
		{"alice", `..\..`, name},
		{"", "cam", name},
		{"alice", "cam", ""},
		{"alice", "cam", link},  // a symbolic link out of the directory
		{"alice", "up", "x.ts"}, // a directory link, and not a recording's name
		{"alice", "up", name},   // through a directory link: not there
		{"alice", "nope", name}, // not there at all
		{"alice\x00", "cam", name},
	} {
		f, err := r.Open(tt.user, tt.channel, tt.file)
		if err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			t.Errorf("Open(%q, %q, %q) opened %q", tt.user, tt.channel, tt.file, b)
		}
	}
	if _, err := r.Open("alice", "cam", "20261203T094599.000Z.ts"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open of a missing recording: %v, want ErrNotFound", err)
	}
	recs, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].File != name {
		t.Errorf("List = %+v, want the one recording (no link, no stray file)", recs)
	}
}

// TestPruneDeletesOldestBeyondKeep: files older than the age go, then the
// oldest until the rest fit the size; the file being written stays, and
// files the recorder did not name are never touched.
func TestPruneDeletesOldestBeyondKeep(t *testing.T) {
	dir := t.TempDir()
	clock := hubtest.NewClock()
	now := clock.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	stamp := func(d time.Duration) string { return fileName(ago(d), 1) } // any format
	p := map[string]string{
		"ancient":  put(t, dir, "alice", "cam", stamp(50*time.Hour), 10, ago(49*time.Hour)),
		"old":      put(t, dir, "bob", "cam", stamp(30*time.Hour), 100, ago(29*time.Hour)),
		"older":    put(t, dir, "alice", "cam", stamp(5*time.Hour), 100, ago(4*time.Hour)),
		"newer":    put(t, dir, "bob", "cam", stamp(3*time.Hour), 100, ago(2*time.Hour)),
		"current":  put(t, dir, "alice", "cam", stamp(time.Hour), 100, ago(0)),
		"stranger": put(t, dir, "alice", "cam", "notes.txt", 1000, ago(100*time.Hour)),
	}
	r := bareRecorder(t, dir, Keep{Age: 24 * time.Hour, Bytes: 250}, clock)
	r.stats[hub.Key{User: "alice", Channel: "cam"}] = &chanStats{file: p["current"]}
	r.prune()

	var left []string
	for name, path := range p {
		if _, err := os.Stat(path); err == nil {
			left = append(left, name)
		}
	}
	slices.Sort(left)
	// ancient and old are past 24 h; of the rest (300 bytes) the oldest
	// goes to fit 250; current is being written.
	if want := []string{"current", "newer", "stranger"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}
