package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

// fakeTerminal is a passwordReader that answers from a list, and records
// the prompts. With no answers left it acts as if stdin were no terminal.
type fakeTerminal struct {
	answers []string
	prompts []string
}

func (f *fakeTerminal) read(_ context.Context, _ io.Reader, out io.Writer, prompt string) (string, error) {
	f.prompts = append(f.prompts, prompt)
	if len(f.answers) == 0 {
		return "", errNoTerminal
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	io.WriteString(out, prompt+"\n")
	return a, nil
}

// parseToken runs "fstream token" args with a runner that only records
// its options.
func parseToken(t *testing.T, args []string, stdin string, env map[string]string, term *fakeTerminal) (*tokenOptions, error) {
	t.Helper()
	var got *tokenOptions
	s := &streams{
		In:     strings.NewReader(stdin),
		Out:    &bytes.Buffer{},
		Err:    &bytes.Buffer{},
		Getenv: func(k string) string { return env[k] },
	}
	if term == nil {
		term = &fakeTerminal{}
	}
	cmd := newTokenCmd(s, func(_ context.Context, o *tokenOptions) error { got = o; return nil }, term.read)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	err := cmd.ExecuteContext(t.Context())
	return got, err
}

func TestTokenFlags(t *testing.T) {
	ca := writeCA(t)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		env      map[string]string
		answers  []string // typed on the fake terminal
		wantAddr string
		wantPW   string
		wantTLS  bool
		prompted bool
	}{
		{name: "flag", args: []string{"127.0.0.1", "--user", "fier", "--user-password", "flag"}, env: map[string]string{envUserPassword: "env"}, wantAddr: "127.0.0.1:61920", wantPW: "flag"},
		{name: "stdin", args: []string{"127.0.0.1", "--user", "fier", "--password-stdin"}, stdin: "from stdin\n", env: map[string]string{envUserPassword: "env"}, wantAddr: "127.0.0.1:61920", wantPW: "from stdin"},
		{name: "stdin crlf", args: []string{"127.0.0.1", "--user", "fier", "--password-stdin"}, stdin: "pw\r\n", wantAddr: "127.0.0.1:61920", wantPW: "pw"},
		{name: "env", args: []string{"127.0.0.1:7", "--user", "fier"}, env: map[string]string{envUserPassword: "env"}, wantAddr: "127.0.0.1:7", wantPW: "env"},
		{name: "terminal", args: []string{"127.0.0.1", "--user", "fier"}, answers: []string{"typed"}, wantAddr: "127.0.0.1:61920", wantPW: "typed", prompted: true},
		{name: "tls scheme", args: []string{"tls://example.com", "--user", "fier", "--user-password", "p"}, wantAddr: "tls://example.com:61920", wantPW: "p", wantTLS: true},
		{name: "tls ca", args: []string{"example.com", "--user", "fier", "--user-password", "p", "--tls-ca", ca}, wantAddr: "tls://example.com:61920", wantPW: "p", wantTLS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term := &fakeTerminal{answers: tt.answers}
			o, err := parseToken(t, tt.args, tt.stdin, tt.env, term)
			if err != nil {
				t.Fatal(err)
			}
			c := o.Client
			want := protocol.Request{Command: protocol.CommandToken, User: "fier", UserPassword: tt.wantPW}
			if c.Addr != tt.wantAddr || c.Request.Command != want.Command || c.Request.User != want.User || c.Request.UserPassword != want.UserPassword {
				t.Errorf("got %q %+v, want %q %+v", c.Addr, c.Request, tt.wantAddr, want)
			}
			if (c.TLS != nil) != tt.wantTLS {
				t.Errorf("TLS = %v, want TLS %v", c.TLS, tt.wantTLS)
			}
			if prompted := len(term.prompts) > 0; prompted != tt.prompted {
				t.Errorf("prompts %q, want prompted: %v", term.prompts, tt.prompted)
			}
			if c.DialTimeout == 0 || c.HandshakeTimeout == 0 {
				t.Errorf("timeouts not set: %+v", c)
			}
		})
	}
}

func TestTokenFlagErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"no addr", []string{"--user", "fier"}, "", "accepts 1 arg"},
		{"no user", []string{"127.0.0.1", "--user-password", "p"}, "", "missing user"},
		{"bad user", []string{"127.0.0.1", "--user", "../x", "--user-password", "p"}, "", "bad name"},
		{"bad addr", []string{"[::1", "--user", "fier", "--user-password", "p"}, "", "bad address"},
		{"no terminal", []string{"127.0.0.1", "--user", "fier"}, "", "--password-stdin"},
		{"both sources", []string{"127.0.0.1", "--user", "fier", "--user-password", "p", "--password-stdin"}, "p\n", "exclude each other"},
		{"empty flag", []string{"127.0.0.1", "--user", "fier", "--user-password", ""}, "", "empty"},
		{"empty stdin", []string{"127.0.0.1", "--user", "fier", "--password-stdin"}, "\n", "no password"},
		{"two lines", []string{"127.0.0.1", "--user", "fier", "--password-stdin"}, "a\nb\n", "more than one line"},
		{"comma", []string{"127.0.0.1", "--user", "fier", "--user-password", "a,b"}, "", "comma"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseToken(t, tt.args, tt.stdin, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if o != nil {
				t.Error("the command ran despite the error")
			}
		})
	}
}

func TestRunToken(t *testing.T) {
	const token = "Xp3Jw1cYqgq2QyE6mQ0n1Xv9yq3kq5y1h2m0c4y7Z8A"
	reqs := make(chan protocol.Request, 1)
	addr := startFake(t, func(c net.Conn, req protocol.Request) {
		reqs <- req
		protocol.WriteFrame(c, protocol.Status{OK: true, Params: map[string]string{
			protocol.KeyToken: token, protocol.KeyExpiresIn: "120",
		}}.Text())
	})
	code, stdout, stderr := runIn(t.Context(), []string{"token", addr, "--user", "fier", "--password-stdin"}, strings.NewReader("hunter2\n"), nil)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if stdout != token+"\n" {
		t.Errorf("stdout %q, want the token alone on a line", stdout)
	}
	if want := "token for fier: good for one broadcast within 2m0s\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	req := <-reqs
	if req.Command != protocol.CommandToken || req.User != "fier" || req.UserPassword != "hunter2" || !req.Ack {
		t.Errorf("server got %+v", req)
	}
}

func TestRunTokenTLS(t *testing.T) {
	tc := newTestCert(t)
	addr := startFakeTLS(t, tc, func(c net.Conn, _ protocol.Request) {
		protocol.WriteFrame(c, "ok,expires-in=60,token=T")
	})
	env := map[string]string{envUserPassword: "hunter2"}
	code, stdout, stderr := runIn(t.Context(), []string{"token", "tls://" + addr, "--user", "fier", "--tls-ca", tc.caFile}, nil, env)
	if code != exitOK || stdout != "T\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestRunTokenRefused(t *testing.T) {
	addr := startFake(t, func(c net.Conn, _ protocol.Request) {
		protocol.WriteFrame(c, protocol.Status{Reason: protocol.ReasonUnauthorized, Message: "wrong user or password"}.Text())
	})
	code, stdout, stderr := runIn(t.Context(), []string{"token", addr, "--user", "fier", "--user-password", "nope"}, nil, nil)
	want := "fstream: request a token from " + addr + ": server refused (unauthorized): wrong user or password\n"
	if code != exitRefused || stdout != "" || stderr != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %d, nothing, %q", code, stdout, stderr, exitRefused, want)
	}
}

// TestRunTokenNoTerminal runs the real command line, whose stdin in tests
// is no terminal: it must say how else to give the password.
func TestRunTokenNoTerminal(t *testing.T) {
	code, _, stderr := runIn(t.Context(), []string{"token", "127.0.0.1", "--user", "fier"}, strings.NewReader(""), nil)
	if code != exitUsage || !strings.Contains(stderr, "--password-stdin") || !strings.Contains(stderr, envUserPassword) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestRunTokenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := runToken(ctx, &tokenOptions{
		Client: tokenClientOptions("127.0.0.1:1"),
		Out:    io.Discard, Err: io.Discard,
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func tokenClientOptions(addr string) (o client.Options) {
	o.Addr = addr
	o.Request = protocol.Request{User: "fier", UserPassword: "x"}
	o.DialTimeout = time.Second
	return o
}
