package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

const (
	// statusWriteTimeout bounds writing a status frame to a client.
	statusWriteTimeout = 5 * time.Second
	// maxBatch bounds one writev to a watcher, so the slowest watcher's
	// progress (and the ring space it frees) is reported often.
	maxBatch = 256 << 10
	// maxRejecting bounds connections over MaxConns that are still being
	// read so that they can be told "busy"; beyond it they are closed at once.
	maxRejecting = 256
	// maxAcceptBackoff caps the sleep after a temporary accept error.
	maxAcceptBackoff = time.Second
)

// aLongTimeAgo is a deadline in the past: set on a connection, it makes a
// blocked read or write return at once (net/http does the same).
var aLongTimeAgo = time.Unix(1, 0)

// Server relays broadcasters' streams to watchers.
type Server struct {
	cfg Config
	log *slog.Logger
	hub *hub.Hub

	nextID       atomic.Uint64
	open         atomic.Int64 // connections counted against MaxConns
	rejecting    atomic.Int64
	broadcasters atomic.Int64
	watchers     atomic.Int64
	handshakes   map[string]*atomic.Int64 // fixed keys; read-only map
	authFails    *failures
	authErrLog   *logLimiter            // server-side login failures
	refusedLog   *logLimiter            // connections refused at accept
	cluster      *clusterSide           // set by JoinCluster before Serve; nil when standalone
	httpAddr     atomic.Pointer[string] // the HTTP side's address, if any (httpmix.go)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[string]int // open connections by remote IP
	closing   bool
	done      chan struct{} // closed when shutting down
	wg        sync.WaitGroup
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:        cfg,
		log:        log,
		listeners:  make(map[net.Listener]struct{}),
		conns:      make(map[*conn]struct{}),
		perIP:      make(map[string]int),
		authFails:  newFailures(cfg.AuthFailuresPerMinute),
		authErrLog: newLogLimiter(10*time.Second, 3),
		refusedLog: newLogLimiter(10*time.Second, 3),
		done:       make(chan struct{}),
		handshakes: make(map[string]*atomic.Int64),
	}
	for _, k := range handshakeResults() {
		s.handshakes[k] = new(atomic.Int64)
	}
	s.hub = hub.New(hub.Config{
		Buffer:       cfg.ChannelBuffer,
		Grace:        cfg.BroadcasterGrace,
		StallTimeout: cfg.StallTimeout,
		MaxLag:       cfg.MaxLag,
		MaxChannels:  cfg.MaxChannels,
		MaxWatchers:  cfg.MaxWatchersPerChannel,
		OnEvent: func(k hub.Key, msg string, attrs ...any) {
			log.Info(msg, append([]any{"user", k.User, "channel", k.Channel}, attrs...)...)
		},
		GOPCache:    cfg.gopCache(),
		DefaultJoin: cfg.DefaultJoin,
		SlowPolicy:  cfg.SlowPolicy,
		JoinTimeout: cfg.JoinTimeout,
		IdleTick:    watcherIdleCheck,
		Coalesce:    cfg.Coalesce,
		Writers:     max(cfg.Writers, 0),
	})
	return s, nil
}

// Hub returns the server's hub, for status reporting.
func (s *Server) Hub() *hub.Hub { return s.hub }

// Serve accepts connections on ln until Shutdown or Close, then returns
// ErrServerClosed. Temporary accept errors (such as running out of file
// descriptors) are logged and retried with backoff.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return ErrServerClosed
			default:
			}
			if !isTemporary(err) {
				return fmt.Errorf("accept: %w", err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), maxAcceptBackoff)
			s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		s.accept(nc)
	}
}

func isTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.ENOMEM)
}

// accept starts the goroutine that owns nc, or closes nc at once when the
// server is over its limits. A connection over a limit is still read, so
// that a client asking for acks is told "busy", unless too many such
// connections are already being read.
func (s *Server) accept(nc net.Conn) {
	remote := nc.RemoteAddr().String()
	c := &conn{srv: s, nc: nc, raw: nc, id: s.nextID.Add(1), remote: remote, ip: hostOf(remote)}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return
	}
	c.busy = s.takeSlotLocked(c.ip, false)
	if c.busy != "" && s.rejecting.Add(1) > maxRejecting {
		s.rejecting.Add(-1)
		s.mu.Unlock()
		s.refusedLog.log(s.log, slog.LevelWarn, "connection refused", "remote", remote, "reason", c.busy)
		s.countHandshake(string(protocol.ReasonBusy))
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go c.serve()
}

// hostOf returns the IP of a host:port address.
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// forget removes c from the server and returns its slots in the limits.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.busy != "" {
		s.rejecting.Add(-1)
	} else {
		s.releaseSlotLocked(c.ip, false)
	}
	s.mu.Unlock()
}

// Shutdown stops accepting, stops every broadcaster, lets watchers receive
// what is already buffered, and waits for all connections to end. When ctx
// expires first, the remaining connections are closed and ctx's error is
// returned. Shutdown is idempotent; Serve returns ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	defer s.endCluster(true)
	wait := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(wait)
	}()
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		s.closeConns()
		<-wait
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once and waits for
// their goroutines.
func (s *Server) Close() error {
	s.beginClose()
	s.closeConns()
	s.wg.Wait()
	s.endCluster(false)
	return nil
}

// endCluster leaves the cluster, or only disconnects from it when leave is
// false (as a crashed node would: its records expire).
func (s *Server) endCluster(leave bool) {
	if s.cluster != nil {
		s.cluster.shutdown(leave)
	}
}

func (s *Server) beginClose() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	close(s.done)
	for ln := range s.listeners {
		ln.Close()
	}
	// Connections still handshaking are cut short; established ones end
	// through the hub.
	for c := range s.conns {
		if c.state.Load() == stateHandshake {
			c.raw.SetDeadline(aLongTimeAgo)
		}
	}
	s.mu.Unlock()
	s.hub.Close()
}

func (s *Server) closeConns() {
	s.mu.Lock()
	for c := range s.conns {
		c.raw.Close()
	}
	s.mu.Unlock()
}

// shuttingDown reports whether Shutdown or Close was called.
func (s *Server) shuttingDown() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// isClosedConn reports whether err is an expected end of a connection
// rather than a failure worth logging as one.
func isClosedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Handshake results counted besides the refusal reason codes.
const (
	HandshakeOK         = "ok"
	HandshakeIncomplete = "incomplete" // closed, timed out or malformed before a request was read
)

func handshakeResults() []string {
	out := []string{HandshakeOK, HandshakeIncomplete}
	for _, r := range protocol.Reasons {
		out = append(out, string(r))
	}
	return out
}

func (s *Server) countHandshake(result string) {
	if n := s.handshakes[result]; n != nil {
		n.Add(1)
	}
}

// Counters is a snapshot of the server's counters and gauges.
type Counters struct {
	Connections  int64 // open, any role
	Broadcasters int64
	Watchers     int64
	// Handshakes counts handshakes by result: "ok", "incomplete", or a
	// refusal reason code.
	Handshakes map[string]int64
	Hub        hub.Counters
}

// Counters returns the server's counters.
func (s *Server) Counters() Counters {
	c := Counters{
		Connections:  s.open.Load() + s.rejecting.Load(),
		Broadcasters: s.broadcasters.Load(),
		Watchers:     s.watchers.Load(),
		Handshakes:   make(map[string]int64, len(s.handshakes)),
		Hub:          s.hub.Counters(),
	}
	for k, n := range s.handshakes {
		c.Handshakes[k] = n.Load()
	}
	return c
}
