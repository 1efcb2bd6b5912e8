// Player page: plays the channel's MPEG-TS stream from /watch through
// mpegts.js (Media Source Extensions), or its HLS playlist in the <video>
// element itself where there is no MSE (iPhone; choose.js decides), asks
// for the password of a protected channel, waits for a channel that is not
// live (yet, or any more), and says so when a live stream stops bringing
// data.
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
  const hlsPath = body.dataset.hls;
  const hlsEl = document.getElementById('hls-url');
  const copyBtn = document.getElementById('copy-hls');
  const forced = new URLSearchParams(location.search).get('player') || '';

  let player = null;
  let password = null; // null: none given
  let retryTimer = 0;
  let playing = false; // the video has played since the last start
  let frozen = false;  // no new data for frozenMs
  let lastEnd = -1;    // end of the buffered media at the last check
  let lastGrowth = 0;  // when it last grew (performance.now())

  urlEl.textContent = new URL(watchPath, location.href).href;
  if (hlsEl) hlsEl.textContent = new URL(hlsPath, location.href).href;
  if (copyBtn) {
    copyBtn.addEventListener('click', async () => {
      const link = hlsEl.textContent;
      try {
        await navigator.clipboard.writeText(link);
        copyBtn.textContent = 'Copied';
      } catch (e) { // no clipboard access (plain http, old browser): select it
        getSelection().selectAllChildren(hlsEl);
        copyBtn.textContent = 'Press Ctrl+C / ⌘C';
      }
      setTimeout(() => { copyBtn.textContent = 'Copy HLS link'; }, 2000);
    });
  }
  let native = false; // playing HLS in the <video> element itself

  function setStatus(text) { statusEl.textContent = text; }

  // streamURL always carries ?password=, empty when none was given: the
  // server then answers a protected channel with a plain 401, which this
  // page turns into its own prompt, instead of one that makes the browser
  // ask as well.
  function streamURL(path) {
    const u = new URL(path || watchPath, location.href);
    u.searchParams.set('password', password === null ? '' : password);
    return u.href;
  }

  function stop() {
    clearTimeout(retryTimer);
    playing = frozen = false;
    lastEnd = -1;
    lastGrowth = 0;
    if (native) {
      native = false;
      video.removeAttribute('src');
      video.load();
    }
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

  // startNative plays the HLS playlist in the <video> element: the
  // browser fetches it and its segments (signed for a protected channel).
  function startNative() {
    native = true;
    video.src = streamURL(hlsPath);
    setStatus('Connecting (HLS)…');
    const p = video.play();
    if (p && p.catch) p.catch(() => { if (native) setStatus('Press play to start.'); });
  }

  // The <video> element does not say why HLS failed: ask for the playlist.
  video.addEventListener('error', async () => {
    if (!native) return;
    let code = 0;
    try {
      code = (await fetch(streamURL(hlsPath), {cache: 'no-store'})).status;
    } catch (e) { /* unreachable: code stays 0 */ }
    onError('HLS', 'playback failed', {code});
  });

  function start() {
    stop();
    const choice = window.fstreamChoosePlayer(Object.assign(
      window.fstreamFeatures(video), {hls: !!hlsPath, forced}));
    body.dataset.playing = choice;
    if (choice === 'hls') {
      startNative();
      return;
    }
    if (choice !== 'mpegts') {
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
    if ((!player && !native) || !playing) return;
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
