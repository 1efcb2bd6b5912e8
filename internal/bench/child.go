package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// childStopTimeout is how long the child server has to exit after SIGTERM
// before it is killed; the server itself gives up on a graceful shutdown
// after 5 s.
const childStopTimeout = 10 * time.Second

// child is a server started by the bench, with its temporary users folder
// and log file.
type child struct {
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	dir     string
	log     *os.File
	addr    string
	pass    string
	exited  chan struct{} // closed once Wait returned
	waitErr error         // Wait's result, valid once exited is closed
}

// startChild starts the server on a free loopback port with a throwaway
// user and waits until it accepts connections. ctx bounds only the wait:
// the child lives until stop, so that interrupting the bench does not kill
// the server under it before it is measured and torn down.
func startChild(ctx context.Context, o Options) (c *child, err error) {
	dir, err := os.MkdirTemp("", "fstream-bench-")
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	defer func() {
		if err != nil && c == nil {
			_ = os.RemoveAll(dir) // best effort: a temp dir
		}
	}()
	users := filepath.Join(dir, "users")
	if err := os.Mkdir(users, 0o700); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:]) // crypto/rand.Read never fails
	pass := hex.EncodeToString(secret[:])
	ini := "[DEFAULT]\npassword=" + pass + "\n"
	if err := os.WriteFile(filepath.Join(users, DefaultUser+".ini"), []byte(ini), 0o600); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}

	args := append(append(o.ServerCmd[1:len(o.ServerCmd):len(o.ServerCmd)], "--listen", addr, "--users", users), o.ServerArgs...)
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(cctx, o.ServerCmd[0], args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = childStopTimeout
	if err := cmd.Start(); err != nil {
		cancel()
		_ = logf.Close()
		return nil, fmt.Errorf("start server: %w", err)
	}
	c = &child{cmd: cmd, cancel: cancel, dir: dir, log: logf, addr: addr, pass: pass, exited: make(chan struct{})}
	go func() { // owned by c: stop waits for exited
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := c.waitListening(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// freeLoopbackAddr returns a loopback address whose port was free a moment
// ago. Another process could take it before the server does; the server
// would then fail to listen and say so in its log.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// waitListening polls until the server accepts a connection.
func (c *child) waitListening(ctx context.Context) error {
	deadline := time.Now().Add(ioTimeout)
	for {
		conn, err := net.DialTimeout("tcp", c.addr, 100*time.Millisecond)
		if err == nil {
			_ = conn.Close() // a probe; the server sees an empty handshake
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%w: %v exited (%v)%s", ErrServerStart, c.cmd.Args, c.waitErr, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", ErrInterrupted, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s not listening after %v%s", ErrServerStart, c.addr, ioTimeout, c.logTail())
		}
	}
}

// stop sends SIGTERM, waits for the exit (killing after childStopTimeout)
// and removes the temporary files. It returns the exit error, if the
// server did not stop cleanly.
func (c *child) stop() error {
	c.cancel()
	<-c.exited
	err := c.waitErr
	if ps := c.cmd.ProcessState; ps != nil {
		// Wait reports the cancellation even when the server exited 0
		// on the SIGTERM it was sent; judge by the exit status instead.
		ws, ok := ps.Sys().(syscall.WaitStatus)
		if ps.Success() || ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			err = nil
		}
	}
	if err != nil {
		err = fmt.Errorf("server exit: %w%s", err, c.logTail())
	}
	_ = c.log.Close()
	_ = os.RemoveAll(c.dir) // best effort: a temp dir
	return err
}

// logTail returns the end of the server's log, formatted to follow an
// error message, or "" if it is empty.
func (c *child) logTail() string {
	const max = 2 << 10
	f, err := os.Open(c.log.Name())
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(-max, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return "\nserver log:\n" + s
}
