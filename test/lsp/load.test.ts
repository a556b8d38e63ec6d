// bpfLens/loadObject over a real LSP connection into this machine's kernel: kernel ids of
// what loaded, progress by stage, a verifier rejection as a diagnostic on the right line,
// unload closing every FD (the ids are gone from the kernel).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { buildPacket } from '../../server/src/run/packet';
import { kernelIdAlive as alive } from '../load-helpers';
import { fixture, withHostLock } from '../helpers';
import { LspClient, makeWorkspace } from './lsp-client';

interface Loaded {
  handle: number;
  path: string;
  programs: { name: string; id: number; type: string; verifiedInsns: number }[];
  maps: { name: string; kernelName: string; id: number }[];
}
interface LoadResult {
  ok: boolean;
  loaded?: Loaded;
  error?: { message: string; stage: string; program?: string; source?: { file: string; line: number; text: string }; log?: string };
  ms: number;
}

const ws = makeWorkspace(['load_globals.bpf.c', 'loader_reject.bpf.c']);
let lsp: LspClient;
before(async () => {
  lsp = await LspClient.start(ws.dir);
});
after(async () => {
  await lsp.stop();
  ws.cleanup();
});

test('load an object: kernel ids for every program and map, progress by stage, listed until unload closes them', async () => {
  const obj = path.join(ws.build, 'load_globals.o');
  const r = await lsp.request<LoadResult>('bpfLens/loadObject', { path: obj, token: 't1' });
  assert.ok(r.ok, r.error?.message);
  const l = r.loaded!;
  assert.ok(l.programs.length > 0 && l.maps.length > 0);
  for (const p of l.programs) assert.ok(alive('prog', p.id), `prog ${p.name} id ${p.id}`);
  for (const m of l.maps) assert.ok(alive('map', m.id), `map ${m.name} id ${m.id}`);
  const stages = lsp.notifications
    .filter((n) => n.method === 'bpfLens/loadProgress' && (n.params as { token: string }).token === 't1')
    .map((n) => (n.params as { stage: string }).stage);
  await lsp.until('progress', () =>
    lsp.notifications.some((n) => n.method === 'bpfLens/loadProgress' && (n.params as { stage: string }).stage === 'done'),
  );
  assert.ok(stages.length === 0 || stages.includes('maps'), stages.join(','));
  const listed = await lsp.request<{ loaded: Loaded[] }>('bpfLens/loadedObjects');
  assert.deepEqual(
    listed.loaded.map((x) => x.handle),
    [l.handle],
  );
  console.log(`load request: ${r.ms.toFixed(1)} ms in the server`);
  // a hover on the program's SEC line: what verifying it took on the target it is loaded on
  const src = path.join(ws.src, 'load_globals.bpf.c');
  const text = readFileSync(src, 'utf8');
  const uri = await lsp.open(src, text);
  const lines = text.split('\n');
  const sec = lines.findIndex((x) => x.includes('SEC("xdp")'));
  const prog = l.programs[0];
  const h = await lsp.hover(uri, sec, lines[sec].indexOf('xdp'));
  assert.match(h ?? '', new RegExp(`Verification of \`${prog.name}\``), h ?? 'no hover');
  assert.match(h ?? '', new RegExp(`\\| local \\| ${prog.id} \\| ${prog.verifiedInsns} \\| 0\\.\\d+% \\|`), h ?? '');

  const u = await lsp.request<{ closed: boolean }>('bpfLens/unloadObject', { handle: l.handle });
  assert.equal(u.closed, true);
  // Maps a program used are released after the program's RCU grace period: wait for it.
  await lsp.until('kernel ids gone', () => l.programs.every((p) => !alive('prog', p.id)) && l.maps.every((m) => !alive('map', m.id)), 5000);
  assert.deepEqual((await lsp.request<{ loaded: Loaded[] }>('bpfLens/loadedObjects')).loaded, []);
  assert.equal((await lsp.request<{ closed: boolean }>('bpfLens/unloadObject', { handle: l.handle })).closed, false);
  assert.doesNotMatch((await lsp.hover(uri, sec, lines[sec].indexOf('xdp'))) ?? '', /\| local \|/, 'unloaded: no row');
});

