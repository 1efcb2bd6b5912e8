package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
)

// tsPacket is the size of an MPEG-TS packet; tsSync starts each one.
const (
	tsPacket = 188
	tsSync   = 0x47
)

// contentType maps a detected stream format to a Content-Type.
func contentType(format string) string {
	switch format {
	case "mpegts":
		return "video/mp2t"
	case "h264":
		return "video/h264"
	case "h265":
		return "video/h265"
	}
	return "application/octet-stream"
}

// looksLikeTS reports whether b holds three consecutive MPEG-TS packets
// starting anywhere in its first packet's length (a watcher may join
// mid-packet).
func looksLikeTS(b []byte) bool {
	for off := 0; off < tsPacket && off+2*tsPacket < len(b); off++ {
		if b[off] == tsSync && b[off+tsPacket] == tsSync && b[off+2*tsPacket] == tsSync {
			return true
		}
	}
	return false
}

// channelPassword returns the channel password of a watch request:
// ?password= first, then the password part of HTTP basic auth. query
// reports whether it came from the query (the browser player's way).
func channelPassword(r *http.Request) (password string, query bool) {
	if q := r.URL.Query(); q.Has("password") {
		return q.Get("password"), true
	}
	_, pw, _ := r.BasicAuth()
	return pw, false
}

