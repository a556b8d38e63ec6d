// Language server speed over a real stdio connection to `bpf-lens lsp --stdio`: indexing a
// workspace of N copied objects, hovers while and after indexing, RSS, and BTF type pages.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { CLI, FIXTURES, ROOT, fmtMs, pct, verdict } from './lib.mjs';

const require = createRequire(import.meta.url);
const CILIUM = '/usr/share/gocode/src/github.com/cilium/ebpf/testdata';
const N = Number(process.env.BENCH_LSP_OBJECTS ?? 1000);
const GOALS = { indexMs: 3000, hoverP95: 20, rssMb: 600, pageMs: 100 };

function workspace() {
  const pool = [
    ...readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.o'))
      .map((f) => join(FIXTURES, f)),
    ...readdirSync(CILIUM)
      .filter((f) => f.endsWith('-el.elf'))
      .map((f) => join(CILIUM, f)),
    ...readdirSync(join(ROOT, 'examples', 'build'))
      .filter((f) => f.endsWith('.o'))
      .map((f) => join(ROOT, 'examples', 'build', f)),
  ];
  const ws = mkdtempSync(join(tmpdir(), 'bpf-lens-bench-'));
  for (let i = 0; i < N; i++) {
    const dir = join(ws, `d${i % 20}`);
    mkdirSync(dir, { recursive: true });
    copyFileSync(pool[i % pool.length], join(dir, `obj${i}.o`));
  }
  copyFileSync(join(FIXTURES, 'lsp_maps.o'), join(ws, 'lsp_maps.o'));
  mkdirSync(join(ws, 'btf'));
  copyFileSync('/sys/kernel/btf/vmlinux', join(ws, 'btf', 'vmlinux'));
  return ws;
}

/** Peak resident set of a process so far (VmHWM), in MB. */
const peakRssMb = (pid) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const HOVER_SRC = join(ROOT, 'test', 'fixtures', 'lsp_maps.bpf.c');

/** Opens the hovered source; returns where to hover (map and program names). */
async function openHoverSource(conn) {
  const text = readFileSync(HOVER_SRC, 'utf8');
  const uri = pathToFileURL(HOVER_SRC).href;
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'c', version: 1, text } });
  const lines = text.split('\n');
  return ['} lsp_hash SEC', '} lsp_array SEC', '} lsp_outer SEC', '} lsp_jmp SEC', 'int lsp_use_maps', 'SEC("xdp")']
    .map((n) => ({ line: lines.findIndex((l) => l.includes(n)), n }))
    .map(({ line, n }) => ({ textDocument: { uri }, position: { line, character: lines[line].indexOf(n) + 4 } }));
}

/**
 * Hovers one after another, `gapMs` apart, until `count` are done and `until()` says stop;
 * each one's time, end and whether it answered.
 */
async function hovers(conn, spots, count, { until = () => true, gapMs = 0 } = {}) {
  const times = [];
  const ends = [];
  const answered = [];
  for (let i = 0; i < count || !until(); i++) {
    const t0 = performance.now();
    answered.push(!!(await conn.sendRequest('textDocument/hover', spots[i % spots.length])));
    ends.push(performance.now());
    times.push(ends[i] - t0);
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  return { times, ends, answered };
}

/** Round trips of the tree's list (a line per object), of an object's summary (it opens) and of every one, medians of 5. */
async function listTimes(conn, path) {
  const time = async (method, params) => {
    const ms = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await conn.sendRequest(method, params);
      ms.push(performance.now() - t0);
    }
    return pct(ms, 50);
  };
  return {
    entries: await time('bpfLens/objectList'),
    one: await time('bpfLens/objects', { path }),
    summaries: await time('bpfLens/objects', {}),
  };
}

async function btfPages(conn, vmlinux) {
  let t0 = performance.now();
  let page = await conn.sendRequest('bpfLens/btfTypes', { path: vmlinux, kind: 'FUNC', offset: 0, limit: 500 });
  const first = performance.now() - t0;
  const later = [];
  for (let off = 500; off < page.total; off += 5000) {
    t0 = performance.now();
    page = await conn.sendRequest('bpfLens/btfTypes', { path: vmlinux, kind: 'FUNC', offset: off, limit: 500 });
    later.push(performance.now() - t0);
  }
  t0 = performance.now();
  const found = await conn.sendRequest('bpfLens/btfTypes', { path: vmlinux, kind: 'FUNC', search: 'tcp_', limit: 500 });
  return { total: page.total, first, later, search: performance.now() - t0, hits: found.total };
}

