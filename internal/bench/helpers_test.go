package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/bench/benchtest"
)

func TestMain(m *testing.M) {
	benchtest.MaybeServe()
	goleak.VerifyTestMain(m)
}

// startBroker runs a raw broker on 127.0.0.1: the first connection is the
// source, every later one a watcher. It stops when the test ends.
func startBroker(t *testing.T, f *benchtest.Fanout) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if first {
				first = false
				wg.Add(1)
				go func() {
					defer wg.Done()
					f.Pump(c)
				}()
			} else {
				f.Add(c)
			}
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// fakeServerCmd returns the command that starts the test binary as a fake
// server.
func fakeServerCmd(t *testing.T) []string {
	t.Helper()
	return benchtest.Command(t, false)
}

// run runs the bench with a deadline, so that a hang fails the test.
func run(t *testing.T, opts Options) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := Run(ctx, opts)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run hung: %v", err)
	}
	if res != nil {
		var b strings.Builder
		if err := res.WriteTable(&b); err != nil {
			t.Errorf("WriteTable: %v", err)
		}
		t.Logf("result:\n%s", b.String())
		if err := res.WriteJSON(io.Discard); err != nil {
			t.Errorf("WriteJSON: %v", err)
		}
	}
	return res, err
}

// checkClean fails the test unless res shows a correct relay: records
// arrived, none missing or corrupt, nobody evicted, a latency for each
// record (all watchers are regular).
func checkClean(t *testing.T, res *Result) {
	t.Helper()
	if res.Records == 0 || res.Egress.Bytes == 0 || res.Ingest.Bytes == 0 {
		t.Errorf("records %d, egress %d B, ingest %d B: want some", res.Records, res.Egress.Bytes, res.Ingest.Bytes)
	}
	if res.Gaps != 0 || res.Lost != 0 || res.Corrupt != 0 || res.Resyncs != 0 {
		t.Errorf("gaps %d lost %d corrupt %d resyncs %d, want 0", res.Gaps, res.Lost, res.Corrupt, res.Resyncs)
	}
	if n := res.Evicted.Total(); n != 0 {
		t.Errorf("%d watchers evicted, want 0", n)
	}
	if res.Latency.Count != res.Records || res.Latency.MaxUS <= 0 {
		t.Errorf("latency: %d samples for %d records, max %v µs", res.Latency.Count, res.Records, res.Latency.MaxUS)
	}
}
