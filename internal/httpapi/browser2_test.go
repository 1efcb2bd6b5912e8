package httpapi

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/server/servertest"
)

// TestBrowserStatusHistory: the status page draws a channel's graph with
// the bitrates the server kept from before it opened, labels its scale and
// has a legend; with no channel it says how to start one.
func TestBrowserStatusHistory(t *testing.T) {
	needTool(t, "ffmpeg")
	browser := startBrowser(t)

	t.Run("no channel", func(t *testing.T) {
		e := startEnv(t, envOptions{})
		ctx := newTab(t, browser, 30*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/")); err != nil {
			t.Fatal(err)
		}
		pollJS(t, ctx, "the empty state",
			`!document.getElementById('empty').hidden &&
			 document.getElementById('legend').hidden &&
			 document.getElementById('start-command').textContent.includes('fstream broadcast 127.0.0.1 --user NAME --channel CHANNEL')`,
			`document.getElementById('empty').outerHTML`)
	})

	t.Run("history", func(t *testing.T) {
		e := startEnv(t, envOptions{sampler: 100 * time.Millisecond})
		e.ffmpegLive(t, "fier", "live", "")
		ch := e.srv.Hub().Channel(hub.Key{User: "fier", Channel: "live"})
		const kept = 15
		servertest.WaitFor(t, "the server to keep some bitrates", func() bool {
			in, _, _ := e.api.rates.historyOf(ch)
			return len(in) >= kept
		})
		ctx := newTab(t, browser, 30*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/")); err != nil {
			t.Fatal(err)
		}
		// The first rendering already has them: the page asked the server,
		// it did not wait a second per point.
		pollJS(t, ctx, "the channel row", `document.querySelector('tr.channel[data-channel="live"]') !== null`, `document.body.innerHTML`)
		points, err := chromedp.Run(ctx, chromedp.Evaluate[int](
			`document.querySelector('tr.channel[data-channel="live"] td.graph polyline.in').getAttribute('points').split(' ').length`))
		if err != nil || points < kept {
			t.Fatalf("the first graph has %d points (%v), want the %d the server kept", points, err, kept)
		}
		pollJS(t, ctx, "the peak label and the legend",
			`/^peak \d+(\.\d+)? (b|kb|Mb)\/s$/.test(document.querySelector('tr.channel td.graph .peak').textContent) &&
			 !document.getElementById('legend').hidden &&
			 document.getElementById('legend').textContent.includes('bits per second')`,
			`document.querySelector('tr.channel td.graph').outerHTML + document.getElementById('legend').outerHTML`)
	})
}

// TestBrowserPlayerFreezesAndAsksOnce: the player says "Waiting for the
// broadcaster…" when the stream stops bringing data, and "Playing live."
// when it comes back; a channel that turns out protected is asked for its
// password once, by the page, never by the browser too.
func TestBrowserPlayerFreezesAndAsksOnce(t *testing.T) {
	needTool(t, "ffmpeg")
	browser := startBrowser(t)
	e := startEnv(t, envOptions{})

	t.Run("frozen stream", func(t *testing.T) {
		ff := e.ffmpegLive(t, "fier", "live", "")
		ctx := newTab(t, browser, 60*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/play/fier/live")); err != nil {
			t.Fatal(err)
		}
		const diag = `JSON.stringify({status: document.getElementById('status').textContent, time: document.querySelector('video').currentTime})`
		pollJS(t, ctx, "playing", `document.getElementById('status').textContent === 'Playing live.' && document.querySelector('video').currentTime > 0`, diag)
		if err := pauseProcess(ff.Process); err != nil {
			t.Skipf("cannot pause ffmpeg here: %v", err)
		}
		resumed := false
		defer func() {
			if !resumed {
				resumeProcess(ff.Process)
			}
		}()
		pollJS(t, ctx, "the frozen notice", `document.getElementById('status').textContent === 'Waiting for the broadcaster…'`, diag)
		resumeProcess(ff.Process)
		resumed = true
		pollJS(t, ctx, "playing again", `document.getElementById('status').textContent === 'Playing live.'`, diag)
	})

	t.Run("one password prompt", func(t *testing.T) {
		ctx := newTab(t, browser, 60*time.Second)
		var mu sync.Mutex
		var challenged, bare []string
		listen := chromedp.Listen(ctx, func(ev any) {
			if r, ok := ev.(*network.EventRequestWillBeSent); ok && strings.Contains(r.Request.URL, "/watch/") && !strings.Contains(r.Request.URL, "password=") {
				mu.Lock()
				bare = append(bare, r.Request.URL)
				mu.Unlock()
			}
			if r, ok := ev.(*network.EventResponseReceived); ok {
				for k := range r.Response.Headers {
					if strings.EqualFold(k, "WWW-Authenticate") {
						mu.Lock()
						challenged = append(challenged, r.Response.URL)
						mu.Unlock()
					}
				}
			}
		})
		if listen != nil {
			t.Fatal(listen)
		}
		// chromedp enables the network domain, whose events say which
		// headers each response had.
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/play/other/later")); err != nil {
			t.Fatal(err)
		}
		const diag = `JSON.stringify({status: document.getElementById('status').textContent, form: !document.getElementById('password-form').hidden})`
		pollJS(t, ctx, "the wait for the channel", `document.getElementById('status').textContent === 'Not live. Waiting for the broadcaster…'`, diag)
		e.broadcast(t, "other", "later", "pw")
		pollJS(t, ctx, "the page's prompt",
			`!document.getElementById('password-form').hidden && document.getElementById('status').textContent === 'This channel needs a password.'`, diag)
		mu.Lock()
		defer mu.Unlock()
		if len(challenged) > 0 {
			t.Errorf("responses to the player asked the browser for a password too: %q", challenged)
		}
		// Without ?password= the server would ask the browser (for VLC
		// and mpv, which have no page to ask in).
		if len(bare) > 0 {
			t.Errorf("the player asked for the stream without ?password=: %q", bare)
		}
	})
}
