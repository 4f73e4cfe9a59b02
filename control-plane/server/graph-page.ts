// The mesh graph's HTTP side: GET /graph, one self-contained HTML page (inline CSS and JS drawing SVG; nothing
// fetched but /graph.json, which its Content-Security-Policy enforces) that redraws every scrape interval, and
// GET /graph.json, the graph itself (mesh-graph.ts). The page's script only reads the JSON and never writes HTML.

import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { GraphScraper } from './graph-scraper.ts';

export const GRAPH_PATH = '/graph';
export const GRAPH_JSON_PATH = '/graph.json';

const STYLE = `
body { font: 13px system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px; color: #1f2328; background: #f6f7f9; }
h1 { font-size: 17px; margin: 0 0 2px; }
#status { color: #57606a; margin-bottom: 6px; }
.legend { color: #57606a; margin-bottom: 8px; }
.legend > span { margin-right: 16px; }
.legend i { display: inline-block; width: 24px; height: 3px; vertical-align: middle; margin-right: 5px; }
.legend .healthy { background: #3e8635; } .legend .degraded { background: #f0ab00; } .legend .failure { background: #c9190b; }
.legend .stale { border-top: 2px dashed #8c959f; height: 0; }
svg { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
.node rect { fill: #fff; stroke: #57606a; stroke-width: 1.5; }
.node.service rect { fill: #eef4fb; stroke: #2b6cb0; }
.node.unknown rect { fill: #f3f4f6; stroke-dasharray: 4 3; }
.node.stale rect, .node.no-target rect { stroke: #8c959f; stroke-dasharray: 6 3; }
.node .name { font-weight: 600; font-size: 13px; fill: #1f2328; }
.node .sub { font-size: 11px; fill: #57606a; }
.edge { fill: none; stroke-width: 2.2; }
.edge.stale { stroke-dasharray: 7 4; opacity: 0.55; }
.label { font-size: 11px; fill: #1f2328; paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
.label.failure { fill: #a3150a; font-weight: 600; }
#proxies { margin-top: 8px; color: #57606a; }
#proxies .bad { color: #a3150a; }
`;

