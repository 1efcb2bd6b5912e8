package server_test

import (
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// captureLogs makes cfg log everything, debug included, into the returned
// capture.
func captureLogs(cfg *server.Config) *servertest.LogBuffer {
	lc := &servertest.LogBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(lc, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return lc
}

// TestSecretsNotEchoed: passwords, and pieces of passwords that a comma
// split off, appear neither in the answers nor in any log line.
func TestSecretsNotEchoed(t *testing.T) {
	var logs *servertest.LogBuffer
	ts := servertest.Start(t, func(c *server.Config) {
		logs = captureLogs(c)
		c.AuthFailuresPerMinute = 0
	})
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=vip,channel-password=right")
	handshakes := []struct{ text, secret string }{
		{"broadcast,user=fier,user-password S3cretA", "S3cretA"},              // no '='
		{"broadcast,user=fier,user-password=ab,S3cretB", "S3cretB"},           // a comma in the password
		{"watch,user=fier,channel=vip,channel-password=x,S3cretC", "S3cretC"}, // the same for a watcher
		{"broadcast,user=fier,user-password=ab,delay=S3cretD", "S3cretD"},     // a piece that looks like a key
		{"broadcast,user=fier,token=S3cretE", "S3cretE"},
		{"broadcast,user=fier,user-password=123,bufsize=S3cretF", "S3cretF"},
		{"watch,user=fier,channel=vip,channel-password=right,join=S3cretG", "S3cretG"},
		{"broadcast,user=fier,user-password=S3cretH", "S3cretH"}, // plainly wrong
		{"watch,user=fier,channel=vip,channel-password=S3cretI", "S3cretI"},
	}
	for _, h := range handshakes {
		c, st := servertest.DialHandshake(t, ts.Addr, h.text)
		c.Close()
		if !strings.HasPrefix(st, "error,") {
			t.Errorf("%q: %q, want a refusal", h.text, st)
		}
		if strings.Contains(st, h.secret) {
			t.Errorf("answer to %q echoes the secret: %q", h.text, st)
		}
	}
	ts.Close() // every line is written
	all := logs.String()
	if !strings.Contains(all, "handshake refused") {
		t.Fatalf("no refusal logged:\n%s", all)
	}
	for _, h := range handshakes {
		if strings.Contains(all, h.secret) {
			t.Errorf("the log holds secret %s:\n%s", h.secret, strings.Join(logs.Lines(h.secret), "\n"))
		}
	}
}

// TestTokenOfRemovedUser: a one-time token issued before its user was
// deleted does not let anyone broadcast as that user.
func TestTokenOfRemovedUser(t *testing.T) {
	users := auth.NewDir(t.TempDir())
	hash, err := bcrypt.GenerateFromPassword([]byte("123"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fier", "other"} {
		if err := users.AddUserHash(name, string(hash)); err != nil {
			t.Fatal(err)
		}
	}
	tokens := auth.NewTokens(time.Minute, nil)
	ts := servertest.Start(t, func(c *server.Config) {
		c.Auth = users
		c.Tokens = tokens
	})
	// Issued as the server would after a login (which costs a bcrypt
	// comparison: not what this test is about).
	gone, _, err := tokens.Issue("fier")
	if err != nil {
		t.Fatal(err)
	}
	kept, _, err := tokens.Issue("other")
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Delete("fier"); err != nil {
		t.Fatal(err)
	}
	if _, st := servertest.DialHandshake(t, ts.Addr, "broadcast,user=fier,token="+gone); !strings.HasPrefix(st, "error,reason=unauthorized,") {
		t.Fatalf("broadcast with the token of a deleted user: %q, want unauthorized", st)
	}
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=other,token="+kept)
}

// TestBrokenUserFileThrottled: logins against a user file that cannot be
// parsed count as failures, so they end in "busy" and a few log lines, not
// one ERROR line per attempt.
func TestBrokenUserFileThrottled(t *testing.T) {
	// One failure a minute: the allowance refills in a minute, far longer
	// than the test runs even with every login spending a bcrypt
	// comparison under the race detector.
	const attempts, limit = 30, 1
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fier.ini"), []byte("[DEFAULT\npassword=123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs *servertest.LogBuffer
	ts := servertest.Start(t, func(c *server.Config) {
		logs = captureLogs(c)
		c.Auth = auth.NewDir(dir)
		c.AuthFailuresPerMinute = limit
	})
	var got statusCounts
	for range attempts {
		c, st := servertest.DialHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123")
		c.Close()
		got.add(st)
	}
	ts.Close()
	errs := logs.Lines("level=ERROR")
	t.Logf("%d logins against a broken file: %v, %d ERROR lines", attempts, got.by, len(errs))
	if got.get("busy") < attempts-limit {
		t.Errorf("answers %v, want busy after %d", got.by, limit)
	}
	if len(errs) > 3 {
		t.Errorf("%d ERROR lines for %d attempts, want at most 3:\n%s", len(errs), attempts, strings.Join(errs, "\n"))
	}
}

// TestOldTLSLoggedAsRefusal: a TLS 1.0/1.1 client is refused by policy,
// which is logged at INFO, not as a fault at WARN.
func TestOldTLSLoggedAsRefusal(t *testing.T) {
	cert, _ := selfSigned(t)
	var logs *servertest.LogBuffer
	ts := servertest.Start(t, func(c *server.Config) {
		logs = captureLogs(c)
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		c := servertest.Dial(t, ts.Addr)
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err == nil {
			t.Fatalf("TLS version %x: handshake succeeded", v)
		}
	}
	servertest.WaitFor(t, "two failed handshakes logged", func() bool { return len(logs.Lines("handshake failed")) >= 2 })
	for _, line := range logs.Lines("handshake failed") {
		if !strings.Contains(line, "level=INFO") {
			t.Errorf("old TLS client logged as %q, want INFO", line)
		}
	}
}
