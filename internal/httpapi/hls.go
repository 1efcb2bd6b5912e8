package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/fstream/fstream/internal/hls"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
)

// playlistWait bounds how long a playlist request waits for a channel's
// first segment (a GOP, when the segmenter has just started).
const playlistWait = 15 * time.Second

const (
	playlistType = "application/vnd.apple.mpegurl"
	segmentType  = "video/mp2t"
)

// hlsRoutes adds the HLS endpoints to mux.
func (a *API) hlsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /hls/{user}/{channel}/index.m3u8", a.hlsPlaylist)
	mux.HandleFunc("GET /hls/{user}/{channel}/{segment}", a.hlsSegment)
	mux.HandleFunc("OPTIONS /hls/{user}/{channel}/{file}", a.hlsPreflight)
}

// hlsCORS sets the CORS header for players on other origins.
func (a *API) hlsCORS(w http.ResponseWriter) {
	if a.cors != "" {
		w.Header().Set("Access-Control-Allow-Origin", a.cors)
		w.Header().Set("Vary", "Origin")
	}
}

func (a *API) hlsPreflight(w http.ResponseWriter, _ *http.Request) {
	a.hlsCORS(w)
	if a.cors != "" {
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Range")
		w.Header().Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
}

// hlsPlaylist serves a channel's live playlist. A protected channel's needs
// the channel password, and lists signed segment URLs.
func (a *API) hlsPlaylist(w http.ResponseWriter, r *http.Request) {
	a.hlsCORS(w)
	key, err := keyOf(r)
	if err != nil {
		a.metrics.hlsRequests.WithLabelValues("playlist", "400").Inc()
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.hls == nil {
		a.hlsRefuse(w, r, key, false, hls.ErrDisabled)
		return
	}
	password, fromQuery := channelPassword(r)
	protected := false
	if ch := a.srv.Hub().Channel(key); ch != nil && ch.Info().Protected {
		protected = true
		if err := a.checkChannelPassword(r.Context(), key, password, r.RemoteAddr); err != nil {
			a.hlsRefuse(w, r, key, fromQuery, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), playlistWait)
	defer cancel()
	p, err := a.hls.Playlist(ctx, key)
	if err != nil {
		a.hlsRefuse(w, r, key, fromQuery, err)
		return
	}
	a.sessions.seen(r.RemoteAddr+"\x00"+r.UserAgent(), a.now())
	uri := func(s *hls.Segment) string { return s.Name }
	if protected || (len(p.Segments) > 0 && p.Segments[0].Protected) {
		uri = func(s *hls.Segment) string {
			return s.Name + "?" + a.signer.Sign(segmentPath(key, s.Name), s.Created.Add(a.hls.Config().SignTTL))
		}
	}
	body := p.Render(uri)
	h := w.Header()
	h.Set("Content-Type", playlistType)
	if protected {
		// Fetched with the password: no shared cache keeps it.
		h.Set("Cache-Control", "private, max-age=1")
	} else {
		h.Set("Cache-Control", "public, max-age=1")
	}
	a.metrics.hlsRequests.WithLabelValues("playlist", "200").Inc()
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader([]byte(body)))
}

// segmentPath is what a segment's signature covers.
func segmentPath(key hub.Key, name string) string {
	return key.User + "/" + key.Channel + "/" + name
}

// hlsSegment serves one segment: immutable, so caches keep it as long as
// they like. A protected channel's needs a valid signature.
func (a *API) hlsSegment(w http.ResponseWriter, r *http.Request) {
	a.hlsCORS(w)
	key, err := keyOf(r)
	if err != nil {
		a.hlsSegmentError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.hls == nil {
		a.hlsSegmentError(w, http.StatusNotFound, "HLS is off on this server")
		return
	}
	name := r.PathValue("segment")
	seg, err := a.hls.Segment(key, name)
	if err != nil {
		a.hlsSegmentError(w, http.StatusNotFound, "no such segment (it may have left the live window)")
		return
	}
	protected := seg.Protected
	if ch := a.srv.Hub().Channel(key); ch != nil && ch.Info().Protected {
		protected = true
	}
	if protected {
		q := r.URL.Query()
		if err := a.signer.Verify(segmentPath(key, name), q.Get("exp"), q.Get("sig"), a.now()); err != nil {
			a.hlsSegmentError(w, http.StatusForbidden, "missing, wrong or expired segment signature: fetch the playlist again")
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", segmentType)
	h.Set("ETag", seg.ETag)
	// A segment's name is never reused, so it may be cached well past the
	// window: an hour.
	h.Set("Cache-Control", "public, max-age=3600, immutable")
	a.metrics.hlsRequests.WithLabelValues("segment", "200").Inc()
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", seg.Created, bytes.NewReader(seg.Data))
	a.metrics.hlsBytes.Add(float64(cw.n))
}

func (a *API) hlsSegmentError(w http.ResponseWriter, code int, msg string) {
	a.metrics.hlsRequests.WithLabelValues("segment", strconv.Itoa(code)).Inc()
	textError(w, code, msg)
}

// hlsRefuse answers a playlist request that cannot be served.
func (a *API) hlsRefuse(w http.ResponseWriter, r *http.Request, key hub.Key, fromQuery bool, err error) {
	code, msg := http.StatusInternalServerError, "cannot serve this playlist"
	var je *hub.JoinError
	switch {
	case errors.As(err, &je):
		reason, m, _ := hub.ReasonOf(err)
		code, msg = refusalStatus(reason), m
		if errors.Is(err, server.ErrThrottled) {
			code = http.StatusTooManyRequests
			w.Header().Set("Retry-After", "60")
		}
		if reason == protocol.ReasonForbidden {
			msg += ": give it as ?password= or as the password of HTTP basic auth (any user name)"
			if !fromQuery {
				w.Header().Set("WWW-Authenticate", `Basic realm="fstream channel", charset="UTF-8"`)
			}
		}
		if code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "10")
		}
	case errors.Is(err, hls.ErrDisabled):
		code, msg = http.StatusNotFound, "HLS is off for this channel on this server"
	case errors.Is(err, hls.ErrNotMedia):
		code, msg = http.StatusNotFound, "this channel is not MPEG-TS, H.264 or H.265: no HLS"
	case errors.Is(err, hls.ErrNotReady):
		code, msg = http.StatusServiceUnavailable, "no segment yet: the stream has sent no keyframe"
		w.Header().Set("Retry-After", "2")
	case errors.Is(err, hls.ErrClosed):
		code, msg = http.StatusServiceUnavailable, "shutting down"
	case errors.Is(err, hub.ErrChannelEnded):
		code, msg = http.StatusNotFound, "the channel ended"
	case errors.As(err, new(*hub.EvictedError)):
		// The segmenter was dropped (the server shutting down, an
		// operator's kick); the next request starts another.
		code, msg = http.StatusServiceUnavailable, "the channel's segmenter stopped; try again"
		w.Header().Set("Retry-After", "1")
	}
	if code == http.StatusInternalServerError {
		a.log.Error("hls playlist failed", "user", key.User, "channel", key.Channel, "remote", r.RemoteAddr, "err", err)
	}
	a.metrics.hlsRequests.WithLabelValues("playlist", strconv.Itoa(code)).Inc()
	textError(w, code, msg)
}

// countingWriter counts the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// hlsLink is the HLS playlist URL path of a channel.
func hlsLink(key hub.Key) string {
	return channelPath("/hls/", key) + "/index.m3u8"
}
