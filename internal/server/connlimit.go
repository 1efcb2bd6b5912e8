package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/fstream/fstream/internal/protocol"
)

// Connection slots: MaxConns and MaxConnsPerIP count the relay's own
// connections and those of any listener wrapped by LimitListener (the HTTP
// side) together, so that one address cannot double its share by using
// both.

// takeSlotLocked counts a new connection from ip. It returns why the
// connection is over a limit, or "" when it took a slot, which
// releaseSlotLocked gives back. A connection exempt from the per-address
// limit (from a trusted proxy) counts only against MaxConns. Called with
// s.mu held.
func (s *Server) takeSlotLocked(ip string, exempt bool) string {
	if s.cfg.MaxConns > 0 && s.open.Load() >= int64(s.cfg.MaxConns) {
		return fmt.Sprintf("server is at its connection limit (%d); try again later", s.cfg.MaxConns)
	}
	if !exempt {
		if s.cfg.MaxConnsPerIP > 0 && s.perIP[ip] >= s.cfg.MaxConnsPerIP {
			return fmt.Sprintf("too many connections from %s (limit %d)", ip, s.cfg.MaxConnsPerIP)
		}
		s.perIP[ip]++
	}
	s.open.Add(1)
	return ""
}

// releaseSlotLocked gives back a slot taken by takeSlotLocked. Called with
// s.mu held.
func (s *Server) releaseSlotLocked(ip string, exempt bool) {
	s.open.Add(-1)
	if exempt {
		return
	}
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// LimitListener returns ln with the server's connection limits applied to
// the connections it accepts, counted together with the relay's own. A
// connection over a limit is closed at once, before anything is read from
// it; one within them holds its slot until it is closed. exempt, if not
// nil, reports addresses free of the per-address limit: a trusted reverse
// proxy carries many clients on its one address, and limits them itself.
func (s *Server) LimitListener(ln net.Listener, exempt func(netip.Addr) bool) net.Listener {
	return &limitListener{Listener: ln, srv: s, exempt: exempt}
}

type limitListener struct {
	net.Listener
	srv    *Server
	exempt func(netip.Addr) bool
}

// Accept returns the next connection within the limits.
func (l *limitListener) Accept() (net.Conn, error) {
	s := l.srv
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		remote := nc.RemoteAddr().String()
		ip := hostOf(remote)
		exempt := false
		if a, err := netip.ParseAddr(ip); err == nil && l.exempt != nil {
			exempt = l.exempt(a.Unmap())
		}
		s.mu.Lock()
		busy := s.takeSlotLocked(ip, exempt)
		s.mu.Unlock()
		if busy == "" {
			return &slotConn{Conn: nc, srv: s, ip: ip, exempt: exempt}, nil
		}
		s.refusedLog.log(s.log, slog.LevelWarn, "connection refused", "remote", remote, "via", "http", "reason", busy)
		s.countHandshake(string(protocol.ReasonBusy))
		nc.Close()
	}
}

// slotConn gives its slot back when it is closed, once.
type slotConn struct {
	net.Conn
	srv    *Server
	ip     string
	exempt bool
	once   sync.Once
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.srv.mu.Lock()
		c.srv.releaseSlotLocked(c.ip, c.exempt)
		c.srv.mu.Unlock()
	})
	return err
}
