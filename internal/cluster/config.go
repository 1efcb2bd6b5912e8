package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

// Defaults.
const (
	DefaultBucket    = "fstream"
	DefaultReplicas  = 1
	DefaultTTL       = 5 * time.Second
	DefaultLinger    = 10 * time.Second
	DefaultMaxPulls  = 32
	DefaultOpTimeout = 2 * time.Second
	// MinTTL is the shortest TTL: NATS per-message TTLs and limit markers
	// count whole seconds.
	MinTTL = time.Second
	// maxBucketLen leaves room for the "-tokens" suffix within NATS'
	// stream name limits.
	maxBucketLen = 64
)

var bucketRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Config configures a Node. Start from DefaultConfig.
type Config struct {
	// URLs are the NATS servers to connect to (nats://, tls://). Required.
	URLs []string
	// NodeName names this node in the directory; unique per cluster.
	// Default: the host name.
	NodeName string
	// Advertise is the HOST:PORT other nodes dial to pull channels from
	// this node (its fstream listener). Required; the host must not be a
	// wildcard. DefaultAdvertise derives it from a specific --listen.
	Advertise string
	// Creds is a NATS credentials file (JWT + nkey); empty for none.
	Creds string
	// TLSCA, TLSCert and TLSKey configure TLS to NATS: a CA to trust,
	// and a client certificate with its key (both or neither).
	TLSCA, TLSCert, TLSKey string
	// Bucket names the directory's KV bucket; tokens live in
	// Bucket+"-tokens". Subjects are prefixed with "fstream.<Bucket>", so
	// two clusters can share one NATS account with different buckets.
	Bucket string
	// Replicas is the number of JetStream replicas of each bucket (1-5).
	Replicas int
	// TTL is how long a record outlives its last heartbeat: a dead
	// node's entries vanish within TTL. Heartbeats run every TTL/3.
	TTL time.Duration
	// Linger is how long a pulling node keeps an upstream connection with
	// no local watchers. The cluster package only carries the setting;
	// the server applies it.
	Linger time.Duration
	// MaxPulls is how many nodes may pull a channel directly from one
	// node before PickUpstream sends further pullers to a relay.
	MaxPulls int
	// OpTimeout bounds every directory call, so that an unreachable NATS
	// never blocks a caller for longer.
	OpTimeout time.Duration
	// Logger receives cluster events. Nil discards.
	Logger *slog.Logger

	// The hooks run on the Node's own goroutines, possibly several at
	// once, and must not block (nor call Leave).

	// OnTakenOver is called once when another node claims a channel this
	// node holds; the server stops its broadcaster with "taken-over".
	OnTakenOver func(key Key, by Entry)
	// OnUpstreamChanged is called when a channel this node pulls gets a
	// new origin or a new broadcast on its origin (live true, e is the new
	// entry: compare its Session to tell them apart) or leaves the
	// directory (live false: released, or its origin's heartbeat expired;
	// e has only Key, Expired and the deletion's Revision, 0 when unknown,
	// so that a puller can tell a deletion older than the entry it pulls
	// under). It must not block.
	OnUpstreamChanged func(key Key, e Entry, live bool)
	// OnKick is called for every kick published by any node (Node.Kick).
	// id is empty to kick the broadcaster. It must not block.
	OnKick func(key Key, id string)
}

// DefaultConfig returns the defaults; URLs and Advertise must still be set.
func DefaultConfig() Config {
	name, _ := os.Hostname()
	return Config{
		NodeName:  name,
		Bucket:    DefaultBucket,
		Replicas:  DefaultReplicas,
		TTL:       DefaultTTL,
		Linger:    DefaultLinger,
		MaxPulls:  DefaultMaxPulls,
		OpTimeout: DefaultOpTimeout,
	}
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("no NATS URL"))
	}
	for _, u := range c.URLs {
		if err := checkURL(u); err != nil {
			errs = append(errs, err)
		}
	}
	if err := protocol.ValidateName(c.NodeName); err != nil {
		errs = append(errs, fmt.Errorf("node name %q: %w", c.NodeName, err))
	}
	if err := CheckAdvertise(c.Advertise); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("TLS certificate and key must be given together"))
	}
	if !bucketRE.MatchString(c.Bucket) || len(c.Bucket) > maxBucketLen {
		errs = append(errs, fmt.Errorf("bucket %q: want 1 to %d of A-Z a-z 0-9 _ -", c.Bucket, maxBucketLen))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: want 1 to 5", c.Replicas))
	}
	if c.TTL < MinTTL {
		errs = append(errs, fmt.Errorf("TTL %v: want at least %v", c.TTL, MinTTL))
	}
	if c.Linger < 0 {
		errs = append(errs, fmt.Errorf("linger %v must not be negative", c.Linger))
	}
	if c.MaxPulls < 1 {
		errs = append(errs, fmt.Errorf("max pulls %d must be at least 1", c.MaxPulls))
	}
	if c.OpTimeout <= 0 {
		errs = append(errs, fmt.Errorf("operation timeout %v must be positive", c.OpTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster config: %w", err)
	}
	return nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("NATS URL %q: want nats://HOST:PORT or tls://HOST:PORT", raw)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
		return nil
	}
	return fmt.Errorf("NATS URL %q: unknown scheme %q", raw, u.Scheme)
}

// CheckAdvertise reports whether addr is an address other nodes can dial:
// HOST:PORT with a specific host (not empty, 0.0.0.0 or ::) and a port
// from 1 to 65535.
func CheckAdvertise(addr string) error {
	if addr == "" {
		return ErrAdvertiseRequired
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("advertise address %q: %w", addr, err)
	}
	if IsWildcardHost(host) {
		return fmt.Errorf("advertise address %q: host must not be a wildcard", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("advertise address %q: port must be 1 to 65535", addr)
	}
	return nil
}

// IsWildcardHost reports whether host listens on every address ("", a
// zero IPv4 or IPv6 address), so that it names no address to dial.
func IsWildcardHost(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// DefaultAdvertise returns the advertise address to use when none is
// configured: listen itself when its host is specific. A wildcard listen
// address (":61920", "0.0.0.0:61920") returns ErrAdvertiseRequired.
func DefaultAdvertise(listen string) (string, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", listen, err)
	}
	if IsWildcardHost(host) {
		return "", fmt.Errorf("%w: --listen %q listens on every address; give --advertise HOST:PORT", ErrAdvertiseRequired, listen)
	}
	if err := CheckAdvertise(listen); err != nil {
		return "", err
	}
	return listen, nil
}

func (c *Config) tokenBucket() string { return c.Bucket + "-tokens" }

// subjectPrefix starts every core NATS subject of this cluster.
func (c *Config) subjectPrefix() string { return "fstream." + c.Bucket }
