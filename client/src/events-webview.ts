/**
 * The Events panel's page: a table of a load's ring/perf buffer records whose columns are the
 * record type's fields ("read at": when the target's consumer read the record; for perf buffers
 * also "written at", the kernel's sample time, and the cpu), one map at a time or all of them; Pause,
 * Clear, Decode As…; the rate and drop counters. It keeps the last HISTORY rows and draws only
 * the rows in view (fixed row height), so a flood costs the same as a trickle. Everything is
 * written with textContent: record bytes never become markup. Strict CSP: only this page's
 * nonce'd style and script run.
 */

import { webviewPage } from './webview-page';

/** Rows the page keeps; older ones go. */
export const HISTORY = 10_000;

export function eventsHtml(nonce: string, cspSource: string, title: string): string {
  return webviewPage({
    nonce,
    cspSource,
    title,
    style: STYLE,
    script: `const HISTORY = ${HISTORY};\n${SCRIPT}`,
    body: `<div id="bar">
  <label>Map <select id="map" aria-label="Map"></select></label>
  <button id="pause">Pause</button><button id="clear">Clear</button><button id="decode">Decode As…</button>
  <span id="type" class="muted"></span>
  <span id="counters"></span>
</div>
<div id="head" class="row head" role="row"></div>
<div id="scroll"><div id="spacer"></div><div id="rows"></div></div>
<div id="empty" class="muted">Waiting for events…</div>`,
  });
}

const STYLE = `
body { padding: 0; margin: 0; font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); display: flex; flex-direction: column; height: 100vh; overflow: hidden; }
#bar { display: flex; gap: 8px; align-items: center; padding: 6px 8px; flex-wrap: wrap; border-bottom: 1px solid var(--vscode-panel-border); }
#counters { margin-left: auto; font-variant-numeric: tabular-nums; }
#counters b { font-weight: 600; }
.drop { color: var(--vscode-errorForeground); }
button { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); border: none; padding: 3px 10px; cursor: pointer; }
button:hover { background: var(--vscode-button-secondaryHoverBackground); }
button.on { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
select { background: var(--vscode-dropdown-background); color: var(--vscode-dropdown-foreground); border: 1px solid var(--vscode-dropdown-border); }
.muted { color: var(--vscode-descriptionForeground); }
.row { display: grid; height: 22px; line-height: 22px; white-space: nowrap; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
.row > span { overflow: hidden; text-overflow: ellipsis; padding: 0 6px; border-right: 1px solid var(--vscode-panel-border); }
.head { font-weight: 600; background: var(--vscode-editorGroupHeader-tabsBackground); border-bottom: 1px solid var(--vscode-panel-border); font-family: var(--vscode-font-family); }
#scroll { flex: 1; overflow: auto; position: relative; }
#rows { position: absolute; top: 0; left: 0; right: 0; }
#rows .row:nth-child(odd) { background: var(--vscode-list-hoverBackground); }
#empty { padding: 8px; }
`;

