package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
)

// childLimits lift the limits that protect a public server: the bench's
// load comes from one address, in numbers its defaults would refuse.
var childLimits = []string{"--max-conns=0", "--max-conns-per-ip=0",
	"--max-channels=0", "--max-watchers-per-channel=0", "--log-level=warn"}

// child is a server started by the bench: the subprocess, its temporary
// folder (users, certificate) and what the clients need to reach it.
type child struct {
	proc *subprocess
	dir  string
	pass string
	// tls is the clients' configuration with TLS (trusting only the
	// child's certificate), or nil.
	tls *tls.Config
}

// startChild starts the server on a free loopback port with a throwaway
// user and, if o.TLS is set, a throwaway certificate, and waits until it
// accepts connections. ctx bounds only the wait (see startSubprocess).
func startChild(ctx context.Context, o Options) (c *child, err error) {
	dir, err := os.MkdirTemp("", "fstream-bench-")
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir) // best effort: a temp dir
		}
	}()
	c = &child{dir: dir}
	users := filepath.Join(dir, "users")
	if err := os.Mkdir(users, 0o700); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:]) // crypto/rand.Read never fails
	c.pass = hex.EncodeToString(secret[:])
	ini := "[DEFAULT]\npassword=" + c.pass + "\n"
	if err := os.WriteFile(filepath.Join(users, DefaultUser+".ini"), []byte(ini), 0o600); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	argv := append(slices.Clone(o.ServerCmd), "--listen", addr, "--users", users)
	argv = append(argv, childLimits...)
	if o.TLS != nil {
		cert, err := writeSelfSigned(dir)
		if err != nil {
			return nil, fmt.Errorf("start server: %w", err)
		}
		argv = append(argv, "--tls-cert", cert.certFile, "--tls-key", cert.keyFile)
		c.tls = o.TLS.Clone()
		c.tls.RootCAs = cert.pool
	}
	argv = append(argv, o.ServerArgs...)
	if c.proc, err = startSubprocess(ctx, "server", addr, argv); err != nil {
		return nil, err
	}
	return c, nil
}

// stop stops the server (see subprocess.stop) and removes its folder.
func (c *child) stop(ctx context.Context) error {
	err := c.proc.stop(ctx)
	_ = os.RemoveAll(c.dir) // best effort: a temp dir
	return err
}

// freeLoopbackAddr returns a loopback address whose port was free a moment
// ago. Another process could take it before the server does; the server
// would then fail to listen and say so in its output.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}
