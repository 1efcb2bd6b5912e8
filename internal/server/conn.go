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
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/auth"
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
	srv       *Server
	nc        net.Conn
	id        uint64
	remote    string
	overLimit bool
	state     atomic.Int32
}

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

func (c *conn) serve() {
	s := c.srv
	defer s.wg.Done()
	defer s.forget(c)
	defer c.nc.Close()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic serving connection", "id", c.id, "remote", c.remote, "panic", v, "stack", string(debug.Stack()))
		}
	}()

	c.nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	req, ack, err := c.readRequest()
	if err == nil && c.overLimit {
		err = refuse(protocol.ReasonBusy, "server is at its connection limit; try again later", nil)
	}
	if err != nil {
		c.reject(req, ack, err)
		return
	}
	switch req.Command {
	case protocol.CommandBroadcast:
		c.broadcast(req)
	case protocol.CommandWatch:
		c.watch(req)
	}
}

// readRequest reads and parses the handshake. ack reports whether the peer
// asked for a status reply, as far as could be read.
func (c *conn) readRequest() (protocol.Request, bool, error) {
	max := c.srv.cfg.MaxHandshake
	var hdr [protocol.HeaderSize]byte
	if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
		return protocol.Request{}, false, fmt.Errorf("read handshake header: %w", err)
	}
	n, err := protocol.ParseHeader(hdr, max)
	if errors.Is(err, protocol.ErrFrameTooLarge) {
		// Read as much as the limit allows, only to see whether the
		// client wants to be told why it is refused.
		prefix, _ := readGrowing(c.nc, max)
		return protocol.Request{}, protocol.AckRequested(prefix, true),
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
	if err == io.EOF && k < int64(n) {
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
		if !isClosedConn(err) && !isTimeout(err) {
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
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(s.cfg.HandshakeTimeout))
	err := s.cfg.Auth.Authenticate(ctx, req.User, req.UserPassword)
	cancel()
	if err != nil {
		if !errors.Is(err, auth.ErrDenied) {
			s.log.Error("authentication failed", "id", c.id, "user", req.User, "err", err)
		}
		// One generic answer: the peer must not learn which part was wrong.
		c.reject(req, req.Ack, refuse(protocol.ReasonUnauthorized, "wrong user or password", err))
		return
	}
	key := Key{User: req.User, Channel: req.Channel}
	pub, err := s.hub.Publish(key, PublishOptions{
		Password: req.ChannelPassword,
		Delay:    req.Delay,
		ID:       c.id,
		Remote:   c.remote,
		OnStop:   func(CloseReason) { c.nc.SetReadDeadline(time.Unix(1, 0)) },
	})
	if err != nil {
		c.reject(req, req.Ack, refuse(protocol.ReasonBusy, "server is shutting down", err))
		return
	}
	defer pub.Close()
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
	var ev *EvictedError
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
}

func (c *conn) watch(req protocol.Request) {
	s := c.srv
	err := s.serveWatcher(context.Background(), WatchRequest{
		User:     req.User,
		Channel:  req.Channel,
		Password: req.ChannelPassword,
		Params:   req.Params,
		ConnID:   c.id,
		Remote:   c.remote,
		Via:      "tcp",
	}, c.nc, func() error {
		if err := c.sendOK(req); err != nil {
			return err
		}
		c.state.Store(stateEstablished)
		return c.nc.SetReadDeadline(time.Time{})
	})
	switch {
	case errors.Is(err, ErrNotLive):
		c.reject(req, req.Ack, refuse(protocol.ReasonNotFound, fmt.Sprintf("channel %q of user %q is not live", req.Channel, req.User), err))
	case errors.Is(err, ErrWrongPassword):
		c.reject(req, req.Ack, refuse(protocol.ReasonForbidden, "wrong channel password", err))
	case errors.Is(err, ErrHubClosed):
		c.reject(req, req.Ack, refuse(protocol.ReasonBusy, "server is shutting down", err))
	}
	var ev *EvictedError
	if errors.As(err, &ev) && (ev.Reason == ReasonStalled || ev.Reason == ReasonLagging) {
		// Reset rather than close: the unsent bytes in the kernel's send
		// buffer (megabytes) are useless to a watcher that fell behind,
		// and must not linger on the server after we let go.
		if tc, ok := c.nc.(interface{ SetLinger(int) error }); ok {
			tc.SetLinger(0)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
