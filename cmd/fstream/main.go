// Command fstream relays a live byte stream over TCP from one broadcaster to
// many watchers: "fstream serve" runs the server, "fstream broadcast" sends
// stdin to it and "fstream watch" writes a channel's stream to stdout.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A closed stdout must be a write error (EPIPE) that watch ends on
	// cleanly, not a signal that kills the process.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills at once.
	context.AfterFunc(ctx, stop)
	stdin, restore := pollableStdin()
	code := run(ctx, os.Args[1:], stdin, os.Stdout, os.Stderr)
	stop()
	restore()
	os.Exit(code)
}
