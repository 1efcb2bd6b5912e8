// Status page: polls the JSON API once a second and renders one row per
// channel, with a graph of its bitrates over the last five minutes. The
// server keeps that history (GET /api/v1/bitrates), so the graphs are full
// as soon as the page opens; each poll then adds a point.
'use strict';
(() => {
  const pollMs = 1000;
  const historyLen = 300;
  const svgNS = 'http://www.w3.org/2000/svg';

  const tbody = document.querySelector('#channels tbody');
  const empty = document.getElementById('empty');
  const legend = document.getElementById('legend');
  const errorEl = document.getElementById('error');
  const summary = document.getElementById('summary');
  const updated = document.getElementById('updated');
  const history = new Map(); // "user/channel" -> {in: [], out: []}

  for (const el of document.querySelectorAll('#empty .host')) el.textContent = location.hostname || 'HOST';

  function fmtRate(bps) {
    if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mb/s';
    if (bps >= 1e3) return (bps / 1e3).toFixed(1) + ' kb/s';
    return Math.round(bps) + ' b/s';
  }

  function fmtBytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  function fmtDuration(s) {
    s = Math.floor(s);
    const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (h > 0) return h + 'h ' + m + 'm';
    if (m > 0) return m + 'm ' + sec + 's';
    return sec + 's';
  }

  function cell(cls, text) {
    const td = document.createElement('td');
    td.className = cls;
    if (text !== undefined) td.textContent = text;
    return td;
  }

  // graph draws the in and out bitrate history as two polylines scaled to
  // the larger of their maxima.
  function graph(h) {
    const w = 120, ht = 30;
    const svg = document.createElementNS(svgNS, 'svg');
    svg.setAttribute('viewBox', `0 0 ${w} ${ht}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const top = Math.max(1, ...h.in, ...h.out);
    for (const dir of ['in', 'out']) {
      const line = document.createElementNS(svgNS, 'polyline');
      line.setAttribute('class', dir);
      const vals = h[dir];
      const step = w / (historyLen - 1);
      const x0 = w - step * (vals.length - 1);
      line.setAttribute('points', vals.map((v, i) =>
        `${(x0 + i * step).toFixed(1)},${(ht - 1 - v / top * (ht - 2)).toFixed(1)}`).join(' '));
      svg.appendChild(line);
    }
    const title = document.createElementNS(svgNS, 'title');
    title.textContent = `bitrate in (blue) and out (green), last 5 minutes; peak ${fmtRate(top)}`;
    svg.appendChild(title);
    return svg;
  }

  // peak labels the graph's scale: its top is the larger peak of in and out.
  function peak(h) {
    const span = document.createElement('span');
    span.className = 'peak';
    span.textContent = 'peak ' + fmtRate(Math.max(0, ...h.in, ...h.out));
    return span;
  }

  function row(c) {
    const tr = document.createElement('tr');
    tr.className = 'channel';
    tr.dataset.user = c.user;
    tr.dataset.channel = c.channel;

    const name = cell('name');
    const a = document.createElement('a');
    a.href = c.play_url;
    a.textContent = c.user + '/' + c.channel;
    name.appendChild(a);
    if (c.protected) {
      const lock = document.createElement('span');
      lock.className = 'lock';
      lock.title = 'watchers need the channel password';
      lock.textContent = 'password';
      name.appendChild(lock);
    }
    const state = document.createElement('span');
    state.className = 'state ' + (c.live ? 'live' : 'waiting');
    state.textContent = c.live ? 'live' : 'waiting';
    name.appendChild(state);
    tr.appendChild(name);

    tr.appendChild(cell('format', [c.format || 'detecting', c.codec].filter(Boolean).join(' · ')));
    tr.appendChild(cell('watchers num', String(c.watchers)));
    const rin = cell('rate-in num', fmtRate(c.bitrate_in_bps));
    rin.title = fmtBytes(c.bytes_in) + ' in';
    tr.appendChild(rin);
    const rout = cell('rate-out num', fmtRate(c.bitrate_out_bps));
    rout.title = fmtBytes(c.bytes_out) + ' out';
    tr.appendChild(rout);
    const g = cell('graph');
    const h = history.get(c.user + '/' + c.channel);
    g.appendChild(graph(h));
    g.appendChild(peak(h));
    tr.appendChild(g);
    tr.appendChild(cell('uptime num', fmtDuration(c.uptime_seconds)));
    tr.appendChild(cell('broadcaster', c.broadcaster ? c.broadcaster.remote : '—'));
    return tr;
  }

  function render(channels) {
    const seen = new Set();
    for (const c of channels) {
      const key = c.user + '/' + c.channel;
      seen.add(key);
      let h = history.get(key);
      if (!h) { h = {in: [], out: []}; history.set(key, h); }
      h.in.push(c.bitrate_in_bps);
      h.out.push(c.bitrate_out_bps);
      if (h.in.length > historyLen) { h.in.shift(); h.out.shift(); }
    }
    for (const key of history.keys()) {
      if (!seen.has(key)) history.delete(key);
    }
    tbody.replaceChildren(...channels.map(row));
    empty.hidden = channels.length > 0;
    legend.hidden = channels.length === 0;
    const live = channels.filter((c) => c.live).length;
    const watchers = channels.reduce((n, c) => n + c.watchers, 0);
    summary.textContent = `${live} live channel${live === 1 ? '' : 's'}, ${watchers} watcher${watchers === 1 ? '' : 's'}`;
    const now = new Date();
    updated.dateTime = now.toISOString();
    updated.textContent = now.toLocaleTimeString();
    // cluster.js draws the cluster section from the same list.
    document.dispatchEvent(new CustomEvent('fstream:channels', {detail: channels}));
  }

  async function poll() {
    try {
      const res = await fetch('/api/v1/channels', {cache: 'no-store'});
      if (!res.ok) throw new Error(`${res.status}: ${(await res.text()).trim()}`);
      render((await res.json()).channels);
      errorEl.hidden = true;
    } catch (e) {
      errorEl.textContent = 'Cannot load the status: ' + e.message;
      errorEl.hidden = false;
    } finally {
      setTimeout(poll, pollMs);
    }
  }

  // seed fills the graphs with the bitrates the server kept.
  async function seed() {
    try {
      const res = await fetch('/api/v1/bitrates', {cache: 'no-store'});
      if (!res.ok) return;
      for (const c of (await res.json()).channels) {
        history.set(c.user + '/' + c.channel, {in: c.in_bps.slice(-historyLen), out: c.out_bps.slice(-historyLen)});
      }
    } catch (e) { /* the graphs start empty */ }
  }

  seed().finally(poll);
})();
