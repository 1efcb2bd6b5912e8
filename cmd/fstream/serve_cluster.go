package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fstream/fstream/internal/cluster"
	"github.com/fstream/fstream/internal/server"
)

// clusterOptions are the serve flags of a cluster node (docs/CLUSTER.md).
// Without --cluster the server runs alone and the others are ignored.
type clusterOptions struct {
	// URLs are the NATS servers, comma-separated; "" runs alone.
	URLs string
	// NodeName names the node ("" means the host name); Advertise is the
	// HOST:PORT other nodes dial ("" means --listen, which must then name
	// a specific address).
	NodeName, Advertise string
	// Creds, TLSCA, TLSCert and TLSKey authenticate to NATS.
	Creds, TLSCA, TLSCert, TLSKey string
	TTL, Linger                   time.Duration
	MaxPulls                      int
	Bucket                        string
	Replicas                      int
	// PullTLS dials other nodes with TLS, trusting PullTLSCA (a PEM
	// file) or else the system's roots.
	PullTLS   bool
	PullTLSCA string
}

func addClusterFlags(fl *pflag.FlagSet, o *clusterOptions) {
	d := cluster.DefaultConfig()
	fl.StringVar(&o.URLs, "cluster", "", "join a cluster through these NATS `URLS` (comma-separated nats:// or tls://; empty: run alone)")
	fl.StringVar(&o.NodeName, "node-name", "", "this node's `NAME` in the cluster (empty: the host name)")
	fl.StringVar(&o.Advertise, "advertise", "", "`ADDR` (HOST:PORT) other nodes dial to pull channels from this one (empty: --listen, which must then name an address)")
	fl.StringVar(&o.Creds, "cluster-creds", "", "NATS credentials `FILE` (JWT and nkey)")
	fl.StringVar(&o.TLSCA, "cluster-tls-ca", "", "PEM `FILE` of the CA that signed the NATS servers' certificates")
	fl.StringVar(&o.TLSCert, "cluster-tls-cert", "", "PEM `FILE` of a client certificate for NATS (with --cluster-tls-key)")
	fl.StringVar(&o.TLSKey, "cluster-tls-key", "", "PEM `FILE` of the key of --cluster-tls-cert")
	fl.DurationVar(&o.TTL, "cluster-ttl", d.TTL, "how long a node's directory records outlive it (rewritten every third of it)")
	fl.DurationVar(&o.Linger, "cluster-linger", d.Linger, "how long a pulled channel stays connected after its last watcher here left")
	fl.IntVar(&o.MaxPulls, "cluster-max-pulls", d.MaxPulls, "most nodes that pull a channel straight from one node; further ones pull from a relay")
	fl.StringVar(&o.Bucket, "cluster-bucket", d.Bucket, "`NAME` of the NATS key-value bucket of the directory (tokens live in NAME-tokens)")
	fl.IntVar(&o.Replicas, "cluster-replicas", d.Replicas, "JetStream replicas of the directory buckets (1 to 5)")
	fl.BoolVar(&o.PullTLS, "cluster-pull-tls", false, "pull from other nodes over TLS (they must serve it: --tls-cert)")
	fl.StringVar(&o.PullTLSCA, "cluster-pull-tls-ca", "", "PEM `FILE` of the CA of the other nodes' certificates (empty: the system's roots)")
}

// check reports cluster settings that cannot work, naming where each came
// from. It runs before anything listens.
func (o *clusterOptions) check(set settings, listen string) []error {
	if o.URLs == "" {
		return nil
	}
	var errs []error
	if o.Advertise == "" {
		host, _, err := net.SplitHostPort(listen)
		if err == nil && cluster.IsWildcardHost(host) {
			errs = append(errs, fmt.Errorf("%s needs %s HOST:PORT: %s %q listens on every address and names none that other nodes can dial",
				set.flag("cluster"), set.flag("advertise"), set.flag("listen"), listen))
		}
	}
	if o.PullTLSCA != "" && !o.PullTLS {
		errs = append(errs, fmt.Errorf("%s is only used with %s", set.flag("cluster-pull-tls-ca"), set.flag("cluster-pull-tls")))
	}
	cfg := o.config("127.0.0.1:1") // the address is checked on its own above
	if o.Advertise != "" {
		cfg.Advertise = o.Advertise
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// config returns the directory node's configuration; advertise is used
// when --advertise is not set.
func (o *clusterOptions) config(advertise string) cluster.Config {
	c := cluster.DefaultConfig()
	for u := range strings.SplitSeq(o.URLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.URLs = append(c.URLs, u)
		}
	}
	if o.NodeName != "" {
		c.NodeName = o.NodeName
	}
	c.Advertise = o.Advertise
	if c.Advertise == "" {
		c.Advertise = advertise
	}
	c.Creds, c.TLSCA, c.TLSCert, c.TLSKey = o.Creds, o.TLSCA, o.TLSCert, o.TLSKey
	c.TTL, c.Linger, c.MaxPulls = o.TTL, o.Linger, o.MaxPulls
	c.Bucket, c.Replicas = o.Bucket, o.Replicas
	return c
}

// pullTLS returns the TLS configuration for dialling other nodes, nil for
// plain connections.
func (o *clusterOptions) pullTLS() (*tls.Config, error) {
	if !o.PullTLS {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.PullTLSCA != "" {
		pem, err := os.ReadFile(o.PullTLSCA)
		if err != nil {
			return nil, fmt.Errorf("--cluster-pull-tls-ca: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cluster-pull-tls-ca %s: no PEM certificate in it", o.PullTLSCA)
		}
	}
	return conf, nil
}

// joinCluster joins srv to the cluster when --cluster is set. ln is the
// relay listener: without --advertise its address is what other nodes
// dial.
func joinCluster(ctx context.Context, opts *serveOptions, srv *server.Server, ln net.Listener) error {
	o := &opts.Cluster
	if o.URLs == "" {
		return nil
	}
	tlsConf, err := o.pullTLS()
	if err != nil {
		return err
	}
	cc := server.ClusterConfig{Cluster: o.config(ln.Addr().String()), PullTLS: tlsConf, TokenTTL: opts.TokenTTL}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := srv.JoinCluster(ctx, cc); err != nil {
		if errors.Is(err, cluster.ErrNodeNameInUse) {
			return asUsage(fmt.Errorf("%w: give this node another --node-name", err))
		}
		return fmt.Errorf("join the cluster: %w", err)
	}
	return nil
}
