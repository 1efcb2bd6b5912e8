package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

const (
	// DefaultPort is the port used when an address names none.
	DefaultPort = 61920
	// DefaultDialTimeout bounds connecting when Options.DialTimeout is zero.
	DefaultDialTimeout = 10 * time.Second
	// DefaultHandshakeTimeout bounds sending the handshake and reading the
	// status frame when Options.HandshakeTimeout is zero.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultCloseTimeout bounds a broadcaster's wait for the server to
	// close its side when Options.CloseTimeout is zero.
	DefaultCloseTimeout = 10 * time.Second

	// SchemeTLS starts an address that asks for TLS: tls://host:port.
	SchemeTLS = "tls://"

	// bufferSize is the copy buffer in each direction. Reads return as soon
	// as any bytes are available, so a large buffer adds no latency; it only
	// lets a burst of a high-bitrate stream move in few system calls.
	bufferSize = 256 << 10
	// maxExpiresIn bounds a token lifetime a server may announce, far
	// beyond any real one, so that the conversion cannot overflow.
	maxExpiresIn = 365 * 24 * time.Hour
	// maxStatus bounds the status frame; a real one is a few dozen bytes.
	maxStatus = protocol.DefaultMaxText
)

// Options says where to connect and what to ask for.
type Options struct {
	// Addr is host, host:port, [ipv6] or [ipv6]:port, optionally after
	// tls:// to connect with TLS; NormalizeAddr adds DefaultPort when there
	// is none. Broadcast and Watch also take a list separated by commas,
	// "h1:61920,h2:61920": they connect to the first that answers, and
	// with Reconnect fail over to the others.
	Addr string
	// TLS, when set, makes the connection use TLS with this configuration
	// (an empty ServerName is taken from Addr). When nil, the connection is
	// plain, unless Addr starts with tls://, which uses the system's roots.
	TLS *tls.Config
	// Request is the handshake. Broadcast and Watch fill in an empty
	// Command and always set Ack.
	Request protocol.Request
	// DialTimeout bounds connecting. Zero means DefaultDialTimeout.
	DialTimeout time.Duration
	// HandshakeTimeout bounds sending the handshake and reading the
	// server's answer. Zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// CloseTimeout bounds how long Broadcast waits, after its input ended,
	// for the server to confirm it read everything by closing the
	// connection. Zero means DefaultCloseTimeout.
	CloseTimeout time.Duration

	// Reconnect, when positive, lets Broadcast and Watch carry on after
	// losing their connection: they try the addresses of Addr in turn, with
	// backoff, for at most this long, and go on streaming on the first that
	// takes them. A refusal (a wrong password, a channel taken over) ends
	// them as without it. See failover.go for what is lost in between.
	Reconnect time.Duration
	// Wait makes Watch wait for a channel that is not live yet instead of
	// failing with not-found: the server holds the watcher (handshake key
	// wait=1), or, if it is too old to know that key, Watch asks again
	// with backoff. WaitTimeout bounds the wait; zero waits until ctx ends.
	Wait        bool
	WaitTimeout time.Duration
	// Notify, if set, is told in one line each thing a person running the
	// client would want to know while it runs: that it waits for the
	// channel, that it lost its connection, that it reconnected.
	Notify func(msg string)
}

// Broadcast connects as a broadcaster and sends src until it ends. The
// handshake completes before src is read, so a refused request leaves src
// untouched. After src's EOF it half-closes the connection and waits, at
// most opts.CloseTimeout, for the server to close its side: a nil error means
// the server has read every byte. When the server ends the stream and says
// why (taken over, kicked, shutdown) it returns a *CutError. With
// opts.Reconnect it goes on after a lost connection (see failover.go).
//
// Cancelling ctx closes the connection and Broadcast returns ctx's error as
// soon as a pending src.Read returns (at once if src has a SetReadDeadline
// method that works, such as a pollable pipe).
func Broadcast(ctx context.Context, opts Options, src io.Reader) (err error) {
	defer wrapErr(&err, "broadcast to", opts.Addr)
	f, err := newFailover(opts, protocol.CommandBroadcast, src)
	if err != nil {
		return err
	}
	return f.broadcast(ctx)
}

