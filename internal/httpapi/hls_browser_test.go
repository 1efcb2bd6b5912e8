package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// choiceCases are the player page's playback choices (web/static/choose.js).
var choiceCases = []struct {
	mse, nativeHLS, hls bool
	forced              string
	want                string
}{
	{mse: true, nativeHLS: false, hls: true, want: "mpegts"},                    // Firefox, older Chrome
	{mse: true, nativeHLS: true, hls: true, want: "mpegts"},                     // Chrome 14x+, desktop Safari: lower latency
	{mse: false, nativeHLS: true, hls: true, want: "hls"},                       // Safari on iPhone
	{mse: false, nativeHLS: true, hls: false, want: "none"},                     // HLS off on the server
	{mse: false, nativeHLS: false, hls: true, want: "none"},                     // neither
	{mse: true, nativeHLS: true, hls: true, forced: "hls", want: "hls"},         // ?player=hls
	{mse: true, nativeHLS: false, hls: true, forced: "hls", want: "mpegts"},     // cannot: falls back
	{mse: true, nativeHLS: true, hls: false, forced: "hls", want: "mpegts"},     // HLS off: falls back
	{mse: false, nativeHLS: true, hls: true, forced: "mpegts", want: "hls"},     // no MSE: falls back
	{mse: true, nativeHLS: true, hls: true, forced: "nonsense", want: "mpegts"}, // unknown: ignored
}

// TestBrowserHLS runs the player page's choice function in Chromium over
// choiceCases, then plays a channel through the browser's own HLS
// (?player=hls: this Chromium has native HLS as well as MSE).
func TestBrowserHLS(t *testing.T) {
	needTool(t, "ffmpeg")
	browser := startBrowser(t)
	e := startHLSEnv(t, nil)
	e.hlsSource(t, "fier", "phone", "", "mpegts")

	t.Run("choice", func(t *testing.T) {
		ctx := newTab(t, browser, 20*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/play/fier/phone")); err != nil {
			t.Fatal(err)
		}
		pollJS(t, ctx, "choose.js", `typeof window.fstreamChoosePlayer === 'function'`, `document.readyState`)
		for _, tc := range choiceCases {
			in, _ := json.Marshal(map[string]any{"mse": tc.mse, "nativeHLS": tc.nativeHLS, "hls": tc.hls, "forced": tc.forced})
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.fstreamChoosePlayer(`+string(in)+`)`))
			if err != nil || got != tc.want {
				t.Errorf("choosePlayer(%s) = %q, %v; want %q", in, got, err, tc.want)
			}
		}
		link, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('hls-url').textContent`))
		if err != nil || !strings.HasSuffix(link, "/hls/fier/phone/index.m3u8") {
			t.Errorf("HLS link %q, %v", link, err)
		}
		if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.playing`)); got != "mpegts" {
			t.Errorf("this Chromium plays with %q, want mpegts", got)
		}
	})

	t.Run("native HLS plays", func(t *testing.T) {
		ctx := newTab(t, browser, 40*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/play/fier/phone?player=hls")); err != nil {
			t.Fatal(err)
		}
		const diag = `JSON.stringify({status: document.getElementById('status').textContent,
			playing: document.body.dataset.playing, src: document.querySelector('video').currentSrc,
			time: document.querySelector('video').currentTime,
			error: document.querySelector('video').error && document.querySelector('video').error.message})`
		pollJS(t, ctx, "native HLS playback", `document.body.dataset.playing === 'hls' &&
			document.querySelector('video').currentSrc.includes('/hls/fier/phone/index.m3u8') &&
			document.querySelector('video').currentTime > 1`, diag)
	})
}
