// Status page, cluster section: shown when this server is a node of a
// cluster (GET /api/v1/nodes answers). After each poll of the channel list
// (status.js sends it as the fstream:channels event) it lists the nodes,
// the cluster's channels with the nodes that carry them, and the channels
// this node pulls and from where. Every name comes from the directory, so
// it is set as text, never as markup.
'use strict';
(() => {
  const section = document.getElementById('cluster');
  const summary = document.getElementById('cluster-summary');
  const nodesBody = document.querySelector('#nodes tbody');
  const chansBody = document.querySelector('#cluster-channels tbody');
  const pullsList = document.getElementById('pulls');
  const errorEl = document.getElementById('cluster-error');
  const nodesLink = document.getElementById('nodes-link');
  let standalone = false; // /api/v1/nodes said 404: not in a cluster
  let busy = false;

  function cell(cls, text) {
    const td = document.createElement('td');
    td.className = cls;
    td.textContent = text;
    return td;
  }

  function since(iso) {
    const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
  }

  function nodeRow(n) {
    const tr = document.createElement('tr');
    tr.className = 'node' + (n.self ? ' self' : '');
    tr.dataset.node = n.name;
    tr.appendChild(cell('name', n.self ? `${n.name} (this node)` : n.name));
    tr.appendChild(cell('addr', n.addr));
    tr.appendChild(cell('watchers num', String(n.watchers)));
    tr.appendChild(cell('channels num', String(n.channels)));
    tr.appendChild(cell('pulls num', String(n.pulls)));
    tr.appendChild(cell('since num', since(n.since)));
    return tr;
  }

  function channelRow(c) {
    const tr = document.createElement('tr');
    tr.className = 'cluster-channel';
    tr.dataset.user = c.user;
    tr.dataset.channel = c.channel;
    tr.appendChild(cell('name', c.user + '/' + c.channel));
    tr.appendChild(cell('origin', c.origin));
    tr.appendChild(cell('carriers', c.nodes.map((n) =>
      (n.upstream ? `${n.node} ← ${n.upstream}` : n.node) + ': ' + n.watchers).join(', ')));
    tr.appendChild(cell('watchers num', String(c.cluster_watchers || 0)));
    return tr;
  }

  function render(nodes, channels) {
    const self = (nodes.find((n) => n.self) || {}).name;
    const clustered = channels.filter((c) => c.origin);
    summary.textContent = `This node: ${self || '?'}; ${nodes.length} node${nodes.length === 1 ? '' : 's'}, ` +
      `${clustered.length} channel${clustered.length === 1 ? '' : 's'} in the cluster.`;
    nodesBody.replaceChildren(...nodes.map(nodeRow));
    chansBody.replaceChildren(...clustered.map(channelRow));
    const pulls = [];
    for (const c of clustered) {
      for (const n of c.nodes) {
        if (n.node === self && n.upstream) {
          const li = document.createElement('li');
          li.dataset.user = c.user;
          li.dataset.channel = c.channel;
          li.textContent = `${c.user}/${c.channel} from ${n.upstream}` + (n.upstream === c.origin ? ' (the origin)' : ` (a relay; origin ${c.origin})`);
          pulls.push(li);
        }
      }
    }
    if (pulls.length === 0) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'nothing';
      pulls.push(li);
    }
    pullsList.replaceChildren(...pulls);
  }

  document.addEventListener('fstream:channels', async (ev) => {
    if (standalone || busy) return;
    busy = true;
    try {
      const res = await fetch('/api/v1/nodes', {cache: 'no-store'});
      if (res.status === 404) { standalone = true; section.dataset.state = 'standalone'; return; }
      if (!res.ok) throw new Error(`${res.status}: ${(await res.text()).trim()}`);
      render((await res.json()).nodes, ev.detail);
      section.hidden = false;
      section.dataset.state = 'cluster';
      nodesLink.hidden = false;
      errorEl.hidden = true;
    } catch (e) {
      errorEl.textContent = 'Cannot load the cluster: ' + e.message;
      errorEl.hidden = false;
    } finally {
      busy = false;
    }
  });
})();
