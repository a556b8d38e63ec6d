/**
 * The Map view's page: a loaded map's elements as a table (key, value as C text; per-CPU maps a
 * column per CPU and a Sum), refreshed by its panel; Refresh, Pause, a key filter kept across
 * refreshes, and for writable maps Edit/Delete per row and Add entry. It draws only the rows in
 * view (fixed row height), and the server sends at most LIMIT rows: past that a line says how
 * many more there are and that a filter narrows them. Everything is written with textContent:
 * map bytes never become markup. Strict CSP: only this page's nonce'd style and script run.
 */

import { webviewPage } from './webview-page';

/** Rows one refresh asks for (the server's cap per request). */
export const LIMIT = 1000;

export function mapViewHtml(nonce: string, cspSource: string, title: string): string {
  return webviewPage({
    nonce,
    cspSource,
    title,
    style: STYLE,
    script: `\n${SCRIPT}`,
    body: `<div id="bar">
  <button id="refresh" title="Read the map again">Refresh</button><button id="pause">Pause</button>
  <input id="filter" type="search" placeholder="Filter on key text" aria-label="Filter on key text">
  <button id="add" hidden>Add entry</button>
  <span id="status" class="muted"></span>
</div>
<div id="editor" hidden>
  <label>Key <input id="ekey" aria-label="Key" spellcheck="false"></label>
  <label class="grow">Value <input id="evalue" aria-label="Value" spellcheck="false"></label>
  <button id="save" class="on">Save</button><button id="cancel">Cancel</button>
  <div id="enote" class="muted"></div>
</div>
<div id="error" role="alert" hidden></div>
<div id="head" class="row head" role="row"></div>
<div id="scroll"><div id="spacer"></div><div id="rows"></div></div>
<div id="more" class="muted"></div>`,
  });
}

const STYLE = `
[hidden] { display: none !important; }
body { padding: 0; margin: 0; font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); display: flex; flex-direction: column; height: 100vh; overflow: hidden; }
#bar, #editor { display: flex; gap: 8px; align-items: center; padding: 6px 8px; flex-wrap: wrap; border-bottom: 1px solid var(--vscode-panel-border); }
#editor label { display: flex; gap: 4px; align-items: center; }
#editor .grow { flex: 1; }
#editor .grow input { flex: 1; }
#enote { width: 100%; }
#status { margin-left: auto; font-variant-numeric: tabular-nums; }
#error { color: var(--vscode-errorForeground); padding: 4px 8px; border-bottom: 1px solid var(--vscode-panel-border); white-space: pre-wrap; }
button { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); border: none; padding: 3px 10px; cursor: pointer; }
button:hover { background: var(--vscode-button-secondaryHoverBackground); }
button.on { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
input { background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border, transparent); padding: 2px 4px; font-family: var(--vscode-editor-font-family); }
.muted { color: var(--vscode-descriptionForeground); }
.row { display: grid; height: 22px; line-height: 22px; white-space: nowrap; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
.row > span { overflow: hidden; text-overflow: ellipsis; padding: 0 6px; border-right: 1px solid var(--vscode-panel-border); }
.row > span.num { text-align: right; }
.row > span.act { display: flex; gap: 4px; align-items: center; }
.row > span.act button { padding: 0 6px; height: 18px; line-height: 18px; }
.head { font-weight: 600; background: var(--vscode-editorGroupHeader-tabsBackground); border-bottom: 1px solid var(--vscode-panel-border); font-family: var(--vscode-font-family); }
#scroll { flex: 1; overflow: auto; position: relative; }
#rows { position: absolute; top: 0; left: 0; right: 0; }
#rows .row:nth-child(odd) { background: var(--vscode-list-hoverBackground); }
#more { padding: 4px 8px; border-top: 1px solid var(--vscode-panel-border); }
#more:empty { display: none; }
`;

