package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--help"},
		{"-h"},
		{"help"},
		{"help", "watch"},
		{"watch", "--help"},
		{"broadcast", "-h"},
		{"serve", "--help"},
		{"version", "--help"},
		{"watch", "127.0.0.1", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := parse(t, args, nil)
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "Usage:") {
				t.Errorf("stdout has no usage:\n%s", r.stdout)
			}
			if r.watch != nil || r.broadcast != nil || r.serve != nil {
				t.Error("help ran a command")
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := parse(t, args, nil)
		if r.code != exitOK || r.stdout != "fstream v1.2.3-test\n" || r.stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestResolveVersion(t *testing.T) {
	vcs := func(kv ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
		for i := 0; i < len(kv); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return info
	}
	tests := []struct {
		name    string
		stamped string
		info    *debug.BuildInfo
		want    string
	}{
		{"stamped wins", "v1.0.0", &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}}, "v1.0.0"},
		{"go install", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}}, "v0.9.0"},
		{"vcs", "", vcs("vcs.revision", "0123456789abcdef", "vcs.modified", "false"), "dev-0123456789ab"},
		{"vcs dirty", "", vcs("vcs.revision", "0123456789abcdef", "vcs.modified", "true"), "dev-0123456789ab-dirty"},
		{"nothing", "", vcs(), "dev"},
		{"no build info", "", nil, "dev"},
	}
	for _, tt := range tests {
		if got := resolveVersion(tt.stamped, tt.info); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the one line on stderr
	}{
		{[]string{"watch"}, "missing ADDR"},
		{[]string{"watch", "a", "b", "c"}, "too many arguments"},
		{[]string{"watch", "127.0.0.1"}, "missing user"},
		{[]string{"watch", "127.0.0.1", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"watch", "127.0.0.1", "--user", "u", "--delay", "1"}, "unknown flag: --delay"},
		{[]string{"watch", "[::1", "--user", "u"}, "bad address"},
		{[]string{"broadcast", "127.0.0.1", "--user", "u", "--user-password", "a,b"}, "--user-password cannot contain a comma"},
		{[]string{"broadcast", "127.0.0.1", "--user", "u", "--delay", "soon"}, `invalid argument "soon"`},
		{[]string{"broadcast", "127.0.0.1", "watch,user=u"}, `PAYLOAD starts with "watch"`},
		{[]string{"serve", "extra"}, "unknown command"},
		{[]string{"serve", "--log-format", "xml"}, "--log-format"},
		{[]string{"serve", "--log-level", "loud"}, "--log-level"},
		{[]string{"serve", "--max-conns", "many"}, "invalid argument"},
		{[]string{"version", "now"}, "unknown command"},
		{[]string{"wach", "127.0.0.1"}, `unknown command "wach"; did you mean "watch"?`},
		{[]string{"127.0.0.1", "listen,user=u"}, "unknown command"},
		{[]string{"127.0.0.1"}, "unknown command"},
		{[]string{"127.0.0.1", "watch"}, "missing user"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := parse(t, tt.args, nil)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d", r.code, exitUsage)
			}
			if !strings.HasPrefix(r.stderr, "fstream: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr is not one fstream: line: %q", r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.want)
			}
			if !strings.Contains(r.stderr, "--help')") {
				t.Errorf("stderr %q has no pointer to --help", r.stderr)
			}
			if r.watch != nil || r.broadcast != nil || r.serve != nil {
				t.Error("a command ran despite the usage error")
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	refused := &protocol.RefusedError{Reason: protocol.ReasonUnauthorized, Message: "no"}
	epipe := &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
	tests := []struct {
		name      string
		err       error
		wantCode  int
		wantQuiet bool
	}{
		{"nil", nil, exitOK, true},
		{"runtime", errors.New("boom"), exitError, false},
		{"usage", usageErrorf("bad"), exitUsage, false},
		{"wrapped usage", fmt.Errorf("x: %w", usageErrorf("bad")), exitUsage, false},
		{"refused", fmt.Errorf("watch x: %w", refused), exitRefused, false},
		{"cut", fmt.Errorf("broadcast x: %w", &client.CutError{Reason: protocol.ReasonKicked}), exitCut, false},
		{"interrupted", fmt.Errorf("watch x: %w", context.Canceled), exitInterrupted, true},
		{"stdout closed", fmt.Errorf("watch x: %w: %w", client.ErrWriteOutput, epipe), exitOK, true},
		{"other output error", fmt.Errorf("%w: %w", client.ErrWriteOutput, syscall.ENOSPC), exitError, false},
		{"server socket EPIPE", fmt.Errorf("%w: %w", client.ErrConnClosed, syscall.EPIPE), exitError, false},
	}
	for _, tt := range tests {
		code, quiet := exitCode(tt.err)
		if code != tt.wantCode || quiet != tt.wantQuiet {
			t.Errorf("%s: exitCode = %d, %v; want %d, %v", tt.name, code, quiet, tt.wantCode, tt.wantQuiet)
		}
	}
}

func TestErrorIsOneLine(t *testing.T) {
	s := &streams{Getenv: func(string) string { return "" }}
	var stderr strings.Builder
	s.Out, s.Err = &strings.Builder{}, &stderr
	r := defaultRunners()
	r.watch = func(context.Context, *watchOptions) error {
		return errors.Join(errors.New("first"), errors.New("second"))
	}
	code := execute(t.Context(), []string{"watch", "127.0.0.1", "--user", "u"}, s, "test", r)
	if code != exitError || stderr.String() != "fstream: first; second\n" {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