async function measure(ws) {
  const rpc = require('vscode-jsonrpc/node');
  const proc = spawn(process.execPath, [CLI, 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(proc.stdout), new rpc.StreamMessageWriter(proc.stdin));
  conn.onRequest('workspace/configuration', () => [{}]);
  conn.onRequest('client/registerCapability', () => null);
  conn.listen();
  try {
    const t0 = performance.now();
    const folder = pathToFileURL(ws).href;
    await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: folder,
      workspaceFolders: [{ uri: folder, name: 'bench' }],
      capabilities: { workspace: { configuration: true } },
    });
    await conn.sendNotification('initialized', {});
    const spots = await openHoverSource(conn);
    // Hovers from the start until the index is built, 40 a second (faster than a hand moves
    // a mouse); a hover that waits for the whole index, or for a long stretch of it, shows here.
    // One answered after the objects (its answer queued behind theirs) counts as after.
    let indexed = false;
    const hovering = hovers(conn, spots, 0, { until: () => indexed, gapMs: 25 });
    // What the editor's tree asks first: a line per object, answered once the index is built.
    const { objects } = await conn.sendRequest('bpfLens/objectList');
    const indexMs = performance.now() - t0;
    indexed = true;
    const early = await hovering;
    const inIndex = (_, i) => early.ends[i] <= t0 + indexMs;
    const whileIndexing = { times: early.times.filter(inIndex), answered: early.answered.filter(inIndex).filter(Boolean).length };
    const after = [...early.times.filter((t, i) => !inIndex(t, i)), ...(await hovers(conn, spots, 300)).times];
    const lists = await listTimes(conn, objects[0].path);
    const pages = await btfPages(conn, join(ws, 'btf', 'vmlinux'));
    const rss = peakRssMb(proc.pid);
    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
    return { objects: objects.length, indexMs, whileIndexing, after, lists, pages, rss };
  } finally {
    conn.dispose();
    proc.kill();
  }
}

/** The three slowest times, slowest first. */
const worst = (times) =>
  [...times]
    .sort((a, b) => b - a)
    .slice(0, 3)
    .map(fmtMs)
    .join(', ');

export const sections = [
  {
    name: 'lsp',
    needs: ['dist', 'fixtures', 'examples', 'cilium'],
    goal: `${N} objects indexed ≤ ${GOALS.indexMs} ms from spawn; hover p95 ≤ ${GOALS.hoverP95} ms while indexing; peak RSS ≤ ${GOALS.rssMb} MB; BTF pages ≤ ${GOALS.pageMs} ms`,
    async run() {
      const ws = workspace();
      try {
        const r = await measure(ws);
        const p95w = pct(r.whileIndexing.times, 95);
        const p95 = pct(r.after, 95);
        return [
          `index ${r.objects} objects: ${fmtMs(r.indexMs)} (goal ≤ ${GOALS.indexMs} ms) ${verdict(r.indexMs, GOALS.indexMs)}${r.objects > N ? '' : ' — fewer objects than copied!'}`,
          `hover while indexing (${r.whileIndexing.answered} of ${r.whileIndexing.times.length} answered): p50 ${fmtMs(pct(r.whileIndexing.times, 50))}, p95 ${fmtMs(p95w)} (goal ≤ ${GOALS.hoverP95} ms) ${verdict(p95w, GOALS.hoverP95)}; worst ${worst(r.whileIndexing.times)} (the first, sent with the folder not walked yet and the code cold: ${fmtMs(r.whileIndexing.times[0])})`,
          `hover after: p50 ${fmtMs(pct(r.after, 50))}, p95 ${fmtMs(p95)}, max ${fmtMs(Math.max(...r.after))}`,
          `the tree's object list ${fmtMs(r.lists.entries)}, an object's summary ${fmtMs(r.lists.one)}; every whole summary (externs resolved) ${fmtMs(r.lists.summaries)}`,
          `peak RSS ${r.rss.toFixed(0)} MB (goal ≤ ${GOALS.rssMb} MB) ${verdict(r.rss, GOALS.rssMb)}`,
          `btfTypes FUNC (${r.pages.total}), page of 500: first ${fmtMs(r.pages.first)} (parses vmlinux), later p95 ${fmtMs(pct(r.pages.later, 95))}; search 'tcp_' (${r.pages.hits} hits) ${fmtMs(r.pages.search)} (goal ≤ ${GOALS.pageMs} ms) ${verdict(r.pages.search, GOALS.pageMs)}`,
        ];
      } finally {
        rmSync(ws, { recursive: true, force: true });
      }
    },
  },
];