// watch streams a live channel as the response body through the server's
// shared watcher path.
func (a *API) watch(w http.ResponseWriter, r *http.Request) {
	key, err := keyOf(r)
	if err != nil {
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	password, fromQuery := channelPassword(r)
	if r.Method == http.MethodHead {
		// An empty ?password= is no password: the player always sends
		// one, so that a 401 never makes the browser ask too.
		a.watchHead(w, r, key, password != "")
		return
	}
	sink := &httpSink{w: w, rc: http.NewResponseController(w)}
	sink.contentType = func(first []byte) string { return a.sniffType(key, first) }
	joined := func() error {
		sink.joined = true
		a.metrics.watchRequests.WithLabelValues("200").Inc()
		a.metrics.watchers.Inc()
		// With the format known the header goes out now, so the client
		// learns it joined; otherwise it waits for the first bytes.
		if f := a.formatOf(key); f != "" {
			sink.start(contentType(f))
			return sink.rc.Flush()
		}
		return nil
	}
	params := map[string]string{}
	if j := r.URL.Query().Get(protocol.KeyJoin); j != "" {
		params[protocol.KeyJoin] = j
	}
	err = a.srv.ServeWatcher(r.Context(), server.WatchRequest{
		User:     key.User,
		Channel:  key.Channel,
		Password: password,
		Params:   params,
		Remote:   r.RemoteAddr,
		Via:      "http",
	}, sink, joined)
	sink.finish()
	if !sink.joined {
		a.refuseWatcher(w, r, key, fromQuery, err)
		return
	}
	a.metrics.watchers.Dec()
	var ev *hub.EvictedError
	switch {
	case err == nil, errors.Is(err, hub.ErrChannelEnded):
		if !sink.started { // the channel ended before sending anything
			sink.start(contentType(a.formatOf(key)))
		}
	case r.Context().Err() != nil:
		// The client went away.
	case errors.As(err, &ev), sink.started:
		// Kicked, lagging, stalled or a failed write: end the response
		// without its terminating chunk so the client sees a truncated
		// stream, not the end of the channel.
		panic(http.ErrAbortHandler)
	}
}

// refuseWatcher answers a watch request that could not join: with the hub's
// reason as an HTTP status and its message, and what an HTTP client needs
// besides.
func (a *API) refuseWatcher(w http.ResponseWriter, r *http.Request, key hub.Key, fromQuery bool, err error) {
	reason, msg, ok := hub.ReasonOf(err)
	if !ok {
		reason, msg = "", fmt.Sprintf("cannot join channel %q of user %q", key.Channel, key.User)
		a.log.Error("http watcher could not join", "user", key.User, "channel", key.Channel, "remote", r.RemoteAddr, "err", err)
	}
	code := refusalStatus(reason)
	switch reason {
	case protocol.ReasonForbidden:
		msg += ": give it as ?password= or as the password of HTTP basic auth (any user name)"
		if !fromQuery {
			// Lets VLC, mpv and browsers ask for it. The browser player
			// passes ?password= and asks itself.
			w.Header().Set("WWW-Authenticate", `Basic realm="fstream channel", charset="UTF-8"`)
		}
	case protocol.ReasonBusy:
		w.Header().Set("Retry-After", "10")
		if errors.Is(err, server.ErrThrottled) {
			// Throttled guessing: 429 says "slow down", not "come back".
			code = http.StatusTooManyRequests
			w.Header().Set("Retry-After", "60")
		}
	}
	a.metrics.watchRequests.WithLabelValues(strconv.Itoa(code)).Inc()
	a.log.Info("http watcher refused", "user", key.User, "channel", key.Channel, "remote", r.RemoteAddr, "code", code, "err", err)
	textError(w, code, msg)
}

// refusalStatus is the HTTP status that answers a watch request refused for
// reason; "" (no refusal, the server failed) is a 500.
func refusalStatus(reason protocol.Reason) int {
	switch reason {
	case protocol.ReasonBadRequest:
		return http.StatusBadRequest
	case protocol.ReasonUnauthorized, protocol.ReasonForbidden:
		// A wrong or missing password (for a watcher: the channel's). 401
		// lets a player ask its user for one (see WWW-Authenticate).
		return http.StatusUnauthorized
	case protocol.ReasonNotFound:
		return http.StatusNotFound
	case protocol.ReasonBusy:
		return http.StatusServiceUnavailable
	case protocol.ReasonTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// watchHead answers HEAD /watch without joining: 404 when the channel is not
// live, 401 when it is protected and no password was given, else the
// headers a GET would start with. A given password is not checked (that
// needs a join).
func (a *API) watchHead(w http.ResponseWriter, r *http.Request, key hub.Key, havePassword bool) {
	ch := a.srv.Hub().Channel(key)
	if ch == nil {
		a.remoteHead(w, r, key, havePassword)
		return
	}
	in := ch.Info()
	switch {
	case !in.Stats.Live:
		textError(w, http.StatusNotFound, "")
	case in.Protected && !havePassword:
		textError(w, http.StatusUnauthorized, "")
	default:
		w.Header().Set("Content-Type", contentType(in.Stats.Media.Format))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
}

// formatOf returns the channel's detected format, "" while unknown.
func (a *API) formatOf(key hub.Key) string {
	ch := a.srv.Hub().Channel(key)
	if ch == nil {
		return ""
	}
	return ch.Stats().Media.Format
}

// sniffType picks the Content-Type when the first stream bytes are about to
// be written: the detected format if the hub knows it by now, else a look
// at the bytes.
func (a *API) sniffType(key hub.Key, first []byte) string {
	if f := a.formatOf(key); f != "" {
		return contentType(f)
	}
	if looksLikeTS(first) {
		return contentType("mpegts")
	}
	return contentType("")
}

// httpSink is a server.Sink on an HTTP response. Write, Flush and start are
// called by the goroutine serving the request; SetWriteDeadline may come
// from the hub's goroutines, also after the handler has returned, so it is
// guarded and disabled by finish.
type httpSink struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	contentType func(first []byte) string
	joined      bool // the watcher joined the channel
	started     bool // the response header was written

	mu   sync.Mutex
	done bool // finish was called: the response is no longer ours
}

// start writes the response header.
func (s *httpSink) start(ctype string) {
	h := s.w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-store")
	s.w.WriteHeader(http.StatusOK)
	s.started = true
}

// Write writes stream bytes, first the header if it is still pending.
func (s *httpSink) Write(p []byte) (int, error) {
	if !s.started {
		s.start(s.contentType(p))
	}
	return s.w.Write(p)
}

// Flush sends what was written to the client; the server's pump calls it
// after each batch.
func (s *httpSink) Flush() error {
	return s.rc.Flush()
}

// SetWriteDeadline bounds the writes in progress and to come.
func (s *httpSink) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	return s.rc.SetWriteDeadline(t)
}

// finish clears the write deadline (a kept-alive connection must not carry
// it into its next request) and ignores later deadlines.
func (s *httpSink) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rc.SetWriteDeadline(time.Time{})
	s.done = true
}
