// Package benchtest is a stand-in fstream server for the bench's tests: a
// test binary re-runs itself as a child "server" (see MaybeServe), so that
// the bench's child-process path (start, handshakes, /proc, TLS, SIGTERM)
// is tested without building the real server. It knows only what the
// bench needs, and relays each channel with Fanout, the simplest relay
// there is.
package benchtest

import (
	"os"
	"testing"
)

// Env, set in a child's environment, makes the test binary a fake server:
// "1" knows the flags the bench always gives, "lenient" also those of the
// suite's slow-watcher scenario (which it ignores).
const Env = "FSTREAM_BENCH_FAKE_SERVER"

// MaybeServe runs the fake server and exits if the environment asks for
// one; call it first in TestMain.
func MaybeServe() {
	switch os.Getenv(Env) {
	case "1":
		os.Exit(serve(os.Args[1:], false))
	case "lenient":
		os.Exit(serve(os.Args[1:], true))
	}
}

// Command returns the command that starts the test binary as a fake
// server, and sets Env for the test (lenient or not).
func Command(t *testing.T, lenient bool) []string {
	t.Helper()
	mode := "1"
	if lenient {
		mode = "lenient"
	}
	t.Setenv(Env, mode)
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("executable: %v", err)
	}
	return []string{exe, "serve"}
}
