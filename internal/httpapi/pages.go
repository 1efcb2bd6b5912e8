package httpapi

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

// web holds the pages, their scripts and styles, and the vendored player
// (see web/vendor/README.md). The vendor folder's README and update script
// are not embedded.
//
//go:embed web/index.html web/play.html web/static
//go:embed web/vendor/mpegts.js web/vendor/LICENSE web/vendor/mpegts.js.LICENSE.txt
var web embed.FS

// contentSecurityPolicy confines the pages to their own scripts and styles.
// mpegts.js feeds the <video> element from a MediaSource blob: URL.
const contentSecurityPolicy = "default-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'"

// playTemplate renders the player page.
var playTemplate = template.Must(template.ParseFS(web, "web/play.html"))

// playPage is what the player page needs to know about its channel. The
// page is public, so it says no more than /watch would.
type playPage struct {
	User, Channel string
	WatchURL      string
	// HLSURL is the channel's HLS playlist path; empty when HLS is off.
	HLSURL    string
	Protected bool
	Live      bool
}

// assetHandler serves the embedded folder dir under prefix.
func assetHandler(prefix, dir string) http.Handler {
	sub, err := fs.Sub(web, dir)
	if err != nil {
		panic(err) // dir is a constant that names an embedded folder
	}
	files := http.StripPrefix(prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Embedded files have no modification time to revalidate with;
		// they change only with the binary.
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}

func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
}

// statusPage serves the status page; its script polls the JSON API.
func (a *API) statusPage(w http.ResponseWriter, _ *http.Request) {
	b, err := web.ReadFile("web/index.html")
	if err != nil {
		textError(w, http.StatusInternalServerError, "status page missing from the binary")
		return
	}
	pageHeaders(w)
	w.Write(b)
}

// play serves the player page of a channel, live or not: a page for a
// channel that is not live waits for it.
func (a *API) play(w http.ResponseWriter, r *http.Request) {
	key, err := keyOf(r)
	if err != nil {
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	p := playPage{User: key.User, Channel: key.Channel, WatchURL: channelPath("/watch/", key)}
	if a.hls != nil && a.hls.Enabled(key) {
		p.HLSURL = hlsLink(key)
	}
	if ch := a.srv.Hub().Channel(key); ch != nil {
		in := ch.Info()
		p.Protected, p.Live = in.Protected, in.Stats.Live
	} else if e, ok := a.remoteEntry(r.Context(), key); ok {
		p.Protected, p.Live = e.HasPassword(), true
	}
	var buf bytes.Buffer
	if err := playTemplate.Execute(&buf, p); err != nil {
		a.log.Error("player page", "err", err)
		textError(w, http.StatusInternalServerError, "cannot render the player page")
		return
	}
	pageHeaders(w)
	w.Write(buf.Bytes())
}
