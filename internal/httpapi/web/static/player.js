// Player page: plays the channel's MPEG-TS stream from /watch through
// mpegts.js (Media Source Extensions), asks for the password of a protected
// channel, waits for a channel that is not live (yet, or any more), and
// says so when a live stream stops bringing data.
'use strict';
(() => {
  const retryMs = 3000;
  // frozenMs without new data means the broadcaster stalled (or left and
  // the server holds its watchers for the grace period).
  const frozenMs = 2000;
  const body = document.body;
  const watchPath = body.dataset.watch;
  const video = document.getElementById('video');
  const statusEl = document.getElementById('status');
  const form = document.getElementById('password-form');
  const input = document.getElementById('password');
  const urlEl = document.getElementById('stream-url');

  let player = null;
  let password = null; // null: none given
  let retryTimer = 0;
  let playing = false; // the video has played since the last start
  let frozen = false;  // no new data for frozenMs
  let lastEnd = -1;    // end of the buffered media at the last check
  let lastGrowth = 0;  // when it last grew (performance.now())

  urlEl.textContent = new URL(watchPath, location.href).href;

  function setStatus(text) { statusEl.textContent = text; }

  // streamURL always carries ?password=, empty when none was given: the
  // server then answers a protected channel with a plain 401, which this
  // page turns into its own prompt, instead of one that makes the browser
  // ask as well.
  function streamURL() {
    const u = new URL(watchPath, location.href);
    u.searchParams.set('password', password === null ? '' : password);
    return u.href;
  }

  function stop() {
    clearTimeout(retryTimer);
    playing = frozen = false;
    lastEnd = -1;
    lastGrowth = 0;
    if (!player) return;
    const p = player;
    player = null;
    try {
      p.pause();
      p.unload();
      p.detachMediaElement();
      p.destroy();
    } catch (e) { /* already torn down */ }
  }

  function retryLater(text) {
    stop();
    setStatus(text);
    retryTimer = setTimeout(waitLive, retryMs);
  }

  function askPassword(wrong) {
    stop();
    form.hidden = false;
    setStatus(wrong ? 'Wrong password.' : 'This channel needs a password.');
    input.focus();
  }

  // waitLive asks with HEAD (which does not join) whether the channel is
  // live, and starts playing once it is.
  async function waitLive() {
    let res;
    try {
      res = await fetch(streamURL(), {method: 'HEAD', cache: 'no-store'});
    } catch (e) {
      retryLater('Cannot reach the server. Retrying…');
      return;
    }
    if (res.status === 404) {
      retryLater('Not live. Waiting for the broadcaster…');
    } else if (res.status === 401) {
      askPassword(false);
    } else {
      start();
    }
  }

  function onError(type, detail, info) {
    const code = info && info.code;
    if (code === 401) {
      askPassword(password !== null && password !== '');
    } else if (code === 404) {
      retryLater('Not live. Waiting for the broadcaster…');
    } else if (code === 503) {
      retryLater('The server is busy. Retrying…');
    } else {
      retryLater(`Playback stopped (${type}: ${detail}). Reconnecting…`);
    }
  }

  function start() {
    stop();
    if (!window.mpegts || !mpegts.getFeatureList().mseLivePlayback) {
      setStatus('This browser cannot play MPEG-TS live streams (it lacks Media Source Extensions). Open the stream URL below in VLC or mpv.');
      return;
    }
    player = mpegts.createPlayer(
      {type: 'mpegts', isLive: true, url: streamURL()},
      {enableStashBuffer: false, lazyLoad: false, liveBufferLatencyChasing: true, autoCleanupSourceBuffer: true},
    );
    player.on(mpegts.Events.ERROR, onError);
    player.on(mpegts.Events.LOADING_COMPLETE, () => retryLater('The stream ended. Waiting for it to come back…'));
    player.attachMediaElement(video);
    player.load();
    setStatus('Connecting…');
    const mine = player;
    const p = player.play();
    // play() also fails when the load fails; then onError has said why.
    if (p && p.catch) p.catch(() => { if (player === mine) setStatus('Press play to start.'); });
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    password = input.value;
    form.hidden = true;
    start();
  });
  video.addEventListener('playing', () => {
    playing = true;
    if (!frozen) setStatus('Playing live.');
  });

  // checkFlow notices a stream that stopped bringing data, and its return.
  function checkFlow() {
    if (!player || !playing) return;
    const b = video.buffered;
    const end = b.length ? b.end(b.length - 1) : 0;
    const now = performance.now();
    if (end !== lastEnd) {
      lastEnd = end;
      lastGrowth = now;
      if (frozen) {
        frozen = false;
        setStatus('Playing live.');
      }
    } else if (!frozen && now - lastGrowth > frozenMs) {
      frozen = true;
      setStatus('Waiting for the broadcaster…');
    }
  }
  setInterval(checkFlow, 250);

  if (body.dataset.protected === 'true') {
    askPassword(false);
  } else if (body.dataset.live === 'true') {
    start();
  } else {
    waitLive();
  }
})();
