/**
 * The Load on All Targets page: a grid with the object's programs as rows and the targets as
 * columns. The header says each target's kind and kernel release (or why it could not be
 * used), its `__arg_ctx` mode and how many CO-RE relocations do not resolve there; each cell is
 * loaded (verified instructions), rejected (the error's first line and C line) or not attempted
 * (why), coloured. Below, per target, the CO-RE problems and the loader's notes. While targets
 * connect (a VM boots) each column says its stage. Clicks go back to the extension as typed
 * messages (open a cell, open a source line, re-run). Everything is written with textContent;
 * strict CSP: only this page's nonce'd style and script run.
 *
 * A fleet (more than six targets, when the server sends `fold`): one line per program instead
 * of one column per target — "loaded on 48/50; rejected on host-a, host-b: <error>" — each
 * group of targets a <details> that opens to its cells, which click as the grid's do (see
 * server/src/targets/matrix-fold.ts for why folding reads better than turning the grid).
 */

import { webviewPage } from './webview-page';

export function matrixHtml(nonce: string, cspSource: string, title: string): string {
  return webviewPage({
    nonce,
    cspSource,
    title,
    style: STYLE,
    script: `${SCRIPT}`,
    body: `<div id="bar">
  <button id="rerun" disabled>Re-run</button>
  <span id="object"></span>
  <span id="status" class="muted"></span>
</div>
<div id="progress"></div>
<table id="grid" role="grid"><thead id="head"></thead><tbody id="rows"></tbody></table>
<div id="notes"></div>`,
  });
}

const STYLE = `
body { padding: 0 8px 12px; margin: 0; font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); }
#bar { display: flex; gap: 10px; align-items: center; padding: 8px 0; flex-wrap: wrap; }
#object { font-weight: 600; }
.muted { color: var(--vscode-descriptionForeground); }
button { background: var(--vscode-button-background); color: var(--vscode-button-foreground); border: none; padding: 4px 12px; cursor: pointer; }
button:hover { background: var(--vscode-button-hoverBackground); }
button:disabled { opacity: 0.5; cursor: default; }
#progress { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 8px; }
#progress .stage { padding: 2px 8px; border: 1px solid var(--vscode-panel-border); border-radius: 3px; }
#progress .stage.failed { color: var(--vscode-errorForeground); }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--vscode-panel-border); padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: var(--vscode-editorGroupHeader-tabsBackground); font-weight: 600; min-width: 150px; }
th .release, th .kind { font-weight: normal; display: block; font-size: 90%; }
th .note { font-weight: normal; display: block; font-size: 90%; }
th .note.emulated { color: var(--vscode-editorWarning-foreground); }
th .note.core-bad { color: var(--vscode-editorWarning-foreground); }
th.failed { color: var(--vscode-errorForeground); }
td.program { font-family: var(--vscode-editor-font-family); font-weight: 600; }
td.cell { cursor: pointer; max-width: 320px; }
td.cell .what { font-weight: 600; display: block; }
td.cell .detail { display: block; font-size: 90%; overflow: hidden; text-overflow: ellipsis; }
td.cell .where { display: block; font-size: 90%; font-family: var(--vscode-editor-font-family); text-decoration: underline; }
td.loaded { background: color-mix(in srgb, var(--vscode-testing-iconPassed, #388a34) 22%, transparent); }
td.rejected { background: color-mix(in srgb, var(--vscode-testing-iconFailed, #c72e0f) 28%, transparent); }
td.not-attempted { background: color-mix(in srgb, var(--vscode-descriptionForeground, #888) 18%, transparent); }
td.failed { color: var(--vscode-errorForeground); cursor: default; }
td.pending { color: var(--vscode-descriptionForeground); cursor: default; }
td.cell:hover { outline: 1px solid var(--vscode-focusBorder); }
td.fold .summary { display: block; margin-bottom: 4px; }
td.fold details { margin: 2px 0; }
td.fold summary { cursor: pointer; }
td.fold summary.rejected { color: var(--vscode-errorForeground); }
td.fold .cells { display: flex; flex-wrap: wrap; gap: 4px; margin: 4px 0 4px 14px; }
td.fold .cells .cell { padding: 1px 6px; border: 1px solid var(--vscode-panel-border); border-radius: 3px; }
#notes h3 { margin: 14px 0 4px; font-size: 100%; }
#notes ul { margin: 0; padding-left: 18px; }
#notes li.link { cursor: pointer; }
#notes li.link:hover { text-decoration: underline; }
#notes pre { margin: 4px 0; white-space: pre-wrap; font-size: 90%; }
`;

