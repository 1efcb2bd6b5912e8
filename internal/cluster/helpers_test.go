package cluster

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/cluster/natstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startNATS starts the test's NATS server.
func startNATS(t testing.TB) *natstest.NATS { return natstest.Start(t) }

// testTTL is short so that expiry tests end quickly; it is the smallest
// TTL NATS supports.
const testTTL = time.Second

// testConfig is a node configuration for ns with the test TTL.
func testConfig(ns *natstest.NATS, name string) Config {
	cfg := DefaultConfig()
	cfg.URLs = []string{ns.URL()}
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

// openBehindProxy opens a node named name that reaches ns through a proxy, so
// that the test can cut it off NATS alone.
func openBehindProxy(t *testing.T, ns *natstest.NATS, name string) (*Node, *natstest.Proxy) {
	t.Helper()
	proxy := natstest.StartProxy(t, ns.Addr())
	cfg := testConfig(ns, name)
	cfg.URLs = []string{proxy.URL()}
	return openNode(t, cfg), proxy
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