// Watch connects as a watcher and copies the stream to dst until the server
// closes the connection, which returns nil. A failed write to dst returns an
// error wrapping ErrWriteOutput and the cause, so a caller can treat
// syscall.EPIPE (the reader of dst went away) as a normal end. Cancelling ctx
// closes the connection and Watch returns ctx's error. With opts.Wait it
// waits for a channel that is not live yet; with opts.Reconnect it goes on
// after a lost connection (see failover.go).
func Watch(ctx context.Context, opts Options, dst io.Writer) (err error) {
	defer wrapErr(&err, "watch", opts.Addr)
	f, err := newFailover(opts, protocol.CommandWatch, nil)
	if err != nil {
		return err
	}
	return f.watch(ctx, dst)
}

// RequestToken asks the server for a one-time broadcast token for
// opts.Request.User, proving who it is with opts.Request.UserPassword. It
// returns the token and how long the server keeps it good (zero if the
// server does not say). A refusal is a *protocol.RefusedError.
func RequestToken(ctx context.Context, opts Options) (token string, expiresIn time.Duration, err error) {
	defer wrapErr(&err, "request a token from", opts.Addr)
	if opts.Request.UserPassword == "" {
		return "", 0, fmt.Errorf("%w: a token request needs the user's password", ErrBadRequest)
	}
	s, st, err := connect(ctx, opts, protocol.CommandToken, nil, nil)
	if err != nil {
		return "", 0, err
	}
	s.close() // the server closes after the status too; nothing else comes
	return tokenFrom(st)
}

