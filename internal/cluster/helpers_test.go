package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTTL is short so that expiry tests end quickly; it is the smallest
// TTL NATS supports.
const testTTL = time.Second

// natsServer is an in-process NATS server with JetStream on 127.0.0.1.
type natsServer struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

// startNATS starts a NATS server with JetStream on a random port of
// 127.0.0.1, storing in a new temporary directory. It stops at the end of
// the test.
func startNATS(t testing.TB) *natsServer {
	t.Helper()
	ns := &natsServer{t: t, dir: t.TempDir(), port: -1}
	ns.start()
	t.Cleanup(ns.stop)
	return ns
}

// start starts the server on ns.port (random the first time) with ns.dir.
func (ns *natsServer) start() {
	ns.t.Helper()
	opts := &server.Options{
		ServerName: "test",
		Host:       "127.0.0.1",
		Port:       ns.port,
		JetStream:  true,
		StoreDir:   ns.dir,
		NoLog:      true,
		NoSigs:     true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		ns.t.Fatalf("nats server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		ns.t.Fatal("nats server not ready")
	}
	ns.srv = srv
	ns.port = srv.Addr().(*net.TCPAddr).Port
}

// stop shuts the server down and waits for it.
func (ns *natsServer) stop() {
	if ns.srv == nil {
		return
	}
	ns.srv.Shutdown()
	ns.srv.WaitForShutdown()
	ns.srv = nil
}

func (ns *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", ns.port) }

// testConfig is a node configuration for ns with the test TTL.
func testConfig(ns *natsServer, name string) Config {
	cfg := DefaultConfig()
	cfg.URLs = []string{ns.url()}
	cfg.NodeName = name
	cfg.Advertise = "127.0.0.1:1" // never dialled by these tests
	cfg.TTL = testTTL
	cfg.OpTimeout = time.Second
	cfg.Logger = testLogger()
	return cfg
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// openNode opens a node and closes it at the end of the test.
func openNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.NodeName, err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// events records hook calls for assertions.
type events struct {
	mu        sync.Mutex
	takenOver []Entry
	upstream  []upstreamEvent
	kicks     []string
}

type upstreamEvent struct {
	key  Key
	e    Entry
	live bool
}

func (ev *events) hook(cfg *Config) {
	cfg.OnTakenOver = func(_ Key, by Entry) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		ev.takenOver = append(ev.takenOver, by)
	}
	cfg.OnUpstreamChanged = func(k Key, e Entry, live bool) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		ev.upstream = append(ev.upstream, upstreamEvent{k, e, live})
	}
	cfg.OnKick = func(k Key, id string) {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		ev.kicks = append(ev.kicks, k.String()+"#"+id)
	}
}

func (ev *events) snapshot() events {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return events{
		takenOver: append([]Entry(nil), ev.takenOver...),
		upstream:  append([]upstreamEvent(nil), ev.upstream...),
		kicks:     append([]string(nil), ev.kicks...),
	}
}