// Plain JavaScript for the webview (no modules, no eval).
const SCRIPT = String.raw`
const vscode = acquireVsCodeApi();
const $ = (id) => document.getElementById(id);
let targets = [];
let stages = {};
let result = undefined;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function base(file) { return file.split('/').pop(); }

function drawProgress() {
  const box = $('progress');
  box.replaceChildren();
  if (result) return;
  for (const t of targets) {
    const s = stages[t.name] || 'waiting';
    const words = { waiting: 'waiting', connecting: t.kind === 'vm' ? 'booting…' : 'connecting…', loading: 'loading…', done: 'done', failed: 'failed' };
    const e = el('span', 'stage ' + s, t.name + ': ' + (words[s] || s));
    e.setAttribute('data-target', t.name);
    e.setAttribute('data-stage', s);
    box.appendChild(e);
  }
}

function headCell(t) {
  const th = el('th', t.answered ? '' : 'failed');
  th.setAttribute('data-target', t.name);
  th.setAttribute('role', 'columnheader');
  th.appendChild(el('span', 'name', t.name));
  th.appendChild(el('span', 'kind', t.kind));
  if (t.release) th.appendChild(el('span', 'release', t.release));
  if (!t.answered) th.appendChild(el('span', 'note', 'failed: ' + (t.error ? t.error.message.split('\n')[0] : '')));
  if (t.argCtx) th.appendChild(el('span', 'note argctx ' + t.argCtx, '__arg_ctx: ' + t.argCtx));
  if (t.core) {
    const n = t.core.problems.length;
    th.appendChild(el('span', 'note core' + (n ? ' core-bad' : ''), 'CO-RE: ' + (n ? n + ' of ' + t.core.relocations + ' do not resolve' : t.core.relocations + ' relocations resolve')));
  }
  th.title = t.name + (t.release ? ' (' + t.release + ')' : '') + ', ' + (t.ms / 1000).toFixed(1) + ' s';
  return th;
}

function bodyCell(t, p) {
  const td = el('td', 'cell');
  td.setAttribute('data-target', t.name);
  td.setAttribute('data-program', p.name);
  td.setAttribute('role', 'gridcell');
  if (!t.answered) {
    td.className = 'cell failed';
    td.setAttribute('data-status', 'failed');
    td.appendChild(el('span', 'what', 'target failed'));
    return td;
  }
  const c = t.cells.find((x) => x.program === p.name);
  if (!c) {
    td.className = 'cell pending';
    td.textContent = '-';
    return td;
  }
  td.classList.add(c.status);
  td.setAttribute('data-status', c.status);
  if (c.status === 'loaded') {
    td.appendChild(el('span', 'what', '✓ loaded'));
    td.appendChild(el('span', 'detail insns', c.verifiedInsns.toLocaleString() + ' insns verified'));
    td.title = 'Click: the program in its source';
  } else if (c.status === 'rejected') {
    td.appendChild(el('span', 'what', '✗ rejected'));
    // the row names the program and the link the line: the verifier's own words stay
    td.appendChild(el('span', 'detail', c.error.replace(/^program '[^']*' \(SEC\("[^"]*"\)\) was rejected by the verifier at \S+: /, '')));
    if (c.source) td.appendChild(el('span', 'where', base(c.source.file) + ':' + (c.source.line + 1)));
    td.title = c.error + '\nClick: the rejected line and the verifier walk on ' + t.name;
  } else {
    td.appendChild(el('span', 'what', '– not attempted'));
    td.appendChild(el('span', 'detail', c.why));
    td.title = c.why;
  }
  td.addEventListener('click', () => vscode.postMessage({ type: 'cell', target: t.name, program: p.name }));
  return td;
}

// A fleet: per program the server's summary, then each group of targets, opening to its cells.
function foldCell(f) {
  const td = el('td', 'fold');
  td.setAttribute('data-program', f.program);
  td.appendChild(el('span', 'summary', f.summary));
  const words = { loaded: 'loaded', rejected: 'rejected', 'not-attempted': 'not attempted', failed: 'target failed' };
  for (const g of f.groups) {
    const d = el('details');
    d.setAttribute('data-outcome', g.outcome);
    if (g.outcome !== 'loaded') d.open = true;
    d.appendChild(el('summary', g.outcome, words[g.outcome] + ' on ' + g.targets.length + (g.text ? ': ' + g.text : '')));
    const box = el('div', 'cells');
    for (const name of g.targets) {
      const t = result.targets.find((x) => x.name === name);
      const c = bodyCell(t, { name: f.program });
      const chip = el('span', c.className);
      for (const a of ['data-target', 'data-program', 'data-status']) if (c.hasAttribute(a)) chip.setAttribute(a, c.getAttribute(a));
      chip.setAttribute('role', 'gridcell');
      const insns = t.answered && g.outcome === 'loaded' ? t.cells.find((x) => x.program === f.program) : undefined;
      chip.textContent = name + (insns ? ' · ' + insns.verifiedInsns.toLocaleString() + ' insns' : '') + (t.release ? ' (' + t.release + ')' : '');
      chip.title = c.title || '';
      if (t.answered) chip.addEventListener('click', () => vscode.postMessage({ type: 'cell', target: name, program: f.program }));
      box.appendChild(chip);
    }
    d.appendChild(box);
    td.appendChild(d);
  }
  return td;
}

function drawFold() {
  const tr = el('tr');
  tr.appendChild(el('th', 'corner', 'program'));
  tr.appendChild(el('th', 'fleet', result.targets.length + ' targets'));
  $('head').appendChild(tr);
  for (const f of result.fold) {
    const row = el('tr');
    row.setAttribute('data-program', f.program);
    const p = result.programs.find((x) => x.name === f.program);
    const name = el('td', 'program', f.program);
    if (p) name.title = p.section;
    row.appendChild(name);
    row.appendChild(foldCell(f));
    $('rows').appendChild(row);
  }
}

function drawGrid() {
  const head = $('head');
  const rows = $('rows');
  head.replaceChildren();
  rows.replaceChildren();
  if (!result) return;
  if (result.fold) return drawFold();
  const tr = el('tr');
  tr.appendChild(el('th', 'corner', 'program'));
  for (const t of result.targets) tr.appendChild(headCell(t));
  head.appendChild(tr);
  for (const p of result.programs) {
    const row = el('tr');
    row.setAttribute('data-program', p.name);
    const name = el('td', 'program', p.name);
    name.title = p.section;
    row.appendChild(name);
    for (const t of result.targets) row.appendChild(bodyCell(t, p));
    rows.appendChild(row);
  }
}

function drawNotes() {
  const box = $('notes');
  box.replaceChildren();
  if (!result) return;
  for (const t of result.targets) {
    const items = [];
    if (!t.answered && t.error) {
      const li = el('li', '', 'target failed (' + t.error.code + '): ' + t.error.message);
      if (t.error.detail) li.appendChild(el('pre', '', t.error.detail.trim().split('\n').slice(-12).join('\n')));
      items.push(li);
    }
    // a fleet lists only what differs: a native arg:ctx on fifty hosts is no news
    if (t.argCtx && !(result.fold && t.argCtx === 'native')) items.push(el('li', 'argctx', t.argCtx === 'native'
      ? '__arg_ctx: native (the kernel takes the arg:ctx tag itself)'
      : '__arg_ctx: emulated (no native arg:ctx before 6.8: the tagged arguments are rewritten to each caller’s context type)'));
    if (t.core) for (const n of t.core.problems) {
      const li = el('li', 'core' + (n.source ? ' link' : ''), 'CO-RE ' + n.program + ': ' + n.access + ' (' + n.kind + ') ' + n.message + (n.source ? ' — ' + base(n.source.file) + ':' + (n.source.line + 1) : ''));
      if (n.source) li.addEventListener('click', () => vscode.postMessage({ type: 'source', file: n.source.file, line: n.source.line }));
      items.push(li);
    }
    for (const n of t.notes) items.push(el('li', 'note', n));
    if (!items.length) continue;
    const sec = el('section');
    sec.setAttribute('data-target', t.name);
    sec.appendChild(el('h3', '', t.name + (t.release ? ' (' + t.release + ')' : '')));
    const ul = el('ul');
    for (const i of items) ul.appendChild(i);
    sec.appendChild(ul);
    box.appendChild(sec);
  }
}

function draw() {
  drawProgress();
  drawGrid();
  drawNotes();
}

window.addEventListener('message', (e) => {
  const m = e.data;
  if (m.type === 'start') {
    $('object').textContent = m.object;
    targets = m.targets;
    stages = {};
    result = undefined;
    $('rerun').disabled = true;
    $('status').textContent = 'loading on ' + targets.length + ' targets (a VM target boots the first time)…';
    draw();
  } else if (m.type === 'progress') {
    stages[m.target] = m.stage;
    drawProgress();
  } else if (m.type === 'result') {
    result = m.result;
    $('rerun').disabled = false;
    const ok = result.targets.filter((t) => t.loadedAll).length;
    $('status').textContent = ok + ' of ' + result.targets.length + ' targets loaded every program · ' + (result.ms / 1000).toFixed(1) + ' s';
    document.body.setAttribute('data-done', '1');
    draw();
  } else if (m.type === 'error') {
    $('rerun').disabled = false;
    $('status').textContent = 'failed: ' + m.message;
  }
});
$('rerun').addEventListener('click', () => { document.body.removeAttribute('data-done'); vscode.postMessage({ type: 'rerun' }); });
vscode.postMessage({ type: 'ready' });
`;