// Plain JavaScript for the webview (no modules, no eval).
const SCRIPT = String.raw`
const vscode = acquireVsCodeApi();
const ROW = 22;
let maps = [];
let rows = [];
let paused = false, skipped = 0, done = false, counters = undefined;
let selected = '';
let drawPending = false;
const $ = (id) => document.getElementById(id);
const scroll = $('scroll');

function time(ms) {
  const d = new Date(ms);
  const p = (n, w) => String(n).padStart(w, '0');
  return p(d.getHours(), 2) + ':' + p(d.getMinutes(), 2) + ':' + p(d.getSeconds(), 2) + '.' + p(d.getMilliseconds(), 3);
}
function cell(v) {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
function mapOf(name) { return maps.find((m) => m.name === name); }
function visibleRows() { return selected ? rows.filter((r) => r.map === selected) : rows; }

/**
 * The columns for the selected map: read at (ring buffer records carry no time of their own),
 * (written at and cpu for perf samples), its fields, else the keys of its first record, else data.
 */
function columns() {
  const m = mapOf(selected);
  const cols = ['read at'];
  if (!m || m.kind === 'perf') cols.push('written at', 'cpu');
  if (!m) cols.push('map');
  let fields = m && m.fields.length ? m.fields : [];
  if (m && !fields.length) {
    const first = rows.find((r) => r.map === selected && r.data !== undefined && r.data !== null && typeof r.data === 'object');
    if (first) fields = Object.keys(first.data);
  }
  if (fields.length) return cols.concat(fields.map((f) => 'field:' + f));
  return cols.concat(['data']);
}
function value(r, c) {
  if (c === 'read at') return time(r.time);
  if (c === 'written at') return r.kernelTime === undefined ? '' : time(r.kernelTime);
  if (c === 'cpu') return r.cpu === undefined ? '' : String(r.cpu);
  if (c === 'map') return r.map;
  if (c === 'data') return r.hex !== undefined ? r.hex : cell(r.data);
  const f = c.slice(6);
  if (r.hex !== undefined) return '';
  return r.data && typeof r.data === 'object' ? cell(r.data[f]) : '';
}
function grid(cols) {
  return cols.map((c) => (c === 'read at' || c === 'written at' ? '130px' : c === 'cpu' ? '48px' : c === 'map' ? '120px' : 'minmax(80px, 1fr)')).join(' ');
}

function drawHead() {
  const cols = columns();
  const head = $('head');
  head.replaceChildren();
  head.style.gridTemplateColumns = grid(cols);
  for (const c of cols) {
    const s = document.createElement('span');
    s.textContent = c.startsWith('field:') ? c.slice(6) : c;
    s.setAttribute('role', 'columnheader');
    head.appendChild(s);
  }
  const m = mapOf(selected);
  $('type').textContent = m ? (m.type ? 'struct ' + m.type + ' (' + m.how + ')' : 'no record type: hex') : '';
  $('decode').disabled = !m;
}

function draw() {
  drawPending = false;
  const list = visibleRows();
  const cols = columns();
  const atBottom = scroll.scrollTop + scroll.clientHeight >= scroll.scrollHeight - ROW * 2;
  $('spacer').style.height = list.length * ROW + 'px';
  if (atBottom && !paused) scroll.scrollTop = scroll.scrollHeight;
  const first = Math.max(0, Math.floor(scroll.scrollTop / ROW) - 5);
  const last = Math.min(list.length, first + Math.ceil(scroll.clientHeight / ROW) + 10);
  const box = $('rows');
  box.style.transform = 'translateY(' + first * ROW + 'px)';
  const tpl = grid(cols);
  const out = [];
  for (let i = first; i < last; i++) {
    const el = document.createElement('div');
    el.className = 'row';
    el.setAttribute('role', 'row');
    el.style.gridTemplateColumns = tpl;
    for (const c of cols) {
      const s = document.createElement('span');
      s.textContent = value(list[i], c);
      s.title = s.textContent;
      el.appendChild(s);
    }
    out.push(el);
  }
  box.replaceChildren(...out);
  $('empty').style.display = list.length ? 'none' : '';
  drawCounters();
}
function later() { if (!drawPending) { drawPending = true; requestAnimationFrame(draw); } }

function drawCounters() {
  const el = $('counters');
  el.replaceChildren();
  const add = (text, cls) => { const s = document.createElement('span'); s.textContent = text; if (cls) s.className = cls; el.appendChild(s); };
  if (!counters) return add(done ? 'stopped' : '');
  const c = counters;
  add(c.rate.toLocaleString() + ' events/s · ' + c.records.toLocaleString() + ' read · ' + c.shown.toLocaleString() + ' shown · ');
  add('dropped ' + c.dropped.toLocaleString(), c.dropped ? 'drop' : '');
  add(' · lost ' + c.lost.toLocaleString(), c.lost ? 'drop' : '');
  if (paused) add(' · paused (' + skipped.toLocaleString() + ' not kept)');
  if (done) add(' · stopped');
  el.title = 'dropped: records the target or the server could not pass on (queue full, more than 5000/s); lost: perf samples the kernel lost' +
    Object.entries(c.lostByMap).map(([m, n]) => '\n' + m + ': ' + n + ' lost').join('');
  el.setAttribute('data-rate', String(c.rate));
  el.setAttribute('data-dropped', String(c.dropped));
}

function setMaps(list) {
  maps = list;
  const sel = $('map');
  sel.replaceChildren();
  for (const m of maps) {
    const o = document.createElement('option');
    o.value = m.name;
    o.textContent = m.name + ' (' + (m.kind === 'perf' ? 'perf buffer' : 'ring buffer') + ')';
    sel.appendChild(o);
  }
  if (maps.length > 1) {
    const o = document.createElement('option');
    o.value = '';
    o.textContent = 'all maps';
    sel.appendChild(o);
  }
  if (!maps.some((m) => m.name === selected)) selected = maps.length ? maps[0].name : '';
  sel.value = selected;
  drawHead();
  later();
}

window.addEventListener('message', (e) => {
  const m = e.data;
  if (m.type === 'init') { done = false; setMaps(m.maps); }
  else if (m.type === 'maps') setMaps(m.maps);
  else if (m.type === 'events') {
    counters = m.counters;
    if (m.done) done = true;
    if (paused) skipped += m.rows.length;
    else if (m.rows.length) {
      rows.push(...m.rows);
      if (rows.length > HISTORY) rows.splice(0, rows.length - HISTORY);
      if (!mapOf(selected) || !mapOf(selected).fields.length) drawHead();
    }
    later();
  }
});
$('map').addEventListener('change', (e) => { selected = e.target.value; drawHead(); scroll.scrollTop = scroll.scrollHeight; later(); });
$('pause').addEventListener('click', () => {
  paused = !paused;
  skipped = 0;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
  $('pause').classList.toggle('on', paused);
  later();
});
$('clear').addEventListener('click', () => { rows = []; drawHead(); later(); });
$('decode').addEventListener('click', () => { if (selected) vscode.postMessage({ type: 'decode', map: selected }); });
scroll.addEventListener('scroll', later);
window.addEventListener('resize', later);
vscode.postMessage({ type: 'ready' });
`;
