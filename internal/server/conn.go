package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

// Connection states, for shutdown.
const (
	stateHandshake int32 = iota
	stateEstablished
)

// conn is one client connection. Its goroutine (serve) owns all reads and
// writes; other goroutines only set deadlines or close it.
type conn struct {
	srv *Server
	// nc is what the protocol runs over: raw, or a TLS connection on top
	// of it. Only the conn's goroutine uses nc; others use raw (deadlines
	// and Close on raw reach a TLS connection too).
	nc     net.Conn
	raw    net.Conn
	id     uint64
	remote string
	ip     string
	busy   string // why the connection is over a limit; "" if it is not
	state  atomic.Int32

	first    byte // the first byte, read to tell TLS from plain
	hasFirst bool // first still belongs to the handshake header
}

// tlsRecordHandshake starts every TLS ClientHello. A plain handshake starts
// with 0x00: its length is below 2^24.
const tlsRecordHandshake = 0x16

// refusal is a handshake the server turns down, with what the peer is told
// and what the log says.
type refusal struct {
	reason protocol.Reason
	msg    string // sent to the peer with ack=1
	detail error  // logged only
}

func (r *refusal) Error() string { return fmt.Sprintf("%s: %s", r.reason, r.msg) }

func refuse(reason protocol.Reason, msg string, detail error) *refusal {
	return &refusal{reason: reason, msg: msg, detail: detail}
}

// hubRefusal is the hub's refusal of a broadcaster or a watcher, as the hub
// words it. The hub refuses a join only with a *hub.JoinError; anything
// else is the server's own trouble, and busy.
func hubRefusal(err error) *refusal {
	if reason, msg, ok := hub.ReasonOf(err); ok {
		return refuse(reason, msg, err)
	}
	return refuse(protocol.ReasonBusy, "the server could not join you to the channel; try again later", err)
}

func (c *conn) serve() {
	s := c.srv
	defer s.wg.Done()
	defer s.forget(c)
	defer func() { c.nc.Close() }() // nc may become a TLS connection
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic serving connection", "id", c.id, "remote", c.remote, "panic", v, "stack", string(debug.Stack()))
		}
	}()

	c.raw.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	plain, err := c.negotiateTLS()
	if err != nil {
		// A TLS client on a plain server is answered in the plain
		// protocol: its TLS library then fails with "first record does not
		// look like a TLS handshake", which our client explains.
		var r *refusal
		c.reject(protocol.Request{}, errors.As(err, &r), err)
		return
	}
	req, ack, err := c.readRequest()
	switch {
	case err != nil:
	case c.busy != "":
		err = refuse(protocol.ReasonBusy, c.busy, nil)
	case plain && s.cfg.TLSRequired:
		err = refuse(protocol.ReasonForbidden, "this server requires TLS: connect with tls://HOST:PORT (or --tls)", nil)
	}
	if err != nil {
		if !errors.Is(err, errHTTPRequest) { // answered already
			c.reject(req, ack, err)
		}
		return
	}
	switch req.Command {
	case protocol.CommandBroadcast:
		c.broadcast(req)
	case protocol.CommandWatch:
		c.watch(req)
	case protocol.CommandToken:
		c.issueToken(req)
	}
}

// negotiateTLS reads the first byte and, if it starts a TLS handshake,
// runs the server side of TLS. plain reports a non-TLS client.
func (c *conn) negotiateTLS() (plain bool, err error) {
	s := c.srv
	var b [1]byte
	if _, err := io.ReadFull(c.raw, b[:]); err != nil {
		return false, fmt.Errorf("read handshake header: %w", err)
	}
	if b[0] != tlsRecordHandshake {
		c.first, c.hasFirst = b[0], true
		return true, nil
	}
	if s.cfg.TLS == nil {
		return false, refuse(protocol.ReasonBadRequest, "this server does not speak TLS; connect without tls://",
			errors.New("TLS client on a plain-only server"))
	}
	tc, classify := tlsServer(&prefixConn{Conn: c.raw, prefix: b[:]}, s.cfg.TLS)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return false, fmt.Errorf("TLS handshake: %w", classify(err))
	}
	c.nc = tc
	return false, nil
}

// prefixConn returns prefix before reading from Conn: the byte that was read
// to recognise TLS.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// readRequest reads and parses the handshake. ack reports whether the peer
// asked for a status reply, as far as could be read.
func (c *conn) readRequest() (protocol.Request, bool, error) {
	max := c.srv.cfg.MaxHandshake
	var hdr [protocol.HeaderSize]byte
	rest := hdr[:]
	if c.hasFirst {
		hdr[0], rest, c.hasFirst = c.first, hdr[1:], false
	}
	if _, err := io.ReadFull(c.nc, rest); err != nil {
		return protocol.Request{}, false, fmt.Errorf("read handshake header: %w", err)
	}
	if looksLikeHTTP(hdr[0]) {
		c.answerHTTP(hdr[:])
		return protocol.Request{}, false, errHTTPRequest
	}
	n, err := protocol.ParseHeader(hdr, max)
	if errors.Is(err, protocol.ErrFrameTooLarge) {
		return protocol.Request{}, c.overlongAck(max),
			refuse(protocol.ReasonTooLarge, fmt.Sprintf("handshake is longer than the server's limit of %d bytes", max), err)
	}
	if err != nil {
		return protocol.Request{}, false, refuse(protocol.ReasonBadRequest, "malformed handshake frame", err)
	}
	text, err := readGrowing(c.nc, n)
	if err != nil {
		return protocol.Request{}, false, fmt.Errorf("read handshake text: %w", err)
	}
	req, err := protocol.ParseRequest(string(text))
	if err != nil {
		return req, protocol.AckRequested(text, false), refuse(protocol.ReasonBadRequest, err.Error(), err)
	}
	return req, req.Ack, nil
}