test('a verifier rejection: error with the log, and an error diagnostic on the rejected line of the C source', async () => {
  const r = await lsp.request<LoadResult>('bpfLens/loadObject', { path: path.join(ws.build, 'loader_reject.o') });
  assert.equal(r.ok, false);
  assert.equal(r.error!.stage, 'programs');
  assert.match(r.error!.log!, /invalid mem access/);
  const src = path.join(ws.src, 'loader_reject.bpf.c');
  const want = readFileSync(src, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes('REJECTED'));
  assert.equal(r.error!.source!.line, want);
  const uri = pathToFileURL(src).href;
  const diags = await lsp.until('rejection diagnostic', () => lsp.diagnostics.get(uri)?.filter((d) => d.code === 'verifier'));
  assert.equal(diags.length, 1);
  assert.equal(diags[0].severity, 1);
  assert.equal(diags[0].range.start.line, want);
  assert.match(diags[0].message, /xdp_bad/);
  // why, and where the NULL came from: the Problems entry's related location is the lookup line
  assert.match(diags[0].message, /NULL/);
  const lookup = readFileSync(src, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes('bpf_map_lookup_elem'));
  const rel = diags[0].relatedInformation ?? [];
  assert.ok(rel.length >= 2, JSON.stringify(diags[0]));
  assert.equal(rel[0].location.uri, uri);
  assert.equal(rel[0].location.range.start.line, lookup);
  assert.match(rel[0].message, /R0 is the result of bpf_map_lookup_elem/);
  assert.equal(rel[rel.length - 1].location.range.start.line, want);
  assert.deepEqual((await lsp.request<{ loaded: Loaded[] }>('bpfLens/loadedObjects')).loaded, []);
});

test('progress goes out while the load runs: every stage in order, before the response, spread over the load', async () => {
  // core_tracer relocates against vmlinux: the first CO-RE load of the server parses and indexes it
  const started = performance.now();
  const r = await lsp.request<LoadResult>('bpfLens/loadObject', { path: fixture('core_tracer.o'), token: 'live' });
  const answered = performance.now();
  assert.ok(r.ok, r.error?.message);
  const got = lsp.notifications.filter((n) => n.method === 'bpfLens/loadProgress' && (n.params as { token: string }).token === 'live');
  const stages = got.map((n) => (n.params as { stage: string }).stage).filter((s, i, a) => s !== a[i - 1]);
  assert.deepEqual(stages, ['probe', 'relocate', 'btf', 'maps', 'programs', 'pin', 'done']);
  const programs = got
    .filter((n) => (n.params as { stage: string }).stage === 'programs')
    .map((n) => (n.params as { detail: string }).detail);
  assert.deepEqual(
    programs.slice(1),
    r.loaded!.programs.map((p) => p.name),
    'one notification per program, before it loads',
  );
  for (const n of got) assert.ok(n.at >= started && n.at <= answered);
  // A load that reports only at its end delivers them all in one write (well under a ms apart);
  // here they arrive as the stages run: 'relocate' to 'done' spans most of the server's load time.
  const at = (s: string) => got.find((n) => (n.params as { stage: string }).stage === s)!.at;
  const spread = at('done') - at('relocate');
  const sentAt = at('btf') - at('relocate');
  console.log(
    `load ${r.ms.toFixed(1)} ms in the server; progress 'relocate'→'btf' ${sentAt.toFixed(1)} ms, 'relocate'→'done' ${spread.toFixed(1)} ms`,
  );
  assert.ok(spread >= 0.3 * r.ms && spread > 3, `progress spread ${spread.toFixed(1)} ms of a ${r.ms.toFixed(1)} ms load`);
  assert.ok(sentAt > 1, `CO-RE against vmlinux took ${sentAt.toFixed(2)} ms between its notifications`);
  await lsp.request('bpfLens/unloadObject', { handle: r.loaded!.handle });
});

