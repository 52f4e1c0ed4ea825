// The dashboard's one page: inline CSS, JS and SVG, no external fetches, no framework. It polls
// /api/graph and redraws: namespaces as columns, workloads as circles coloured by data-plane mode,
// services as boxes, traffic edges labelled with rate, success and mTLS, DENY edges red.

import type { NodeMode } from './graph.ts';

export const MODE_COLOURS: Readonly<Record<NodeMode, string>> = {
  ambient: '#1c7ed6',
  waypoint: '#7048e8',
  sidecar: '#f08c00',
  proxyless: '#0ca678',
  none: '#868e96',
};
export const DENY_COLOUR = '#e03131';

export function dashboardPage(pollMs: number): string {
  const legend = Object.entries(MODE_COLOURS)
    .map(([mode, colour]) => `<span><i style="background:${colour}"></i>${mode}</span>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Weft mesh</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'">
<style>
body{font:13px system-ui,sans-serif;margin:0;color:#212529}
header{padding:8px 12px;border-bottom:1px solid #dee2e6;display:flex;gap:16px;align-items:center}
header h1{font-size:15px;margin:0}
.legend span{margin-right:10px}.legend i{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px}
#status{color:#495057}#status.err{color:${DENY_COLOUR}}
svg text{font-size:11px}
.edge path{fill:none;stroke:#495057;stroke-width:1.5}
.edge.backend path{stroke:#ced4da;stroke-dasharray:4 3;stroke-width:1}
.edge.idle path{stroke:#adb5bd}
.edge.denied path{stroke:${DENY_COLOUR};stroke-width:2.5}
.edge.denied text{fill:${DENY_COLOUR};font-weight:600}
.node.service rect{fill:#fff;stroke:#343a40}
.ns{font-weight:600;fill:#495057}
#proxies{padding:4px 12px;color:#495057}.proxy.denied,.proxy.down{color:${DENY_COLOUR}}
</style></head><body>
<header><h1>Weft mesh</h1><div class="legend">${legend}<span><i style="background:${DENY_COLOUR}"></i>DENY</span></div><div id="status">loading</div></header>
<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="100%" height="600"><defs>
<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#495057"/></marker>
<marker id="arrow-deny" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${DENY_COLOUR}"/></marker>
</defs><g id="edges"></g><g id="nodes"></g></svg>
<div id="proxies"></div>
<script>
(function () {
  var COLOURS = ${JSON.stringify(MODE_COLOURS)};
  var POLL_MS = ${JSON.stringify(pollMs)};
  var NS = 'http://www.w3.org/2000/svg';
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, attrs) {
    var t = el('text', Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = s;
    return t;
  }
  // Per namespace, three columns: callers (workloads no service selects, waypoints), services,
  // the workloads behind them; so most edges run left to right.
  var COL = 190, NS_GAP = 40, ROW = 58;
  function layout(nodes, edges) {
    var backends = {};
    edges.forEach(function (e) { if (e.kind === 'backend') backends[e.target] = true; });
    var byNs = {};
    nodes.forEach(function (n) { (byNs[n.namespace] = byNs[n.namespace] || []).push(n); });
    var pos = {}, names = Object.keys(byNs).sort(), height = 0, x0 = 90, heads = [];
    names.forEach(function (ns) {
      var cols = [[], [], []];
      byNs[ns].forEach(function (n) { cols[n.kind === 'service' ? 1 : backends[n.id] ? 2 : 0].push(n); });
      var used = cols.filter(function (c) { return c.length > 0; });
      used.forEach(function (c, i) {
        c.sort(function (a, b) { return a.name.localeCompare(b.name); });
        c.forEach(function (n, row) { pos[n.id] = { x: x0 + i * COL, y: 70 + row * ROW }; });
        height = Math.max(height, 70 + c.length * ROW);
      });
      heads.push({ ns: ns, x: x0 + ((used.length - 1) * COL) / 2 });
      x0 += used.length * COL + NS_GAP;
    });
    return { pos: pos, heads: heads, height: height, width: x0 };
  }
  function edgeLabel(e) {
    if (e.kind !== 'traffic') return '';
    var parts = [];
    if (e.requestsTotal > 0) {
      parts.push(e.rps.toFixed(1) + ' rps');
      if (e.successRate !== null) parts.push(Math.round(e.successRate * 100) + '%');
    } else parts.push(e.cps.toFixed(1) + ' conn/s');
    parts.push(e.mtls === 'mutual_tls' ? 'mTLS' : e.mtls === 'none' ? 'plaintext' : e.mtls === 'mixed' ? 'mTLS+plaintext' : 'TLS unknown');
    if (e.denied) parts.push('DENY');
    return parts.join(' \\u00b7 ');
  }
  function render(g) {
    var svg = document.getElementById('graph');
    var nodesG = document.getElementById('nodes'), edgesG = document.getElementById('edges');
    nodesG.textContent = ''; edgesG.textContent = '';
    var l = layout(g.nodes, g.edges);
    svg.setAttribute('height', String(Math.max(200, l.height + 20)));
    svg.setAttribute('width', String(Math.max(400, l.width)));
    l.heads.forEach(function (h) { text(nodesG, h.x, 28, h.ns, { class: 'ns', 'text-anchor': 'middle' }); });
    var pairs = {};
    g.edges.forEach(function (e) {
      var a = l.pos[e.source], b = l.pos[e.target];
      if (!a || !b) return;
      var k = [e.source, e.target].sort().join('|');
      var n = (pairs[k] = (pairs[k] || 0) + 1);
      // edges within one column bow out by their length, so they do not run over the nodes
      var bow = a.x === b.x ? Math.min(160, 30 + Math.abs(b.y - a.y) * 0.35) : 0;
      var bend = (bow + n * 14) * (e.source < e.target ? 1 : -1);
      var mx = (a.x + b.x) / 2 + bend, my = (a.y + b.y) / 2 - (b.x - a.x) * 0.12;
      var cls = 'edge ' + e.kind + (e.denied ? ' denied' : '') + (e.kind === 'traffic' && e.rps === 0 && e.cps === 0 && !e.denied ? ' idle' : '');
      var eg = el('g', { class: cls, 'data-id': e.id, 'data-source': e.source, 'data-target': e.target, 'data-denied': e.denied, 'data-mtls': e.mtls }, edgesG);
      el('path', { d: 'M' + a.x + ',' + a.y + ' Q' + mx + ',' + my + ' ' + b.x + ',' + b.y, 'marker-end': e.kind === 'traffic' ? (e.denied ? 'url(#arrow-deny)' : 'url(#arrow)') : '' }, eg);
      var label = edgeLabel(e);
      if (label) text(eg, (a.x + 2 * mx + b.x) / 4, (a.y + 2 * my + b.y) / 4 - 4, label, { class: 'edge-label', 'text-anchor': 'middle' });
      var title = el('title', {}, eg);
      title.textContent = e.source + ' -> ' + e.target + ': ' + e.requestsTotal + ' requests, ' + e.connectionsTotal + ' connections, ' + e.deniedTotal + ' denied';
    });
    g.nodes.forEach(function (n) {
      var p = l.pos[n.id];
      var ng = el('g', { class: 'node ' + n.kind, 'data-id': n.id, 'data-mode': n.mode || '', transform: 'translate(' + p.x + ',' + p.y + ')' }, nodesG);
      if (n.kind === 'service') el('rect', { x: -70, y: -13, width: 140, height: 26, rx: 6 }, ng);
      else el('circle', { r: 12, fill: COLOURS[n.mode] || COLOURS.none }, ng);
      text(ng, n.kind === 'service' ? 0 : 0, n.kind === 'service' ? 4 : 26, n.name, { 'text-anchor': 'middle', class: 'node-label' });
      var title = el('title', {}, ng);
      title.textContent = n.kind === 'service' ? 'service ' + n.name + '.' + n.namespace : n.namespace + '/' + n.name + ' (' + n.mode + ')';
    });
    // A proxy's policy refusals carry no source or destination in its metrics (ztunnel's L4
    // denies among them), so they show here, per proxy, not on an edge.
    var px = document.getElementById('proxies');
    px.textContent = 'proxies: ';
    g.proxies.forEach(function (p, i) {
      var span = document.createElement('span');
      span.className = 'proxy' + (p.ok ? '' : ' down') + (p.policyRejects > 0 ? ' denied' : '');
      span.setAttribute('data-name', p.name);
      span.textContent = (i > 0 ? ' \u00b7 ' : '') + p.name + (p.ok ? '' : ' (scrape failed: ' + p.error + ')') + (p.policyRejects > 0 ? ' (' + p.policyRejects + ' denied by policy)' : '');
      px.appendChild(span);
    });
  }
  function setStatus(s, err) {
    var st = document.getElementById('status');
    st.textContent = s;
    st.className = err ? 'err' : '';
  }
  function poll() {
    fetch('api/graph', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (g) {
        render(g);
        setStatus(g.error ? g.error : 'snapshot ' + (g.snapshotVersion || '-') + ', ' + new Date(g.generatedAt).toLocaleTimeString(), !!g.error);
        document.body.setAttribute('data-generated-at', String(g.generatedAt));
      })
      .catch(function (e) { setStatus('dashboard unreachable: ' + e.message, true); })
      .then(function () { setTimeout(poll, POLL_MS); });
  }
  poll();
})();
</script></body></html>
`;
}
