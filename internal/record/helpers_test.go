package record

import (
	"bytes"
	"context"
	"github.com/fstream/fstream/internal/hub"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture reads a stream from internal/media/testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "media", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// needTool skips a test when an ffmpeg tool is missing.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed", name)
	}
}

// probe reads a file with ffprobe at -v error and reports what it printed
// on stderr (nothing for a clean file), the number of video packets, and
// whether the first video frame is a keyframe.
func probe(t *testing.T, path string) (stderr string, packets int, firstKey bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=flags", "-of", "csv=p=0", path)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, errb.String())
	}
	lines := strings.Fields(out.String())
	if len(lines) == 0 {
		return errb.String(), 0, false
	}
	return errb.String(), len(lines), strings.HasPrefix(lines[0], "K")
}

// logBuffer is a slog handler's output, safe to read while the logger
// writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// count returns how many lines contain s.
func (l *logBuffer) count(s string) int {
	return strings.Count(l.String(), s)
}

func newLogger(l *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// files lists a directory's file names, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

var hubKey = hub.Key{User: "alice", Channel: "cam"}
