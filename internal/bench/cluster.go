package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// A bench cluster is a nats-server with JetStream and n child servers
// joined to it through --cluster, each with an HTTP listener whose
// /metrics the cluster scenario reads. Every process is a subprocess of
// the suite's one kind, on loopback ports.

// clusterTTL is the nodes' --cluster-ttl: the shortest NATS allows, so
// that the failover measurement stays short.
const clusterTTL = time.Second

// benchCluster is the running cluster.
type benchCluster struct {
	nats  *subprocess
	dir   string // nats-server's store
	nodes []*clusterNode
}

// clusterNode is one fstream node.
type clusterNode struct {
	*child
	name   string
	http   string // its --http address
	killed bool   // killed on purpose: its exit is no error
}

// startCluster starts natsBin and n nodes. ctx bounds only the starts.
func startCluster(ctx context.Context, natsBin string, serverCmd, serverArgs []string, n int) (cl *benchCluster, err error) {
	dir, err := os.MkdirTemp("", "fstream-bench-nats-")
	if err != nil {
		return nil, fmt.Errorf("start nats-server: %w", err)
	}
	cl = &benchCluster{dir: dir}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), subprocessStopTimeout)
			_ = cl.stop(sctx) // the start error says what matters
			cancel()
		}
	}()
	natsAddr, err := freeLoopbackAddr()
	if err != nil {
		return cl, fmt.Errorf("start nats-server: %w", err)
	}
	port := natsAddr[len("127.0.0.1:"):]
	if cl.nats, err = startSubprocess(ctx, "nats-server", natsAddr,
		[]string{natsBin, "-a", "127.0.0.1", "-p", port, "-js", "-sd", dir}); err != nil {
		return cl, err
	}
	for i := range n {
		httpAddr, err := freeLoopbackAddr()
		if err != nil {
			return cl, fmt.Errorf("start node: %w", err)
		}
		name := "n" + strconv.Itoa(i)
		args := append(slices.Clone(serverArgs), "--cluster", "nats://"+natsAddr, "--node-name", name,
			"--http", httpAddr, "--cluster-ttl", clusterTTL.String(), "--cluster-linger", "0s")
		c, err := startChild(ctx, Options{ServerCmd: serverCmd, ServerArgs: args})
		if err != nil {
			return cl, fmt.Errorf("start node %s: %w", name, err)
		}
		cl.nodes = append(cl.nodes, &clusterNode{child: c, name: name, http: httpAddr})
	}
	return cl, nil
}

// stop stops the nodes, then nats-server, and removes the store.
func (cl *benchCluster) stop(ctx context.Context) error {
	var errs []error
	for _, n := range cl.nodes {
		if err := n.stop(ctx); err != nil && !n.killed {
			errs = append(errs, fmt.Errorf("node %s: %w", n.name, err))
		}
	}
	if cl.nats != nil {
		errs = append(errs, cl.nats.stop(ctx))
	}
	_ = os.RemoveAll(cl.dir) // best effort: a temp dir
	return errors.Join(errs...)
}

// kill kills node n at once (SIGKILL), as a crash would.
func (cl *benchCluster) kill(n *clusterNode) error {
	n.killed = true
	return n.proc.cmd.Process.Kill()
}

// against returns opts driving the cluster: broadcasters on node 0, as the
// server measured; watchers on the nodes given (none: node 0).
func (cl *benchCluster) against(opts Options, watchOn ...int) Options {
	o := cl.nodes[0]
	opts.Addr, opts.ServerPID, opts.User, opts.Password = o.proc.addr, o.proc.pid(), DefaultUser, o.pass
	for _, i := range watchOn {
		opts.WatchAddrs = append(opts.WatchAddrs, cl.nodes[i].proc.addr)
	}
	return opts
}

// metricsTimeout bounds one read of a node's /metrics.
const metricsTimeout = 2 * time.Second

// metric returns the sum of the samples of the counter or gauge name on
// node n whose labels include those given.
func (n *clusterNode) metric(ctx context.Context, name string, labels ...string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, metricsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.http+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Close = true // no idle connection outlives the read
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("node %s metrics: %w", n.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, fmt.Errorf("node %s metrics: %w", n.name, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("node %s metrics: %w", n.name, err)
	}
	fam, ok := fams[name]
	if !ok {
		return 0, fmt.Errorf("node %s metrics: no %s", n.name, name)
	}
	sum := 0.0
	for _, m := range fam.GetMetric() {
		if hasLabels(m, labels) {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum, nil
}

// hasLabels reports whether m has every name=value pair of kv.
func hasLabels(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			found = found || l.GetName() == kv[i] && l.GetValue() == kv[i+1]
		}
		if !found {
			return false
		}
	}
	return true
}