test("Explain Verification: a level-2 throwaway load, then a hover on a source line shows the verifier's state there", async () => {
  const obj = path.join(ws.build, 'loader_reject.o');
  const r = await lsp.request<{ ok: boolean; programs: { name: string; lines: number; rejected: boolean }[] }>(
    'bpfLens/explainVerification',
    { path: obj },
  );
  assert.equal(r.ok, true);
  const bad = r.programs.find((p) => p.name === 'xdp_bad');
  assert.ok(bad && bad.rejected && bad.lines >= 2, JSON.stringify(r));
  assert.deepEqual((await lsp.request<{ loaded: Loaded[] }>('bpfLens/loadedObjects')).loaded, [], 'the throwaway load is not held');
  const src = path.join(ws.src, 'loader_reject.bpf.c');
  const text = readFileSync(src, 'utf8');
  const uri = await lsp.open(src, text);
  const lines = text.split('\n');
  const lookup = lines.findIndex((l) => l.includes('bpf_map_lookup_elem'));
  const h = await lsp.hover(uri, lookup, lines[lookup].indexOf('__u64'));
  assert.ok(h, 'a hover on the lookup line');
  assert.match(h, /Verifier state in xdp_bad/);
  assert.match(h, /\| R0 \| `map_value_or_null\(id=\d+,map=counts,ks=4,vs=8\)` \|/);
  const rejected = lines.findIndex((l) => l.includes('REJECTED'));
  const h2 = await lsp.hover(uri, rejected, lines[rejected].indexOf('return') + 1);
  assert.match(h2 ?? '', /rejected here/);
  // The side document: numbers, the walk to the rejection with source lines (absolute paths, as
  // the editor links them) before their instructions, the error, then every line's states.
  const doc = await lsp.request<{ text: string; languageId: string }>('bpfLens/document', {
    path: obj,
    kind: 'verifier',
    program: 'xdp_bad',
  });
  const t = doc.text;
  assert.match(t, /^xdp_bad: rejected\n {2}processed \d+ instructions \([0-9.]+% of the 1,000,000 limit\)/);
  const walk = t.slice(t.indexOf('The path to the rejection'), t.indexOf('Every source line'));
  // the sources sit beside the objects' folder: named relative to it
  const rel = path.relative(ws.build, src);
  const lookupAt = walk.indexOf(`${rel}:${lookup + 1}  `);
  const rejectedAt = walk.indexOf(`${rel}:${rejected + 1}  `);
  assert.ok(lookupAt > 0 && rejectedAt > lookupAt, walk);
  assert.match(walk.slice(lookupAt), /^\s+\d+: call bpf_map_lookup_elem#1\s+; R0=map_value_or_null/m);
  assert.match(walk, /\n✗ R\d invalid mem access 'map_value_or_null'/);
  assert.ok(t.slice(t.indexOf('Every source line')).includes(`${rel}:${rejected + 1}  `), t);
  assert.match(t, /REJECTED HERE/);
  // the program's name: its numbers from the explanation
  const def = lines.findIndex((x) => x.includes('int xdp_bad('));
  const hp = await lsp.hover(uri, def, lines[def].indexOf('xdp_bad') + 2);
  assert.match(hp ?? '', /Last Explain Verification: rejected, \d+ instructions \(0\.\d+%\), states \d+ total/, hp ?? 'no hover');
  // an object that loads: each program accepted, its lines and states, no rejected path
  const good = path.join(ws.build, 'load_globals.o');
  const e = await lsp.request<{ ok: boolean; programs: { name: string }[] }>('bpfLens/explainVerification', { path: good });
  assert.equal(e.ok, true);
  const all = (await lsp.request<{ text: string }>('bpfLens/document', { path: good, kind: 'verifier' })).text;
  for (const p of e.programs) assert.match(all, new RegExp(`^${p.name}: accepted\\n  processed \\d+ instructions`, 'm'));
  assert.doesNotMatch(all, /The path to the rejection|\(no line\)/);
  assert.match(all, /Every source line the verifier walked/);
});

// Whether the kernel keeps run statistics is host-wide: tests that turn them on take turns.
test('run statistics for the BPF view: off until asked, rates of a program bpftool runs, off again on stop', (t) =>
  withHostLock('run-stats', () => statsForTheView(t)));

async function statsForTheView(t: { after(fn: () => unknown): void }): Promise<void> {
  const r = await lsp.request<LoadResult>('bpfLens/loadObject', { path: path.join(ws.build, 'load_globals.o') });
  assert.ok(r.ok, r.error?.message);
  const prog = r.loaded!.programs[0];
  t.after(() => lsp.request('bpfLens/unloadObject', { handle: r.loaded!.handle }));
  const tmp = mkdtempSync(path.join(tmpdir(), 'bpf-lens-stats-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const packet = path.join(tmp, 'packet');
  writeFileSync(packet, buildPacket('eth/ipv4/udp/payload(x)'));
  const runIt = (n: number) => execFileSync('bpftool', ['prog', 'run', 'id', String(prog.id), 'data_in', packet, 'repeat', String(n)]);
  const runCnt = () =>
    (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(prog.id)], { encoding: 'utf8' })) as { run_cnt?: number })
      .run_cnt ?? 0;
  type Stats = {
    stats: string;
    programs: { id: number; runCnt: number; runsPerSec: number; periodNsPerRun: number; cpuPercent: number }[];
  };
  runIt(100);
  assert.equal(runCnt(), 0, 'statistics are off until the view asks');
  const first = await lsp.request<Stats>('bpfLens/programStats', { target: 'local' });
  assert.equal(first.stats, 'fd');
  assert.deepEqual(first.programs, [], 'rates need two readings');
  runIt(5000);
  const second = await lsp.request<Stats>('bpfLens/programStats', { target: 'local' });
  const mine = second.programs.find((p) => p.id === prog.id);
  assert.ok(mine && mine.runCnt === 5000 && mine.runsPerSec > 0 && mine.periodNsPerRun > 0, JSON.stringify(mine));
  assert.equal(runCnt(), 5000, 'bpftool reads the same counter');
  const stopped = await lsp.request<Stats>('bpfLens/programStats', { target: 'local', stop: true });
  assert.equal(stopped.stats, 'off');
  runIt(100);
  assert.equal(runCnt(), 5000, 'off again: the counter stands still');
}
