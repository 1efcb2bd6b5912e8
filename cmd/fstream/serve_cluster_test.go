package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/cluster"
)

func TestClusterFlags(t *testing.T) {
	r := parse(t, []string{"serve"}, nil)
	if r.serve == nil || r.serve.Cluster.URLs != "" {
		t.Fatalf("default: exit %d, %q, %+v", r.code, r.stderr, r.serve)
	}

	r = parse(t, []string{"serve", "--listen", "127.0.0.1:61920", "--cluster", "nats://h1:4222, nats://h2:4222",
		"--node-name", "edge-1", "--cluster-creds", "n.creds", "--cluster-tls-ca", "ca.pem",
		"--cluster-tls-cert", "c.pem", "--cluster-tls-key", "k.pem", "--cluster-ttl", "3s",
		"--cluster-linger", "1m", "--cluster-max-pulls", "4", "--cluster-bucket", "live", "--cluster-replicas", "3",
		"--cluster-pull-tls", "--cluster-pull-tls-ca", "nodes.pem"},
		map[string]string{"FSTREAM_ADVERTISE": "edge-1.example.org:61920"})
	if r.serve == nil {
		t.Fatalf("exit %d, %q", r.code, r.stderr)
	}
	got := r.serve.Cluster.config("ignored:1")
	want := cluster.DefaultConfig()
	want.URLs = []string{"nats://h1:4222", "nats://h2:4222"}
	want.NodeName, want.Advertise = "edge-1", "edge-1.example.org:61920"
	want.Creds, want.TLSCA, want.TLSCert, want.TLSKey = "n.creds", "ca.pem", "c.pem", "k.pem"
	want.TTL, want.Linger, want.MaxPulls = 3*time.Second, time.Minute, 4
	want.Bucket, want.Replicas = "live", 3
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config = %+v\nwant     %+v", got, want)
	}
	if tc, err := r.serve.Cluster.pullTLS(); err == nil || tc != nil {
		t.Errorf("pull TLS with a missing CA file: %v, %v", tc, err)
	}

	// No --advertise: the listen address, once known.
	r = parse(t, []string{"serve", "--listen", "127.0.0.1:0", "--cluster", "nats://127.0.0.1:4222"}, nil)
	if r.serve == nil {
		t.Fatalf("exit %d, %q", r.code, r.stderr)
	}
	if c := r.serve.Cluster.config("127.0.0.1:40000"); c.Advertise != "127.0.0.1:40000" || c.NodeName == "" {
		t.Errorf("advertise %q, node name %q", c.Advertise, c.NodeName)
	}
}

func TestClusterCheck(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the message
	}{
		{"wildcard listen", []string{"--cluster", "nats://h:4222"}, nil,
			`--cluster needs --advertise HOST:PORT: --listen ":61920" listens on every address`},
		{"wildcard from env", []string{"--listen", "0.0.0.0:61920"}, map[string]string{"FSTREAM_CLUSTER": "nats://h:4222"},
			`--cluster (from $FSTREAM_CLUSTER) needs --advertise HOST:PORT`},
		{"wildcard advertise", []string{"--cluster", "nats://h:4222", "--advertise", "0.0.0.0:61920"}, nil,
			"host must not be a wildcard"},
		{"bad scheme", []string{"--cluster", "http://h:4222", "--advertise", "a:1"}, nil, `unknown scheme "http"`},
		{"short ttl", []string{"--cluster", "nats://h:4222", "--advertise", "a:1", "--cluster-ttl", "500ms"}, nil, "TTL 500ms"},
		{"replicas", []string{"--cluster", "nats://h:4222", "--advertise", "a:1", "--cluster-replicas", "7"}, nil, "replicas 7"},
		{"max pulls", []string{"--cluster", "nats://h:4222", "--advertise", "a:1", "--cluster-max-pulls", "0"}, nil, "max pulls 0"},
		{"cert without key", []string{"--cluster", "nats://h:4222", "--advertise", "a:1", "--cluster-tls-cert", "c.pem"}, nil,
			"TLS certificate and key must be given together"},
		{"pull CA without pull TLS", []string{"--cluster", "nats://h:4222", "--advertise", "a:1", "--cluster-pull-tls-ca", "ca.pem"}, nil,
			"--cluster-pull-tls-ca is only used with --cluster-pull-tls"},
		{"bad node name", []string{"--cluster", "nats://h:4222", "--advertise", "a:1", "--node-name", "a/b"}, nil, `node name "a/b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, append([]string{"serve"}, tt.args...), tt.env)
			if r.code != exitUsage || r.serve != nil || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr\n%q\nwant %d and a message with\n%q", r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
	// Without --cluster the cluster settings are not looked at.
	if r := parse(t, []string{"serve", "--cluster-ttl", "1ms"}, nil); r.serve == nil {
		t.Errorf("exit %d, %q", r.code, r.stderr)
	}
}
