package server_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// logBuffer is a log destination a test reads while the server writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// line returns the first line that contains substr, or "".
func (l *logBuffer) line(substr string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(ln, substr) {
			return ln
		}
	}
	return ""
}

// TestWatcherLeftLog: a watcher that quits is logged as "watcher left",
// with what it got, and nothing that reads like an error.
func TestWatcherLeftLog(t *testing.T) {
	var logs logBuffer
	ts := servertest.Start(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	b := servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
	w := servertest.MustHandshake(t, ts.Addr, "watch,user=fier")
	b.Write([]byte("first"))
	servertest.ReadN(t, w, len("first"))
	w.Close()
	chunk := make([]byte, 64<<10)
	servertest.WaitFor(t, "the watcher to be seen leaving", func() bool {
		b.Write(chunk) // the server notices on a write
		return logs.line(`msg="watcher left"`) != ""
	})
	line := logs.line(`msg="watcher left"`)
	if strings.Contains(line, "err=") || strings.Contains(line, "level=WARN") || !strings.Contains(line, "bytes=") {
		t.Errorf("log line %q", line)
	}
}