const SCRIPT = `
'use strict';
const NS = 'http://www.w3.org/2000/svg';
const COLORS = { healthy: '#3e8635', degraded: '#f0ab00', failure: '#c9190b' };
const NODE_W = 170, NODE_H = 46, COL_W = 370, ROW_H = 100, PAD = 28;
const svg = document.getElementById('graph');
const statusLine = document.getElementById('status');
const proxiesLine = document.getElementById('proxies');
let refreshMs = 5000;

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
const pct = (x) => (x * 100).toFixed(1) + ' %';
const ms = (x) => x === null ? 'n/a' : (x < 10 ? x.toFixed(1) : String(Math.round(x))) + ' ms';
function edgeLabel(e) {
  return e.request_rate.toFixed(1) + ' rps \\u00b7 ' + pct(e.error_rate) + ' err \\u00b7 p99 ' + ms(e.p99_ms);
}
function subtitle(n) {
  if (n.kind === 'unknown') return 'outside the mesh';
  if (n.kind === 'service') return 'service \\u00b7 ' + n.namespace;
  const parts = [n.namespace];
  if (n.version) parts.push(n.version);
  if (n.scrape === 'stale' || n.scrape === 'no-target') parts.push('stale');
  else if (n.scrape === 'pending') parts.push('not scraped yet');
  return parts.join(' \\u00b7 ');
}

function draw(g) {
  const pos = new Map(g.nodes.map((n) => [n.id, { x: PAD + n.column * COL_W, y: PAD + n.row * ROW_H }]));
  const cols = Math.max(1, ...g.nodes.map((n) => n.column + 1));
  const rows = Math.max(1, ...g.nodes.map((n) => n.row + 1));
  const backwards = g.edges.some((e) => pos.get(e.target).x <= pos.get(e.source).x);
  const bottom = PAD + (rows - 1) * ROW_H + NODE_H;
  svg.replaceChildren();
  svg.setAttribute('width', String(2 * PAD + (cols - 1) * COL_W + NODE_W));
  svg.setAttribute('height', String(bottom + PAD + (backwards ? 24 : 0)));
  const defs = el('defs', {});
  for (const [name, color] of Object.entries(COLORS)) {
    const m = el('marker', { id: 'arrow-' + name, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 4.5, markerHeight: 4.5, orient: 'auto' });
    m.append(el('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }));
    defs.append(m);
  }
  svg.append(defs);
  const labels = [];
  for (const e of g.edges) {
    const s = pos.get(e.source), t = pos.get(e.target);
    let d, lx, ly;
    if (t.x > s.x) {
      const x1 = s.x + NODE_W, y1 = s.y + NODE_H / 2, x2 = t.x - 2, y2 = t.y + NODE_H / 2, c = (x2 - x1) / 2;
      d = 'M' + x1 + ',' + y1 + ' C' + (x1 + c) + ',' + y1 + ' ' + (x2 - c) + ',' + y2 + ' ' + x2 + ',' + y2;
      lx = (x1 + x2) / 2; ly = (y1 + y2) / 2 - 7;
    } else if (e.source === e.target) {
      // A workload calling itself: a small loop on its right side.
      const x = s.x + NODE_W, y1 = s.y + 10, y2 = s.y + NODE_H - 10;
      d = 'M' + x + ',' + y1 + ' C' + (x + 45) + ',' + (y1 - 25) + ' ' + (x + 45) + ',' + (y2 + 25) + ' ' + (x + 2) + ',' + y2;
      lx = x + 40; ly = s.y - 8;
    } else {
      // A call back to an earlier column: a loop under every node.
      // Control points placed so that the curve's lowest point is 22 px under the lowest node.
      const x1 = s.x + NODE_W / 2 + 10, y1 = s.y + NODE_H, x2 = t.x + NODE_W / 2 - 10, y2 = t.y + NODE_H + 2;
      const low = (bottom + 22 - 0.25 * Math.max(y1, y2)) / 0.75;
      d = 'M' + x1 + ',' + y1 + ' C' + x1 + ',' + low + ' ' + x2 + ',' + low + ' ' + x2 + ',' + y2;
      lx = (x1 + x2) / 2; ly = bottom + 38;
    }
    const path = el('path', { d, class: 'edge ' + e.health + (e.stale ? ' stale' : ''), stroke: COLORS[e.health], 'marker-end': 'url(#arrow-' + e.health + ')',
      'data-source': e.source, 'data-target': e.target, 'data-health': e.health });
    path.append(el('title', {}, e.source + ' \\u2192 ' + e.target + '\\n' + e.services.join(', ') + '\\n' + e.requests + ' requests, ' + e.errors
      + ' 5xx in the last ' + g.window_seconds + ' s (' + e.reporter + ' reports)'));
    svg.append(path);
    labels.push(el('text', { x: lx, y: ly, 'text-anchor': 'middle', class: 'label ' + e.health, 'data-source': e.source, 'data-target': e.target }, edgeLabel(e)));
  }
  for (const n of g.nodes) {
    const p = pos.get(n.id);
    const node = el('g', { class: 'node ' + n.kind + ' ' + n.scrape, transform: 'translate(' + p.x + ',' + p.y + ')', 'data-id': n.id });
    node.append(el('rect', { width: NODE_W, height: NODE_H, rx: n.kind === 'service' ? NODE_H / 2 : 6 }));
    node.append(el('text', { x: NODE_W / 2, y: 19, 'text-anchor': 'middle', class: 'name' }, n.name));
    node.append(el('text', { x: NODE_W / 2, y: 35, 'text-anchor': 'middle', class: 'sub' }, subtitle(n)));
    node.append(el('title', {}, n.id));
    svg.append(node);
  }
  svg.append(...labels);
}

function describe(g) {
  const t = g.thresholds;
  document.getElementById('degraded').textContent = '5xx > ' + pct(t.degraded);
  document.getElementById('failure').textContent = '5xx > ' + pct(t.failure);
  const stale = g.proxies.filter((p) => p.status === 'stale' || p.status === 'no-target');
  statusLine.textContent = 'updated ' + new Date(g.generated_at).toLocaleTimeString() + ' \\u00b7 rates over the last ' + g.window_seconds
    + ' s \\u00b7 every proxy scraped every ' + g.interval_seconds + ' s \\u00b7 ' + g.proxies.length + ' proxies, ' + stale.length + ' stale';
  proxiesLine.replaceChildren(...stale.map((p) => {
    const line = document.createElement('div');
    line.className = 'bad';
    line.textContent = p.id + ': ' + (p.error || p.status);
    return line;
  }));
  if (g.nodes.length === 0) proxiesLine.prepend('No proxy has connected to this control plane yet.');
}

async function refresh() {
  try {
    const res = await fetch('graph.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const g = await res.json();
    refreshMs = Math.max(500, g.interval_seconds * 1000);
    draw(g);
    describe(g);
    document.body.dataset.generatedAt = g.generated_at;
  } catch (err) {
    statusLine.textContent = 'cannot read graph.json from the control plane: ' + err.message + ' (retrying)';
  }
  setTimeout(refresh, refreshMs);
}
refresh();
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only this page's own style and script run, and it reaches nothing but this control plane. */
const CONTENT_SECURITY_POLICY = `default-src 'none'; style-src ${hash(STYLE)}; script-src ${hash(SCRIPT)}; connect-src 'self'; base-uri 'none'; form-action 'none'`;

export const GRAPH_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nodevoy mesh graph</title>
<style>${STYLE}</style>
</head>
<body>
<h1>nodevoy mesh graph</h1>
<div id="status">loading the graph&hellip;</div>
<div class="legend"><span><i class="healthy"></i>healthy</span><span><i class="degraded"></i><span id="degraded">5xx &gt; 0.1 %</span></span><span><i class="failure"></i><span id="failure">5xx &gt; 5 %</span></span><span><i class="stale"></i>stale (its proxy does not answer)</span></div>
<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="400" height="100" role="img" aria-label="service graph"></svg>
<div id="proxies"></div>
<script>${SCRIPT}</script>
</body>
</html>
`;

/** Answers GET /graph and /graph.json; false for any other path. */
export function handleGraph(scraper: GraphScraper, url: URL, res: ServerResponse): boolean {
  if (url.pathname === GRAPH_PATH) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': CONTENT_SECURITY_POLICY }).end(GRAPH_PAGE);
    return true;
  }
  if (url.pathname === GRAPH_JSON_PATH) {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(scraper.json(), null, 2));
    return true;
  }
  return false;
}