// readGrowing reads exactly n bytes, growing its buffer as they arrive, so
// that a client announcing a large handshake and sending nothing costs the
// server nothing.
func readGrowing(r io.Reader, n int) ([]byte, error) {
	var buf bytes.Buffer
	k, err := io.CopyN(&buf, r, int64(n))
	if errors.Is(err, io.EOF) && k < int64(n) {
		err = io.ErrUnexpectedEOF
	}
	return buf.Bytes(), err
}

// reject logs why a handshake failed and, if the peer asked for acks, tells
// it before closing.
func (c *conn) reject(req protocol.Request, ack bool, err error) {
	s := c.srv
	attrs := []any{"id", c.id, "remote", c.remote}
	if req.Command != "" {
		attrs = append(attrs, "role", string(req.Command), "user", req.User, "channel", req.Channel)
	}
	var r *refusal
	if !errors.As(err, &r) {
		// The handshake never arrived whole: nothing to answer.
		level := slog.LevelInfo
		if !isClosedConn(err) && !isTimeout(err) && !errors.Is(err, errTLSPolicy) {
			level = slog.LevelWarn
		}
		if isTimeout(err) && s.shuttingDown() {
			err = errors.New("server shutting down")
		}
		s.countHandshake(HandshakeIncomplete)
		s.log.Log(context.Background(), level, "handshake failed", append(attrs, "err", err)...)
		return
	}
	s.countHandshake(string(r.reason))
	attrs = append(attrs, "reason", string(r.reason))
	if r.detail != nil {
		attrs = append(attrs, "detail", r.detail.Error())
	}
	s.log.Info("handshake refused", attrs...)
	if ack {
		c.nc.SetWriteDeadline(time.Now().Add(statusWriteTimeout))
		st := protocol.Status{Reason: r.reason, Message: r.msg}
		if err := protocol.WriteFrame(c.nc, st.Text()); err != nil {
			s.log.Debug("status reply not delivered", "id", c.id, "err", err)
		}
	}
}

// authenticate checks a broadcaster's (or token requester's) credentials:
// a one-time token if it gave one, else its password. Attempts are
// throttled per remote address: each reserves a failure before it is
// checked (see throttle), and every failure counts, a broken user file
// included, so that nothing a client triggers can flood the log.
func (c *conn) authenticate(req protocol.Request) *refusal {
	s := c.srv
	done, ok := s.authFails.beginLogin(c.ip)
	if !ok {
		return refuse(protocol.ReasonBusy, "too many failed logins from your address; wait a minute", errors.New("auth throttled"))
	}
	// The peer is told what kind of credential failed, never why: a token
	// is unknown, used or expired alike, whoever the user.
	msg := "wrong user or password"
	if _, ok := req.Params[protocol.KeyToken]; ok && req.Command == protocol.CommandBroadcast {
		msg = "token unknown, used or expired"
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HandshakeTimeout)
	ctx = auth.WithAttempt(ctx, auth.Attempt{Action: string(req.Command), User: req.User, Channel: req.Channel, Remote: c.remote})
	err := s.checkCredentials(ctx, req)
	cancel()
	done(err != nil)
	if err == nil {
		return nil
	}
	if !errors.Is(err, auth.ErrDenied) {
		s.authErrLog.log(s.log, slog.LevelError, "authentication failed", "id", c.id, "user", req.User, "err", err)
	}
	// One generic answer: the peer must not learn which part was wrong.
	return refuse(protocol.ReasonUnauthorized, msg, err)
}

