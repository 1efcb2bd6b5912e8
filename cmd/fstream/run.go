package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1 // the command ran and failed
	exitUsage   = 2 // bad arguments, flags or configuration
	exitRefused = 3 // the server refused the handshake
	// exitCut means the server ended a broadcast and said why: taken over
	// by a new broadcaster, removed by an operator, or shutting down.
	exitCut = 4
	// exitInterrupted is what a shell reports for a process that SIGINT
	// ended; watch and broadcast return it when a signal stops them.
	exitInterrupted = 130
)

// streams is what commands read, write and look up instead of the process's
// globals, so tests can run them in-process.
type streams struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	Getenv func(key string) string
	// Environ lists the environment, for the warning about unknown
	// FSTREAM_ variables; nil skips it.
	Environ func() []string
	// Self is the command as the user typed it (os.Args[0]), for hints
	// that tell them what to run; "" means "fstream".
	Self string
}

// runners are the functions the commands call once their options are
// parsed. Tests replace them to check the options without running anything.
type runners struct {
	serve     func(context.Context, *serveOptions) error
	watch     func(context.Context, *watchOptions) error
	broadcast func(context.Context, *broadcastOptions) error
}

func defaultRunners() runners {
	return runners{serve: runServe, watch: runWatch, broadcast: runBroadcast}
}

// run executes the command line args and returns the process's exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{In: stdin, Out: stdout, Err: stderr, Getenv: os.Getenv, Environ: os.Environ, Self: os.Args[0]}
	return execute(ctx, args, s, versionString(), defaultRunners())
}

func execute(ctx context.Context, args []string, s *streams, version string, r runners) int {
	root := newRootCmd(s, version, r)
	warnUnknownVariables(s, root)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	code, quiet := exitCode(err)
	if !quiet {
		msg := "fstream: " + oneLine(err.Error())
		if cut, ok := errors.AsType[*client.CutError](err); ok {
			// The server's sentence says it all: "taken over by a new
			// broadcaster of fier/cam".
			msg = "fstream: " + oneLine(cut.Error())
		}
		if code == exitUsage && cmd != nil {
			msg += fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())
		}
		fmt.Fprintln(s.Err, msg)
	}
	return code
}

// exitCode maps an error to the exit code, and says whether the error goes
// without a message because it is a normal way to end.
func exitCode(err error) (code int, quiet bool) {
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, client.ErrWriteOutput) && brokenPipe(err):
		// The player reading stdout quit: watching is over.
		return exitOK, true
	case errors.Is(err, context.Canceled):
		return exitInterrupted, true
	case isA[*usageError](err):
		return exitUsage, false
	case isA[*protocol.RefusedError](err):
		return exitRefused, false
	case isA[*client.CutError](err):
		return exitCut, false
	default:
		return exitError, false
	}
}

func isA[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// asUsage marks err, if any, as a usage error.
func asUsage(err error) error {
	if err == nil || isA[*usageError](err) {
		return err
	}
	return &usageError{err}
}

// oneLine keeps an error to one line (errors.Join separates with newlines).
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}

// withUsageArgs turns an argument check's error into a usage error.
func withUsageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		return asUsage(check(cmd, args))
	}
}
