package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/fstream/fstream/internal/bench"
	"github.com/fstream/fstream/internal/certs/certstest"
)

// parseBench runs "fstream bench" args with a runner that only records
// its options.
func parseBench(t *testing.T, args ...string) (*benchOptions, int, string) {
	t.Helper()
	var got *benchOptions
	var stderr bytes.Buffer
	s := &streams{Out: &bytes.Buffer{}, Err: &stderr, Getenv: func(string) string { return "" }}
	cmd := newBenchCmd(s, func(_ context.Context, o *benchOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&stderr)
	cmd.SetErr(&stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsage(err) })
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	code, _ := exitCode(cmd.Execute())
	return got, code, stderr.String()
}

func TestBenchFlags(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o, code, _ := parseBench(t)
	if code != exitOK || o.Watchers != 64 || o.Size != bench.DefaultSize || o.Batch != bench.RelayBatch ||
		o.Options.TLS != nil || o.Addr != "" || len(o.ServerCmd) != 2 || o.ServerCmd[0] != exe || o.ServerCmd[1] != "serve" {
		t.Fatalf("defaults: exit %d, %+v", code, o)
	}

	tests := []struct {
		name  string
		args  []string
		check func(o *benchOptions) bool
	}{
		{"child over TLS", []string{"--tls"}, func(o *benchOptions) bool {
			return o.Options.TLS != nil && o.Addr == "" && len(o.ServerCmd) == 2
		}},
		{"tls:// address", []string{"tls://127.0.0.1:5000", "--user", "u"}, func(o *benchOptions) bool {
			return o.Options.TLS != nil && o.Addr == "tls://127.0.0.1:5000" && o.ServerCmd == nil
		}},
		{"address without a port", []string{"127.0.0.1", "--user", "u"}, func(o *benchOptions) bool {
			return o.Options.TLS == nil && o.Addr == "127.0.0.1:61920"
		}},
		{"baseline", []string{"--baseline", "--batch", "1000", "--size", "1000"}, func(o *benchOptions) bool {
			return o.Baseline && o.ServerCmd == nil && o.Batch == 1000
		}},
		{"rates", []string{"--rate", "5Mbit", "--slow", "1", "--slow-rate", "100k"}, func(o *benchOptions) bool {
			return o.Rate == 625_000 && o.SlowRate == 100_000
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, code, stderr := parseBench(t, tt.args...)
			if code != exitOK || o == nil || !tt.check(o) {
				t.Errorf("exit %d (%s), options %+v", code, stderr, o)
			}
		})
	}
}

func TestBenchUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"CA without ADDR", []string{"--tls-ca", "ca.pem"}, "--tls-ca and --tls-insecure go with ADDR"},
		{"slow without rate", []string{"--slow", "1"}, "--slow needs --slow-rate"},
		{"bad rate", []string{"--rate", "fast"}, `--rate: "fast" is not a rate`},
		{"the suite is not here", []string{"--suite"}, "unknown flag: --suite"},
		{"two addresses", []string{"a", "b"}, "accepts at most 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, code, _ := parseBench(t, tt.args...)
			if code != exitUsage || o != nil {
				t.Errorf("exit %d, options %+v; want a usage error", code, o)
			}
		})
	}
	// Through the root, the message is printed.
	code, _, stderr := runIn(t.Context(), []string{"bench", "--tls-insecure"}, nil, nil)
	if code != exitUsage || !strings.Contains(stderr, "--tls-ca and --tls-insecure go with ADDR") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestBenchTLS drives a real server, in-process, over TLS: every byte is
// verified through the encryption, and a certificate the bench cannot
// verify is explained.
func TestBenchTLS(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.Mkdir(users, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(users, "fier.ini"), []byte("[DEFAULT]\npassword=secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := certstest.New(t, "127.0.0.1")
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	cert.WriteFiles(t, certFile, keyFile)
	if err := os.WriteFile(caFile, cert.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, log, stop := startServe(t, "--users", users, "--tls-cert", certFile, "--tls-key", keyFile)

	load := []string{"--user", "fier", "--user-password", "secret", "--watchers", "2", "--size", "4096", "--rate", "2M",
		"--duration", "300ms", "--handshakes", "10"}
	code, stdout, stderr := runIn(t.Context(), append([]string{"bench", addr, "--tls-ca", caFile}, load...), nil, nil)
	if code != exitOK {
		t.Fatalf("exit %d: %s\nserver log:\n%s", code, stderr, log)
	}
	for _, want := range []string{"mode         relay over TLS, server at tls://" + addr, "gaps         0   (0 records lost)",
		"corrupt      0", "evicted      0 of 2 regular", "10 in ", "(10 at a time, 0 failed)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("result lacks %q:\n%s", want, stdout)
		}
	}

	code, _, stderr = runIn(t.Context(), append([]string{"bench", "tls://" + addr}, load...), nil, nil)
	if code != exitError || !strings.Contains(stderr, "--tls-ca FILE") {
		t.Errorf("unknown authority: exit %d, stderr %q; want 1 and a hint", code, stderr)
	}
	if code := stop(); code != exitOK {
		t.Errorf("serve exit %d", code)
	}
}