// issueToken answers a token request: a one-time broadcast token for an
// authenticated user. Always answered with a status frame.
func (c *conn) issueToken(req protocol.Request) {
	s := c.srv
	req.Ack = true
	if s.cfg.Tokens == nil {
		c.reject(req, true, refuse(protocol.ReasonBadRequest, "this server does not issue tokens", nil))
		return
	}
	if err := c.authenticate(req); err != nil {
		c.reject(req, true, err)
		return
	}
	token, expires, err := s.cfg.Tokens.Issue(req.User)
	if err != nil {
		s.log.Error("token not issued", "id", c.id, "user", req.User, "err", err)
		c.reject(req, true, refuse(protocol.ReasonBusy, "could not issue a token; try again", err))
		return
	}
	s.countHandshake(HandshakeOK)
	st := protocol.Status{OK: true, Params: map[string]string{
		protocol.KeyToken:     token,
		protocol.KeyExpiresIn: strconv.Itoa(int(time.Until(expires).Round(time.Second).Seconds())),
	}}
	c.nc.SetWriteDeadline(time.Now().Add(statusWriteTimeout))
	if err := protocol.WriteFrame(c.nc, st.Text()); err != nil {
		s.log.Info("token not delivered", "id", c.id, "user", req.User, "err", err)
		return
	}
	s.log.Info("token issued", "id", c.id, "remote", c.remote, "user", req.User, "expires", expires.Format(time.RFC3339))
}

// sendOK answers a handshake with ack=1.
func (c *conn) sendOK(req protocol.Request) error {
	if !req.Ack {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(statusWriteTimeout))
	if err := protocol.WriteFrame(c.nc, protocol.OKStatus.Text()); err != nil {
		return err
	}
	return c.nc.SetWriteDeadline(time.Time{})
}

func (c *conn) broadcast(req protocol.Request) {
	s := c.srv
	if err := c.authenticate(req); err != nil {
		c.reject(req, req.Ack, err)
		return
	}
	var bufsize int64
	if v, ok := req.Params[protocol.KeyBufsize]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if limit := int64(s.cfg.gopCache()); err != nil || n < 1 || n > limit {
			c.reject(req, req.Ack, refuse(protocol.ReasonBadRequest, fmt.Sprintf("bufsize= (%d bytes): want a whole number of bytes from 1 to %d", len(v), limit), nil))
			return
		}
		bufsize = n
	}
	key := hub.Key{User: req.User, Channel: req.Channel}
	in := s.beginIngest(key) // cluster.go; nil when not in a cluster
	defer s.endIngest(in)
	pub, err := s.hub.Publish(key, hub.PublishOptions{
		Bufsize:  bufsize,
		Password: req.ChannelPassword,
		Delay:    req.Delay,
		ID:       c.id,
		Remote:   c.remote,
		OnStop:   func(hub.CloseReason) { c.raw.SetReadDeadline(aLongTimeAgo) },
	})
	if err != nil {
		c.reject(req, req.Ack, hubRefusal(err))
		return
	}
	defer pub.Close()
	s.claim(in, pub, req.ChannelPassword)
	s.countHandshake(HandshakeOK)
	s.broadcasters.Add(1)
	defer s.broadcasters.Add(-1)
	log := s.log.With("id", c.id, "remote", c.remote, "role", "broadcaster", "user", req.User, "channel", req.Channel)
	if err := c.sendOK(req); err != nil {
		log.Info("broadcaster left during handshake", "err", err)
		return
	}
	c.state.Store(stateEstablished)
	c.nc.SetReadDeadline(time.Time{})
	log.Info("broadcaster started", "delay", req.Delay, "protected", req.ChannelPassword != "")

	start := time.Now()
	n, err := pub.ReadFrom(c.nc)
	attrs := []any{"bytes", n, "duration", time.Since(start).Round(time.Millisecond)}
	var ev *hub.EvictedError
	switch {
	case err == nil:
		log.Info("broadcaster finished", attrs...)
	case errors.As(err, &ev):
		log.Info("broadcaster ended", append(attrs, "reason", string(ev.Reason))...)
	case isClosedConn(err):
		log.Info("broadcaster disconnected", append(attrs, "err", err)...)
	default:
		log.Warn("broadcaster failed", append(attrs, "err", err)...)
	}
	if ev != nil && req.Ack {
		pub.Close() // first: a new broadcaster waits for it
		c.tellCut(ev.Reason, key)
	}
}

func (c *conn) watch(req protocol.Request) {
	s := c.srv
	if n := s.cfg.WatcherSendBuffer; n > 0 {
		if tc, ok := c.raw.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(n) // best effort: the kernel clamps it to its limits
		}
	}
	err := c.watchOrWait(req, WatchRequest{
		User:     req.User,
		Channel:  req.Channel,
		Password: req.ChannelPassword,
		Params:   req.Params,
		ConnID:   c.id,
		Remote:   c.remote,
		Via:      "tcp",
	}, func() error {
		if err := c.sendOK(req); err != nil {
			return err
		}
		c.state.Store(stateEstablished)
		return c.nc.SetReadDeadline(time.Time{})
	})
	if _, _, ok := hub.ReasonOf(err); ok {
		c.reject(req, req.Ack, hubRefusal(err))
	}
	var ev *hub.EvictedError
	if errors.As(err, &ev) && (ev.Reason == hub.ReasonStalled || ev.Reason == hub.ReasonLagging) {
		// Reset rather than close: the unsent bytes in the kernel's send
		// buffer (megabytes) are useless to a watcher that fell behind,
		// and must not linger on the server after we let go.
		if tc, ok := c.raw.(interface{ SetLinger(int) error }); ok {
			_ = tc.SetLinger(0) // the close below still happens
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
