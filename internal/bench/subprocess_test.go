//go:build unix

// The subprocess tests stop their children with SIGTERM and look for
// them with kill(pid, 0): Unix only (GOOS=windows go vet must pass).

package bench

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startFake starts the fake server as a subprocess with extra flags.
func startFake(t *testing.T, extra ...string) *subprocess {
	t.Helper()
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(fakeServerCmd(t), append([]string{"--listen", addr, "--users", t.TempDir()}, extra...)...)
	p, err := startSubprocess(t.Context(), "server", addr, argv)
	if err != nil {
		t.Fatalf("startSubprocess: %v", err)
	}
	return p
}

// gone reports whether no process pid exists any more (it was reaped).
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// TestSubprocess starts a server, reads its usage, and stops it: it
// listens once started, and is reaped once stopped.
func TestSubprocess(t *testing.T) {
	p := startFake(t)
	c, err := net.DialTimeout("tcp", p.addr, ioTimeout)
	if err != nil {
		t.Fatalf("started, but not listening: %v", err)
	}
	_ = c.Close()
	u, err := p.usage()
	if err != nil {
		t.Fatalf("usage: %v", err)
	}
	if u.pid() != p.pid() {
		t.Errorf("usage of pid %d, want %d", u.pid(), p.pid())
	}
	if cpu, err := u.cpu(); err != nil || cpu < 0 {
		t.Errorf("cpu = %v, %v", cpu, err)
	}
	if m, err := u.mem(); err != nil || m.rss <= 0 || m.hwm < m.rss {
		t.Errorf("mem = %+v, %v; want a resident size and a high-water mark above it", m, err)
	}
	if err := p.stop(t.Context()); err != nil {
		t.Errorf("stop: %v", err)
	}
	if !gone(p.pid()) {
		t.Errorf("pid %d still exists after stop", p.pid())
	}
	if err := p.stop(t.Context()); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if _, err := net.DialTimeout("tcp", p.addr, ioTimeout); err == nil {
		t.Error("still listening after stop")
	}
}

// TestSubprocessKilled stops a server that ignores SIGTERM: once the
// stop's context ends it is killed and reaped, and stop says so.
func TestSubprocessKilled(t *testing.T) {
	p := startFake(t, "--ignore-sigterm")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := p.stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "server killed: still running") {
		t.Errorf("stop: %v, want a kill", err)
	}
	if !gone(p.pid()) {
		t.Errorf("pid %d still exists after the kill", p.pid())
	}
}

// TestSubprocessExits reports a program that exits instead of listening,
// with the end of its output.
func TestSubprocessExits(t *testing.T) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(fakeServerCmd(t), "--no-such-flag")
	_, err = startSubprocess(t.Context(), "server", addr, argv)
	if !errors.Is(err, ErrServerStart) || !strings.Contains(err.Error(), "flag provided but not defined: -no-such-flag") {
		t.Errorf("startSubprocess: %v, want ErrServerStart with the output", err)
	}
}

// TestSubprocessInterrupted gives up waiting when the context ends, and
// stops what it started.
func TestSubprocessInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	// Listening elsewhere, so that the wait goes on until ctx is seen.
	argv := append(fakeServerCmd(t), "--listen", "127.0.0.1:0", "--users", t.TempDir())
	if _, err := startSubprocess(ctx, "server", addr, argv); !errors.Is(err, ErrInterrupted) {
		t.Errorf("startSubprocess: %v, want ErrInterrupted", err)
	}
}

// TestNcat starts and stops a real ncat --broker, if there is one.
func TestNcat(t *testing.T) {
	path, err := exec.LookPath(DefaultNcat)
	if err != nil {
		t.Skip("ncat not installed")
	}
	nc, err := startNcat(t.Context(), path, 4)
	if err != nil {
		t.Fatalf("startNcat: %v", err)
	}
	res, err := run(t, Options{Raw: true, Addr: nc.addr, ServerPID: nc.pid(), Watchers: 2, Size: 1000, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Server == nil || res.Server.PID != nc.pid() || res.Egress.Bytes == 0 || res.Gaps+res.Corrupt != 0 {
		t.Errorf("through ncat: server %+v, egress %d, gaps %d, corrupt %d", res.Server, res.Egress.Bytes, res.Gaps, res.Corrupt)
	}
	if err := nc.stop(t.Context()); err != nil {
		t.Errorf("stop: %v", err)
	}
	if !gone(nc.pid()) {
		t.Errorf("ncat pid %d still exists after stop", nc.pid())
	}
}