// Plain JavaScript for the webview (no modules, no eval).
const SCRIPT = String.raw`
const vscode = acquireVsCodeApi();
const ROW = 22;
let data = { count: 0, truncated: false, elements: [], access: { update: false, delete: false, insert: false } };
let paused = false, editing = undefined, drawPending = false, filterTimer = 0;
const $ = (id) => document.getElementById(id);
const scroll = $('scroll');

function columns() {
  const cols = [{ id: 'key', name: 'Key', w: 'minmax(80px, 1fr)' }];
  const n = data.cpus || 0;
  if (n) {
    for (let i = 0; i < n; i++) cols.push({ id: 'cpu' + i, name: 'CPU ' + i, w: 'minmax(60px, 1fr)' });
    cols.push({ id: 'sum', name: 'Sum', w: 'minmax(80px, 1fr)' });
  } else cols.push({ id: 'value', name: 'Value', w: 'minmax(120px, 3fr)' });
  if (data.access && data.access.update) cols.push({ id: 'act', name: '', w: data.access.delete ? '110px' : '56px' });
  return cols;
}
function cellText(e, c) {
  if (c.id === 'key') return e.key;
  if (c.id === 'value') return e.value;
  if (c.id === 'sum') return e.sum === undefined ? '—' : e.sum;
  return e.cpus ? e.cpus[Number(c.id.slice(3))] || '' : '';
}
function cellClass(e, c) {
  return /^-?\d+$/.test(cellText(e, c)) ? 'num' : '';
}

function drawHead() {
  const cols = columns();
  const head = $('head');
  head.replaceChildren();
  head.style.gridTemplateColumns = cols.map((c) => c.w).join(' ');
  for (const c of cols) {
    const s = document.createElement('span');
    s.textContent = c.name;
    s.setAttribute('role', 'columnheader');
    if (c.id === 'sum') s.title = 'The CPUs\u2019 values added up; \u2014 when the value has parts that are not counters (names, enums, pointers)';
    head.appendChild(s);
  }
}

function actions(e) {
  const s = document.createElement('span');
  s.className = 'act';
  const edit = document.createElement('button');
  edit.textContent = 'Edit';
  edit.className = 'edit';
  edit.addEventListener('click', () => openEditor('edit', e.key, e.cpus ? e.cpus[0] : e.value));
  s.appendChild(edit);
  if (data.access.delete) {
    const del = document.createElement('button');
    del.textContent = 'Delete';
    del.className = 'delete';
    del.addEventListener('click', () => vscode.postMessage({ type: 'delete', key: e.key }));
    s.appendChild(del);
  }
  return s;
}

function draw() {
  drawPending = false;
  const list = data.elements;
  const cols = columns();
  $('spacer').style.height = list.length * ROW + 'px';
  const first = Math.max(0, Math.floor(scroll.scrollTop / ROW) - 5);
  const last = Math.min(list.length, first + Math.ceil(scroll.clientHeight / ROW) + 10);
  const box = $('rows');
  box.style.transform = 'translateY(' + first * ROW + 'px)';
  const tpl = cols.map((c) => c.w).join(' ');
  const out = [];
  for (let i = first; i < last; i++) {
    const e = list[i];
    const el = document.createElement('div');
    el.className = 'row';
    el.setAttribute('role', 'row');
    el.style.gridTemplateColumns = tpl;
    for (const c of cols) {
      if (c.id === 'act') { el.appendChild(actions(e)); continue; }
      const s = document.createElement('span');
      s.textContent = cellText(e, c);
      s.title = s.textContent;
      s.className = c.id + ' ' + cellClass(e, c);
      el.appendChild(s);
    }
    out.push(el);
  }
  box.replaceChildren(...out);
  drawMore();
}
function later() { if (!drawPending) { drawPending = true; requestAnimationFrame(draw); } }

function drawMore() {
  const d = data;
  const shown = d.elements.length;
  const total = d.matched !== undefined ? d.matched : d.count;
  let t = '';
  if (d.error) t = '';
  else if (!d.count) t = 'empty';
  else if (d.matched !== undefined && !d.matched) t = 'no key matches the filter';
  else if (total > shown) t = (total - shown).toLocaleString() + ' more' + (d.matched !== undefined ? ' matching' : '') + ': filter to narrow';
  if (d.scanned !== undefined && d.scanned < d.count) t += (t ? ' · ' : '') + 'the filter looked at the first ' + d.scanned.toLocaleString() + ' elements';
  $('more').textContent = t;
}

function status(ms, at) {
  const d = data;
  const n = (d.truncated ? 'more than ' : '') + d.count.toLocaleString() + ' element' + (d.count === 1 ? '' : 's');
  const m = d.matched !== undefined ? ' · ' + d.matched.toLocaleString() + ' match' : '';
  const when = at ? ' · read ' + new Date(at).toLocaleTimeString() + ' in ' + Math.round(ms) + ' ms' : '';
  $('status').textContent = n + m + when + (paused ? ' · paused' : '');
  $('status').setAttribute('data-count', String(d.count));
}

function showError(text) {
  $('error').hidden = !text;
  $('error').textContent = text || '';
}

function openEditor(mode, key, value) {
  editing = mode;
  $('editor').hidden = false;
  $('ekey').value = key;
  $('ekey').readOnly = mode === 'edit';
  $('evalue').value = value;
  $('enote').textContent = (mode === 'add' ? 'A new key' : 'Changes the value of this key') +
    ' \u2014 C-like text as the table shows it (' + "{ .field = 1, .name = \"x\" }" + ')' + (data.cpus ? '; written to every CPU' : '');
  showError('');
  (mode === 'add' ? $('ekey') : $('evalue')).focus();
}
function closeEditor() { editing = undefined; $('editor').hidden = true; }

window.addEventListener('message', (ev) => {
  const m = ev.data;
  if (m.type === 'data') {
    const oldCols = columns().map((c) => c.id).join();
    data = m.result;
    paused = m.paused;
    $('pause').textContent = paused ? 'Resume' : 'Pause';
    $('pause').classList.toggle('on', paused);
    $('add').hidden = !(data.access && data.access.insert);
    if (columns().map((c) => c.id).join() !== oldCols) drawHead();
    if (!editing) showError(data.error ? 'Cannot read the elements: ' + data.error : '');
    status(m.ms, m.at);
    later();
  } else if (m.type === 'written') {
    if (m.ok) { closeEditor(); showError(''); }
    else showError((m.field ? m.field + ': ' : '') + m.error.replace(/^field '[^']*': /, ''));
  } else if (m.type === 'paused') {
    paused = m.paused;
    $('pause').textContent = paused ? 'Resume' : 'Pause';
    $('pause').classList.toggle('on', paused);
    status();
  }
});
$('refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
$('pause').addEventListener('click', () => vscode.postMessage({ type: 'pause', paused: !paused }));
$('filter').addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => vscode.postMessage({ type: 'filter', filter: $('filter').value }), 200);
});
$('add').addEventListener('click', () => openEditor('add', '', ''));
$('cancel').addEventListener('click', () => { closeEditor(); showError(''); });
$('save').addEventListener('click', () =>
  vscode.postMessage({ type: 'update', key: $('ekey').value, value: $('evalue').value, flag: editing === 'add' ? 'noexist' : 'exist' }));
$('evalue').addEventListener('keydown', (e) => { if (e.key === 'Enter') $('save').click(); if (e.key === 'Escape') $('cancel').click(); });
scroll.addEventListener('scroll', later);
window.addEventListener('resize', later);
drawHead();
vscode.postMessage({ type: 'ready' });
`;
