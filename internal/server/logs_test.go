package server_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// TestWatcherLeftLog: a watcher that quits is logged as "watcher left",
// with what it got, and nothing that reads like an error.
func TestWatcherLeftLog(t *testing.T) {
	var logs servertest.LogBuffer
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
		return len(logs.Lines(`msg="watcher left"`)) > 0
	})
	line := logs.Lines(`msg="watcher left"`)[0]
	if strings.Contains(line, "err=") || strings.Contains(line, "level=WARN") || !strings.Contains(line, "bytes=") {
		t.Errorf("log line %q", line)
	}
}
