// Command suite runs fstream's performance targets: every scenario of
// internal/bench's suite against a child "fstream serve" of its own, one
// table of numbers, baselines measured in the same run, ratios, targets
// and PASS or FAIL. It is the project's regression check ("make bench"
// builds and runs it with --strict), not part of the shipped binary: an
// operator measures a server with "fstream bench", which this command
// uses for each run.
//
// Exit status: 0 when every scenario ran (and, with --strict, every
// target was met); 1 otherwise; 2 for a usage error; 130 if interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