// tokenFrom reads the token and its lifetime from the ok that answers a
// token request.
func tokenFrom(st protocol.Status) (string, time.Duration, error) {
	token := st.Params[protocol.KeyToken]
	if token == "" {
		return "", 0, fmt.Errorf("%w: its ok carries no %s= (is it too old to issue tokens?)", ErrNoAnswer, protocol.KeyToken)
	}
	v, ok := st.Params[protocol.KeyExpiresIn]
	if !ok {
		return token, 0, nil
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || !(secs >= 0 && secs <= maxExpiresIn.Seconds()) { // NaN fails too
		return "", 0, fmt.Errorf("%w: %s=%q is not a number of seconds", ErrNoAnswer, protocol.KeyExpiresIn, v)
	}
	return token, time.Duration(secs * float64(time.Second)), nil
}

// NormalizeAddr returns addr as host:port, adding DefaultPort when addr has
// no port, and reports whether addr asks for TLS with a tls:// prefix. It
// accepts host, host:port, [ipv6], [ipv6]:port, a bare IPv6 address and
// :port (the local system), each optionally after tls://.
func NormalizeAddr(addr string) (hostport string, useTLS bool, err error) {
	rest, useTLS := strings.CutPrefix(addr, SchemeTLS)
	if scheme, _, ok := strings.Cut(rest, "://"); ok {
		return "", false, fmt.Errorf("%w: %q: unknown scheme %q, want %s or none", ErrBadAddr, addr, scheme+"://", SchemeTLS)
	}
	hostport, err = normalizeHostPort(rest)
	if err != nil {
		return "", false, err
	}
	return hostport, useTLS, nil
}

func normalizeHostPort(addr string) (string, error) {
	if addr == "" {
		return "", fmt.Errorf("%w: empty", ErrBadAddr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// No port, or not host:port at all.
		host, port = addr, ""
		if inner, ok := strings.CutPrefix(host, "["); ok && strings.HasSuffix(inner, "]") {
			host = strings.TrimSuffix(inner, "]")
			if _, perr := netip.ParseAddr(host); perr != nil {
				return "", fmt.Errorf("%w: %q: %q is not an IP address", ErrBadAddr, addr, host)
			}
		} else if strings.Contains(host, ":") {
			if _, perr := netip.ParseAddr(host); perr != nil {
				return "", fmt.Errorf("%w: %q: %w", ErrBadAddr, addr, err)
			}
		}
	}
	if strings.ContainsAny(host, "[]") {
		return "", fmt.Errorf("%w: %q", ErrBadAddr, addr)
	}
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	} else if n, perr := strconv.ParseUint(port, 10, 16); perr != nil || n == 0 {
		return "", fmt.Errorf("%w: %q: port %q is not a number from 1 to 65535", ErrBadAddr, addr, port)
	}
	return net.JoinHostPort(host, port), nil
}

// session is a connection that passed the handshake.
type session struct {
	ctx  context.Context
	conn net.Conn
	raw  net.Conn // the TCP connection under conn (conn itself without TLS)
	// r reads the connection. It may hold stream bytes that arrived with
	// the status frame, so every later read goes through it.
	r *bufio.Reader
	// stopCancel stops closing conn on ctx's end; it waits for a close in
	// progress.
	stopCancel func()
	addr       string           // as given, for messages
	req        protocol.Request // the handshake, for messages
	// onWaiting is called when the server answers "waiting"; waited
	// records that it did.
	onWaiting func()
	waited    bool
	// inputEnded is set once a broadcast read all its input: a lost
	// connection can no longer be made good by reconnecting.
	inputEnded bool
}

// connect dials, sends the handshake for cmd and reads the answer, which it
// returns when the server accepted. src, when it has a SetReadDeadline
// method, is interrupted when ctx ends. onWaiting, when set, is called
// when the server answers "waiting" (to a watcher that asked for wait=1);
// the handshake then waits for the final answer without a deadline.
func connect(ctx context.Context, opts Options, cmd protocol.Command, src io.Reader, onWaiting func()) (*session, protocol.Status, error) {
	addr, schemeTLS, err := NormalizeAddr(opts.Addr)
	if err != nil {
		return nil, protocol.Status{}, err
	}
	req := opts.Request
	if onWaiting != nil {
		req.Params = maps.Clone(req.Params)
		if req.Params == nil {
			req.Params = make(map[string]string, 1)
		}
		req.Params[protocol.KeyWait] = "1"
	}
	text, err := handshakeText(req, cmd)
	if req.Command == "" {
		req.Command = cmd
	}
	if err != nil {
		return nil, protocol.Status{}, err
	}
	tlsConf := opts.TLS
	if tlsConf == nil && schemeTLS {
		tlsConf = &tls.Config{}
	}
	conn, raw, err := dial(ctx, addr, tlsConf, orDefault(opts.DialTimeout, DefaultDialTimeout))
	if err != nil {
		return nil, protocol.Status{}, err
	}
	s := &session{
		ctx:       ctx,
		conn:      conn,
		raw:       raw,
		addr:      opts.Addr,
		req:       req,
		onWaiting: onWaiting,
		r:         bufio.NewReader(conn),
		// Cancelling closes the TCP connection under any TLS: closing
		// the TLS one would first try to send close_notify, which can
		// wait for a peer that does not read.
		stopCancel: closeOnCancel(ctx, raw, src),
	}
	st, err := s.handshake(text, orDefault(opts.HandshakeTimeout, DefaultHandshakeTimeout))
	if err != nil {
		s.close()
		return nil, protocol.Status{}, err
	}
	return s, st, nil
}

// dial connects to addr and, if tlsConf is set, performs the TLS handshake,
// all within timeout. It returns the connection to use and the TCP
// connection under it (the same one without TLS).
func dial(parent context.Context, addr string, tlsConf *tls.Config, timeout time.Duration) (conn, raw net.Conn, err error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	var d net.Dialer
	raw, err = d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if parent.Err() != nil {
			return nil, nil, parent.Err()
		}
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	if tlsConf == nil {
		return raw, raw, nil
	}
	conf := tlsConf.Clone()
	if conf.ServerName == "" {
		host, _, _ := net.SplitHostPort(addr) // addr is normalized
		conf.ServerName = host
	}
	if conf.MinVersion == 0 {
		conf.MinVersion = tls.VersionTLS12
	}
	tc := tls.Client(raw, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close() // the handshake error says what went wrong
		if parent.Err() != nil {
			return nil, nil, parent.Err()
		}
		return nil, nil, fmt.Errorf("connect: %w", tlsHandshakeErr(err, timeout))
	}
	return tc, raw, nil
}

// tlsHandshakeErr explains a failed TLS handshake. The usual mistake is a
// server without TLS, which answers the TLS hello with a plain fstream
// status frame; Go reports that as a record header that is not TLS.
func tlsHandshakeErr(err error, timeout time.Duration) error {
	var verify *tls.CertificateVerificationError
	switch {
	case isA[tls.RecordHeaderError](err):
		return fmt.Errorf("%w (it answered in plain text): %w", ErrNotTLS, err)
	case errors.As(err, &verify):
		return fmt.Errorf("%w: %w", ErrTLSVerify, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: no answer within %v: %w", ErrTLSHandshake, timeout, err)
	case closedByPeer(err):
		return fmt.Errorf("%w: the server closed the connection (does it speak TLS?): %w", ErrTLSHandshake, err)
	default:
		return fmt.Errorf("%w: %w", ErrTLSHandshake, err)
	}
}

func isA[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}

// handshakeText encodes req for cmd with ack=1, and checks that a server
// will be able to parse it, so that a local mistake is reported as such.
func handshakeText(req protocol.Request, cmd protocol.Command) (string, error) {
	switch req.Command {
	case "":
		req.Command = cmd
	case cmd:
	default:
		return "", fmt.Errorf("%w: a %s request cannot %s", ErrBadRequest, req.Command, cmd)
	}
	req.Ack = true
	text, err := req.Text()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if _, err := protocol.ParseRequest(text); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return text, nil
}

func (s *session) handshake(text string, timeout time.Duration) (protocol.Status, error) {
	if err := s.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return protocol.Status{}, s.streamErr("handshake", err)
	}
	if err := protocol.WriteFrame(s.conn, text); err != nil {
		return protocol.Status{}, s.handshakeErr(err, timeout)
	}
	if s.answeredHTTP() {
		return protocol.Status{}, s.httpPortErr()
	}
	reply, err := protocol.ReadFrame(s.r, maxStatus)
	if err != nil {
		return protocol.Status{}, s.handshakeErr(err, timeout)
	}
	st, err := protocol.ParseStatus(reply)
	if err != nil {
		return protocol.Status{}, fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	if st.Waiting && s.onWaiting != nil {
		if st, err = s.waitAnswer(timeout); err != nil {
			return protocol.Status{}, err
		}
	}
	if err := st.Err(); err != nil {
		return protocol.Status{}, err // *protocol.RefusedError
	}
	// The stream itself has no deadline: a watcher may wait for a
	// broadcaster, and a broadcaster may be held back by the server.
	if err := s.conn.SetDeadline(time.Time{}); err != nil {
		return protocol.Status{}, s.streamErr("handshake", err)
	}
	return st, nil
}

func (s *session) handshakeErr(err error, timeout time.Duration) error {
	switch {
	case s.ctx.Err() != nil:
		return s.ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w within %v: %w", ErrHandshakeTimeout, timeout, err)
	case closedByPeer(err):
		return fmt.Errorf("%w: it closed the connection: %w", ErrNoAnswer, err)
	default:
		// Garbage instead of a status frame: not an fstream server, or
		// one too old to know ack=1.
		return fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
}

// streamErr adds the step to err, or returns ctx's error when the
// connection failed because ctx ended and closed it.
func (s *session) streamErr(step string, err error) error {
	switch {
	case s.ctx.Err() != nil:
		return s.ctx.Err()
	case closedByPeer(err):
		return fmt.Errorf("%s: %w: %w", step, ErrConnClosed, err)
	default:
		return fmt.Errorf("%s: %w", step, err)
	}
}

func (s *session) close() {
	s.stopCancel()
	_ = s.conn.Close() // nothing is left to flush or report
}

// closeOnCancel closes conn, and interrupts src if it supports deadlines,
// when ctx ends. The returned function stops that and, if it already
// started, waits for it, so no goroutine outlives the session.
func closeOnCancel(ctx context.Context, conn net.Conn, src io.Reader) func() {
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		_ = conn.Close() // the caller reports ctx's error, not this one
		if d, ok := src.(interface{ SetReadDeadline(time.Time) error }); ok {
			// Fails harmlessly (os.ErrNoDeadline) on a file that cannot
			// be polled; the read then ends with the next input.
			_ = d.SetReadDeadline(time.Now())
		}
	})
	return func() {
		if !stop() {
			<-done
		}
	}
}

// closedByPeer reports whether err means the server closed or reset the
// connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// wrapErr prefixes a non-nil *err with what failed and where.
func wrapErr(err *error, what, addr string) {
	if *err != nil {
		*err = fmt.Errorf("%s %s: %w", what, addr, *err)
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
