// Package natstest runs what tests of a cluster need around its nodes: an
// in-process NATS server with JetStream on 127.0.0.1 (NATS), and a TCP
// proxy (Proxy) that a test puts between two parties to cut or silently
// partition them without root rights. Both stop when the test ends.
package natstest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds a NATS server's start.
const readyTimeout = 10 * time.Second

// NATS is an in-process NATS server with JetStream.
type NATS struct {
	t    testing.TB
	dir  string
	port int

	mu  sync.Mutex
	srv *natsserver.Server
}

// Start starts a NATS server with JetStream on a free port of 127.0.0.1,
// storing in a temporary directory; it stops when the test ends.
func Start(t testing.TB) *NATS {
	t.Helper()
	ns := &NATS{t: t, dir: t.TempDir(), port: -1}
	ns.Start()
	t.Cleanup(ns.Stop)
	return ns
}

// Start starts the server again after Stop, on the same port with the
// same store.
func (ns *NATS) Start() {
	ns.t.Helper()
	opts := &natsserver.Options{
		ServerName: "fstream-test",
		Host:       "127.0.0.1",
		Port:       ns.port,
		JetStream:  true,
		StoreDir:   ns.dir,
		NoLog:      true,
		NoSigs:     true,
	}
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		ns.t.Fatalf("natstest: nats server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		ns.t.Fatal("natstest: nats server not ready")
	}
	ns.mu.Lock()
	ns.srv = srv
	ns.port = srv.Addr().(*net.TCPAddr).Port
	ns.mu.Unlock()
}

// Stop shuts the server down and waits for it. It may be called more than
// once.
func (ns *NATS) Stop() {
	ns.mu.Lock()
	srv := ns.srv
	ns.srv = nil
	ns.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// URL is the server's client URL.
func (ns *NATS) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", ns.port) }

// Addr is the server's HOST:PORT.
func (ns *NATS) Addr() string { return fmt.Sprintf("127.0.0.1:%d", ns.port) }
