package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

// errHTTPRequest means a client sent an HTTP request to the stream port: a
// browser, curl, or a player given the wrong port.
var errHTTPRequest = errors.New("an HTTP request on the stream port")

// maxHTTPHead bounds what is read of such a request, only to learn the
// host name the client used.
const maxHTTPHead = 8 << 10

// looksLikeHTTP reports whether the first byte of a handshake starts an
// HTTP method (GET, POST, PUT, PATCH, HEAD). A frame starts with 0x00 and
// TLS with 0x16, so these can never be the start of either.
func looksLikeHTTP(b byte) bool { return b == 'G' || b == 'P' || b == 'H' }

// SetHTTPAddr tells the server where its HTTP side listens, so that an
// HTTP request reaching the stream port is told where to go. Call it once
// the HTTP listener has its address.
func (s *Server) SetHTTPAddr(addr string) { s.httpAddr.Store(&addr) }

// answerHTTP answers an HTTP request on the stream port with a short 400
// page that names the HTTP side, if there is one. head is what was read of
// the request so far. The connection is still under its handshake
// deadline.
func (c *conn) answerHTTP(head []byte) {
	s := c.srv
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(head), io.LimitReader(c.nc, maxHTTPHead)), 4096)
	host := ""
	if req, err := http.ReadRequest(r); err == nil {
		host = req.Host
	}
	body := s.httpHint(host)
	resp := fmt.Sprintf("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n%s", len(body), body)
	s.countHandshake(string(protocol.ReasonBadRequest))
	s.log.Info("handshake refused", "id", c.id, "remote", c.remote, "reason", string(protocol.ReasonBadRequest),
		"detail", errHTTPRequest.Error())
	c.nc.SetWriteDeadline(time.Now().Add(statusWriteTimeout))
	if _, err := io.WriteString(c.nc, resp); err != nil {
		return
	}
	c.lingerClose(maxHTTPHead)
}

// httpHint is the page that answers an HTTP request on the stream port.
// host is the Host the client asked for (it knows the name it used).
func (s *Server) httpHint(host string) string {
	const intro = "This is fstream's stream port: it speaks the fstream protocol, not HTTP.\n"
	name := "HOST"
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	} else if host != "" {
		name = host
	}
	addr := s.httpAddr.Load()
	if addr == nil {
		return intro + "This server has no HTTP side (fstream serve --http ADDRESS starts one).\n" +
			"Watch with: fstream watch " + hostPort(name, "PORT") + " --user USER --channel CHANNEL | ffplay -\n"
	}
	h, port, err := net.SplitHostPort(*addr)
	if err != nil {
		h, port = "", "PORT"
	}
	if ip := net.ParseIP(h); name == "HOST" && h != "" && (ip == nil || !ip.IsUnspecified()) {
		name = h // the client sent no Host: name the listener's, if it is one
	}
	scheme := "http"
	if s.cfg.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + hostPort(name, port)
	return intro + "Its HTTP side is " + base + "/ :\n" +
		"  watch a channel (VLC, mpv, ffplay): " + base + "/watch/USER/CHANNEL\n" +
		"  play it in this browser:            " + base + "/play/USER/CHANNEL\n"
}

// hostPort joins a host and a port, bracketing IPv6 addresses.
func hostPort(host, port string) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return net.JoinHostPort(host, port)
	}
	return host + ":" + port
}
