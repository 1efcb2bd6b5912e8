package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshots = flag.String("screenshots", "", "also save the browser tests' screenshots in this folder")

// startBrowser starts headless Chromium for the test, or skips the test
// when it is not installed.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium installed (CI installs Debian's chromium package)")
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 700),
	)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// newTab opens a tab whose actions time out together.
func newTab(t *testing.T, browser context.Context, timeout time.Duration) context.Context {
	t.Helper()
	tab, cancelTab := chromedp.NewContext(browser)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, timeout)
	t.Cleanup(func() {
		cancel()
		cancelTab()
	})
	return ctx
}

// pollJS evaluates expr until it returns true or the context ends, then
// returns the last value of diag for the failure message.
func pollJS(t *testing.T, ctx context.Context, what, expr, diag string) {
	t.Helper()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			d, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[[]byte](diag))
			t.Fatalf("timed out waiting for %s (last error %v); page state: %s", what, err, d)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestBrowser opens the status page and the player in headless Chromium.
func TestBrowser(t *testing.T) {
	needTool(t, "ffmpeg")
	browser := startBrowser(t)
	e := startEnv(t, envOptions{sampler: 250 * time.Millisecond})
	e.ffmpegLive(t, "fier", "live", "")
	e.broadcast(t, "other", "locked", "pw")

	t.Run("status page", func(t *testing.T) {
		ctx := newTab(t, browser, 30*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/")); err != nil {
			t.Fatal(err)
		}
		// Wait until both rows are drawn and the stream's format is known.
		pollJS(t, ctx, "two channel rows",
			`document.querySelectorAll('#channels tbody tr.channel').length === 2 &&
			 document.querySelector('tr.channel[data-channel="live"] td.format').textContent.startsWith('mpegts') &&
			 document.querySelector('tr.channel[data-channel="live"] td.graph polyline.in').getAttribute('points').split(' ').length >= 3`,
			`document.body.innerHTML`)
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		saveScreenshot(t, "status.png", shot)
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("screenshot is not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 200 {
			t.Errorf("screenshot is %v", b)
		}
		// Compare the structure of the page, not its pixels.
		dom, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](statusStructureJS))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, dom, "", "  "); err != nil {
			t.Fatal(err)
		}
		out.WriteByte('\n')
		golden(t, "status_dom.golden", out.Bytes())
	})

	t.Run("player plays", func(t *testing.T) {
		ctx := newTab(t, browser, 40*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/play/fier/live")); err != nil {
			t.Fatal(err)
		}
		codecs, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.MediaSource !== undefined && MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"')`))
		if err != nil || !codecs {
			t.Fatalf("this Chromium cannot play H.264/AAC through Media Source Extensions (%v)", err)
		}
		const diag = `JSON.stringify({status: document.getElementById('status').textContent,
			time: document.querySelector('video').currentTime,
			frames: document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames,
			error: document.querySelector('video').error && document.querySelector('video').error.message,
			readyState: document.querySelector('video').readyState})`
		pollJS(t, ctx, "decoded frames",
			`document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames > 0 &&
			 document.querySelector('video').currentTime > 0`, diag)
		start, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('video').currentTime`))
		if err != nil {
			t.Fatal(err)
		}
		// Playback goes on: currentTime moves past where it was.
		pollJS(t, ctx, "currentTime to advance",
			`document.querySelector('video').currentTime > `+jsFloat(start+0.5), diag)
		hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.getElementById('password-form')).display === 'none'`))
		if err != nil || !hidden {
			t.Errorf("the player of an open channel shows the password prompt (%v)", err)
		}
		if n := e.srv.Watchers("fier", "live"); n != 1 {
			t.Errorf("the player is one of %d watchers, want 1", n)
		}
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			saveScreenshot(t, "player.png", shot)
		}
	})

	t.Run("password prompt", func(t *testing.T) {
		ctx := newTab(t, browser, 30*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/play/other/locked")); err != nil {
			t.Fatal(err)
		}
		const diag = `JSON.stringify({status: document.getElementById('status').textContent, form: !document.getElementById('password-form').hidden})`
		pollJS(t, ctx, "the password prompt",
			`!document.getElementById('password-form').hidden &&
			 document.getElementById('status').textContent === 'This channel needs a password.' &&
			 document.querySelector('video').readyState === 0`, diag)
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("#password"))); err != nil {
			t.Fatal(err)
		}
		if n := e.srv.Watchers("other", "locked"); n != 0 {
			t.Errorf("the prompt joined the channel: %d watchers", n)
		}
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			saveScreenshot(t, "password.png", shot)
		}
		// A wrong password is refused and asked for again.
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.ID("#password"), "wrong"),
			// A click, as a person would: form.submit() would skip the
			// page's submit handler.
			chromedp.Click(chromedp.CSS("#password-form button")),
		); err != nil {
			t.Fatal(err)
		}
		pollJS(t, ctx, "the wrong-password message",
			`!document.getElementById('password-form').hidden &&
			 document.getElementById('status').textContent === 'Wrong password.'`, diag)
	})
}

// statusStructureJS describes the status page's structure with the values
// that change from run to run checked and replaced.
const statusStructureJS = `(() => {
  const text = (el, sel) => { const n = el.querySelector(sel); return n ? n.textContent : null; };
  const rate = /^\d+(\.\d+)? (b|kb|Mb)\/s$/;
  return {
    title: document.title,
    headers: [...document.querySelectorAll('#channels thead th')].map((th) => th.textContent),
    summary: text(document, '#summary'),
    empty_hidden: document.getElementById('empty').hidden,
    error_hidden: document.getElementById('error').hidden,
    updated_set: text(document, '#updated') !== 'never',
    rows: [...document.querySelectorAll('#channels tbody tr')].map((tr) => ({
      class: tr.className,
      user: tr.dataset.user,
      channel: tr.dataset.channel,
      cells: [...tr.cells].map((td) => td.className),
      link: tr.querySelector('td.name a').getAttribute('href'),
      name: text(tr, 'td.name a'),
      locked: text(tr, 'td.name .lock'),
      state: text(tr, 'td.name .state'),
      format: text(tr, 'td.format'),
      watchers: text(tr, 'td.watchers'),
      rate_in_ok: rate.test(text(tr, 'td.rate-in')),
      rate_out_ok: rate.test(text(tr, 'td.rate-out')),
      graph: [...tr.querySelectorAll('td.graph svg > polyline')].map((p) => p.getAttribute('class')),
      uptime_ok: /^(\d+h )?(\d+m )?\d+s$|^\d+h \d+m$/.test(text(tr, 'td.uptime')),
      broadcaster_ok: /^127\.0\.0\.1:\d+$/.test(text(tr, 'td.broadcaster')),
    })),
  };
})()`

func jsFloat(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// saveScreenshot keeps a screenshot in the test's temporary folder, and in
// the -screenshots folder when one is given.
func saveScreenshot(t *testing.T, name string, b []byte) {
	t.Helper()
	dirs := []string{t.TempDir()}
	if *screenshots != "" {
		dirs = append(dirs, *screenshots)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
			t.Errorf("save screenshot: %v", err)
		}
	}
}
