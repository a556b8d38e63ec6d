// The Events panel's stream as the editor asks for it, over a real LSP connection on this
// kernel: observe_events.o loaded and attached, bpfLens/observeEvents, then the test execs a
// binary and writes a marker: the exec record (ring buffer on a tracepoint) and the write record
// (perf buffer) arrive in bpfLens/events notifications with their fields decoded, the printk
// line tied to on_write and its source line; stopping sends a last `done` notification.
// Then a flood (millions of records offered): every notification stays within its cap, drops
// are counted, and the server answers a request at once while and after it floods.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { EventRow, EventsNotificationParams, ObserveEventsResult, StopEventsResult } from '../../protocol/lsp';
import { fixture, holdTracePipe, ROOT, run } from '../helpers';
import { LspClient, makeWorkspace } from './lsp-client';

const ws = makeWorkspace([]);
let lsp: LspClient;
let releasePipe: () => void;
before(async () => {
  releasePipe = await holdTracePipe();
  lsp = await LspClient.start(ws.dir);
});
after(async () => {
  await lsp.stop();
  ws.cleanup();
  releasePipe();
});

const batches = (handle: number) =>
  lsp.notifications
    .filter((n) => n.method === 'bpfLens/events' && (n.params as EventsNotificationParams).handle === handle)
    .map((n) => ({ ...(n.params as EventsNotificationParams), at: n.at }));

async function loadAndAttach(file: string): Promise<number> {
  const r = await lsp.request<{ ok: boolean; loaded: { handle: number }; error?: { message: string } }>('bpfLens/loadObject', {
    path: fixture(file),
  });
  assert.ok(r.ok, r.error?.message);
  const a = await lsp.request<{ ok: boolean; error?: { message: string } }>('bpfLens/attach', { handle: r.loaded.handle });
  assert.ok(a.ok, a.error?.message);
  return r.loaded.handle;
}

/** Every row's `time` (the target's read stamp) within t0..t1 and going forward within each map, in the order the rows came. */
function checkStamps(rows: readonly EventRow[], t0: number, t1: number): void {
  for (const map of new Set(rows.map((r) => r.map))) {
    const at = rows.filter((r) => r.map === map).map((r) => r.time);
    for (const t of at) assert.ok(t >= t0 && t <= t1, `${map}: read at ${t}, outside the test's ${t0}..${t1}`);
    assert.deepEqual(
      at,
      [...at].sort((a, b) => a - b),
      `${map}: read stamps go forward`,
    );
  }
}

test('events of a ring buffer and a perf buffer on tracepoints, decoded; printk tied to its program and line; stop says done', async () => {
  const t0 = Date.now();
  const handle = await loadAndAttach('observe_events.o');
  const o = await lsp.request<ObserveEventsResult>('bpfLens/observeEvents', { handle });
  assert.ok(o.ok, o.error);
  assert.equal(o.printk, true, o.printkError);
  const byName = Object.fromEntries(o.maps.map((m) => [m.name, m]));
  assert.deepEqual(byName.execs, {
    name: 'execs',
    kind: 'ringbuf',
    type: 'exec_event',
    how: 'source line',
    fields: ['pid', 'comm', 'filename'],
  });
  assert.deepEqual(byName.writes, {
    name: 'writes',
    kind: 'perf',
    type: 'write_event',
    how: 'size',
    fields: ['pid', 'count', 'comm', 'text'],
  });
  assert.deepEqual(byName.flood_rb, { name: 'flood_rb', kind: 'ringbuf', fields: [] }, 'flood_event is not in the BTF: hex');
  assert.ok(o.types.includes('exec_event') && o.types.includes('write_event'));

  const child = spawnSync('/bin/true');
  const marker = `LENSMARK ${process.pid}`;
  writeFileSync('/dev/null', marker);
  const rows = () => batches(handle).flatMap((b) => b.rows);
  const exec = await lsp.until('the exec record', () =>
    rows().find((r) => r.map === 'execs' && (r.data as { filename?: string }).filename === '/bin/true'),
  );
  assert.deepEqual(exec.data, { pid: child.pid, comm: 'node', filename: '/bin/true' });
  assert.equal(exec.kind, 'ringbuf');
  assert.ok(Math.abs(exec.time - Date.now()) < 10_000);
  const w = await lsp.until('the marker record', () =>
    rows().find((r) => r.map === 'writes' && (r.data as { pid?: number }).pid === process.pid),
  );
  assert.equal(w.kind, 'perf');
  assert.equal(typeof w.cpu, 'number');
  // a perf sample carries when the kernel wrote it (PERF_SAMPLE_TIME, CLOCK_REALTIME): before it was read
  assert.ok(w.kernelTime! >= t0 && w.kernelTime! <= w.time + 1, `written at ${w.kernelTime}, read at ${w.time}`);
  assert.equal(exec.kernelTime, undefined, 'a ring buffer record has no time of its own');
  assert.deepEqual(w.data, { pid: process.pid, count: marker.length, comm: 'node', text: marker });
  const p = await lsp.until('the printk line', () =>
    batches(handle)
      .flatMap((b) => b.printk)
      .find((l) => l.pid === process.pid),
  );
  assert.equal(p.text, `lens marker write pid=${process.pid} count=${marker.length}`);
  assert.deepEqual([p.object, p.programs], [fixture('observe_events.o'), ['on_write']]);
  assert.ok(p.time >= t0 && p.time <= Date.now(), `printk line read at ${p.time}`);
  const src = readFileSync(join(ROOT, 'test', 'fixtures', 'observe_events.bpf.c'), 'utf8').split('\n');
  assert.match(src[p.source!.line - 1], /bpf_printk\("lens marker write/);

  // the panel reopened: the same observation answers; another type for a map
  assert.deepEqual(await lsp.request<ObserveEventsResult>('bpfLens/observeEvents', { handle }), o);
  const dec = await lsp.request<{ ok: boolean; map: { type: string; fields: string[] } }>('bpfLens/eventsDecode', {
    handle,
    map: 'execs',
    type: 'struct write_event',
  });
  assert.deepEqual([dec.ok, dec.map.type, dec.map.fields], [true, 'write_event', ['pid', 'count', 'comm', 'text']]);
  const bad = await lsp.request<{ ok: boolean; error: string }>('bpfLens/eventsDecode', { handle, map: 'execs', type: 'no_such' });
  assert.deepEqual([bad.ok, bad.error], [false, "--decode: no type 'no_such' in " + fixture('observe_events.o') + "'s BTF"]);

  const s = await lsp.request<StopEventsResult>('bpfLens/stopEvents', { handle });
  assert.equal(s.stopped, true);
  const last = batches(handle).at(-1)!;
  assert.equal(last.done, true);
  assert.deepEqual(last.counters, s.counters);
  assert.ok(s.counters!.records >= 2 && s.counters!.printk >= 1 && s.counters!.dropped === 0, JSON.stringify(s.counters));
  assert.equal(s.counters!.shown, rows().length);
  checkStamps(rows(), t0, Date.now());
  const n = batches(handle).length;
  spawnSync('/bin/true');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(batches(handle).length, n, 'nothing after done');

  // observed again, then unloaded while observed: the stream ends with `done`, and stays ended
  const again = await lsp.request<ObserveEventsResult>('bpfLens/observeEvents', { handle });
  assert.ok(again.ok, again.error);
  spawnSync('/bin/true');
  await lsp.until('a record after observing again', () =>
    batches(handle)
      .slice(n)
      .some((b) => b.rows.length > 0),
  );
  await lsp.request('bpfLens/unloadObject', { handle });
  const end = await lsp.until('done after unload', () =>
    batches(handle)
      .slice(n)
      .find((b) => b.done),
  );
  assert.ok(end.counters.records >= 1);
  const m = batches(handle).length;
  spawnSync('/bin/true');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(batches(handle).length, m, 'nothing after unload');
  assert.deepEqual(await lsp.request('bpfLens/stopEvents', { handle }), { stopped: false });
});

test('a flood: notifications within their caps, drops counted, the server answers at once during and after', async () => {
  const handle = await loadAndAttach('lsp_events_flood.o');
  const o = await lsp.request<ObserveEventsResult>('bpfLens/observeEvents', { handle });
  assert.ok(o.ok, o.error);
  const t0 = performance.now();
  // each getppid offers 100,000 records; the ring holds about 10,000 at a time
  const flood = spawn('python3', ['-c', 'import os, time\nt=time.time()\nwhile time.time()-t<3: os.getppid()']);
  const exited = new Promise<number | null>((r) => flood.on('exit', r));
  await new Promise((r) => setTimeout(r, 1500));
  const during = performance.now();
  await lsp.request('bpfLens/loadedObjects');
  const answerMs = performance.now() - during;
  assert.equal(await exited, 0);
  const s = await lsp.request<StopEventsResult>('bpfLens/stopEvents', { handle });
  const secs = (performance.now() - t0) / 1000;
  const after0 = performance.now();
  await lsp.request('bpfLens/loadedObjects');
  const afterMs = performance.now() - after0;
  const all = batches(handle);
  const c = s.counters!;
  console.log(
    `flood: ${c.records} records read, ${c.shown} shown in ${all.length} notifications over ${secs.toFixed(1)} s, ${c.dropped} dropped; ` +
      `a request answered in ${answerMs.toFixed(0)} ms while flooding, ${afterMs.toFixed(0)} ms after stopping`,
  );
  assert.ok(c.records > 50_000, `a flood was read: ${JSON.stringify(c)}`);
  assert.ok(c.dropped > 0, 'more than the editor is sent: dropped and counted');
  assert.equal(c.shown + c.dropped, c.records, 'every record read was shown or counted as dropped');
  assert.equal(all.at(-1)!.done, true);
  // at most 500 rows a notification, and (but the last) about 5000 a second
  for (const b of all.slice(0, -1)) assert.ok(b.rows.length <= 500, `${b.rows.length} rows in one notification`);
  const streamed = all.slice(0, -1).reduce((a, b) => a + b.rows.length, 0);
  assert.ok(streamed <= 5000 * secs + 500, `${streamed} rows in ${secs.toFixed(1)} s`);
  assert.ok(
    all.some((b) => b.counters.rate > 50_000),
    'the rate counts what was read, not what was shown',
  );
  assert.ok(answerMs < 1000 && afterMs < 1000, `requests answered in ${answerMs.toFixed(0)} and ${afterMs.toFixed(0)} ms`);
  const row = all.flatMap((b) => b.rows)[0];
  assert.equal(row.hex?.length, 32, 'a record of no known type is hex');
  await lsp.request('bpfLens/unloadObject', { handle });
});

/**
 * Two fixtures loaded, attached and observed at once; three marker writes, each printing a
 * line from both; their printk lines from this process once both have three, streams stopped.
 */
async function observePair(a: string, b: string) {
  const handles = [await loadAndAttach(a), await loadAndAttach(b)] as const;
  for (const handle of handles) {
    const o = await lsp.request<ObserveEventsResult>('bpfLens/observeEvents', { handle });
    assert.ok(o.ok && o.printk, o.error ?? o.printkError);
  }
  const lines = (handle: number) =>
    batches(handle)
      .flatMap((x) => x.printk)
      .filter((l) => l.pid === process.pid);
  for (let i = 0; i < 3; i++) writeFileSync('/dev/null', `LENSPAIR ${i}`);
  await lsp.until('both lines', () => handles.every((h) => lines(h).length >= 3));
  const stopped = await Promise.all(handles.map((handle) => lsp.request<StopEventsResult>('bpfLens/stopEvents', { handle })));
  return { handles, lines, stopped };
}

test('two objects observed at once share the trace pipe: each stream gets its own printk line, never the other’s', async () => {
  const { handles, lines, stopped } = await observePair('printk_pair_one.o', 'printk_pair_two.o');
  const [one, two] = handles;
  for (const s of stopped) assert.equal(s.stopped, true);
  for (const [handle, name, other] of [
    [one, 'one', 'two'],
    [two, 'two', 'one'],
  ] as const) {
    const got = lines(handle);
    assert.deepEqual(
      got.map((l) => l.text),
      Array(3).fill(`lens pair ${name} pid=${process.pid}`),
      `printk_pair_${name}.o's stream: its own lines, none of printk_pair_${other}.o's`,
    );
    assert.ok(got.every((l) => l.object === fixture(`printk_pair_${name}.o`) && l.programs?.[0] === `pair_${name}`));
  }
  await lsp.request('bpfLens/unloadObject', { handle: one });
  await lsp.request('bpfLens/unloadObject', { handle: two });
});

test('a format with no text of its own ("%s") gets only the lines no format with text fits', async () => {
  // each write: "lens pair one pid=N" from one, the marker itself ("%s") from bare
  const { handles, lines } = await observePair('printk_pair_one.o', 'printk_pair_bare.o');
  const [one, bare] = handles;
  const texts = (handle: number) => lines(handle).map((l) => [l.text, l.object ?? null, l.programs?.[0] ?? null]);
  assert.deepEqual(texts(one), Array(3).fill([`lens pair one pid=${process.pid}`, fixture('printk_pair_one.o'), 'pair_one']));
  assert.deepEqual(texts(bare), Array(3).fill(['LENSPAIR', fixture('printk_pair_bare.o'), 'pair_bare']), 'none of one’s lines');
  for (const handle of [one, bare]) await lsp.request('bpfLens/unloadObject', { handle });
});

test('unloaded while records wait on their way: they still come before `done`, and every record is shown or counted', async () => {
  const r = await lsp.request<{ ok: boolean; loaded: { handle: number; maps: { name: string; id: number }[] } }>('bpfLens/loadObject', {
    path: fixture('lsp_events_flood.o'),
  });
  assert.ok(r.ok);
  const handle = r.loaded.handle;
  assert.ok((await lsp.request<{ ok: boolean }>('bpfLens/attach', { handle })).ok);
  const o = await lsp.request<ObserveEventsResult>('bpfLens/observeEvents', { handle });
  assert.ok(o.ok, o.error);
  // one getppid: 100,000 records offered, the ring takes about 10,900 of them at once; the
  // editor is sent 500 every 100 ms, so most of them are still queued when the unload comes
  spawnSync('python3', ['-c', 'import os; os.getppid()']);
  await lsp.request('bpfLens/detach', { handle });
  // nothing writes now (detached): what the kernel took is final
  const counts = r.loaded.maps.find((m) => m.name === 'counts')!.id;
  const taken = JSON.parse(run('bpftool', ['-j', 'map', 'lookup', 'id', String(counts), 'key', '0', '0', '0', '0'])) as {
    value: string[];
  };
  const fitted = Number(Buffer.from(taken.value.map((b) => Number(b))).readBigUInt64LE());
  const before = batches(handle).reduce((n, b) => n + b.rows.length, 0);
  await lsp.request('bpfLens/unloadObject', { handle });
  const end = await lsp.until('done after unload', () => batches(handle).find((b) => b.done));
  const all = batches(handle);
  assert.deepEqual(
    all.map((b) => b.done ?? false),
    [...Array(all.length - 1).fill(false), true],
    'done comes once, last',
  );
  const shown = all.reduce((n, b) => n + b.rows.length, 0);
  const c = end.counters;
  console.log(
    `unload mid-stream: ${fitted} records taken by the kernel, ${before} shown before the unload, ${shown} in all, ${c.dropped} dropped, ${c.lost} lost`,
  );
  assert.ok(fitted >= 10_000, `one getppid filled the ring: ${fitted}`);
  assert.ok(shown > before, 'records queued at the unload came after it');
  assert.equal(c.shown, shown);
  assert.equal(c.records + c.lost, fitted, 'every record the kernel took was read (or counted as lost)');
  assert.equal(shown + c.dropped + c.lost, fitted, 'each shown, or counted as dropped or lost');
});

test('a printk line no observed object claims goes to every observer; a claimed one to its own only', async () => {
  const one = await loadAndAttach('printk_pair_one.o');
  const ev = await loadAndAttach('observe_events.o');
  // loaded and running, not observed: its lines fit no observed object's format strings
  const two = await loadAndAttach('printk_pair_two.o');
  for (const handle of [one, ev]) {
    const o = await lsp.request<ObserveEventsResult>('bpfLens/observeEvents', { handle });
    assert.ok(o.ok && o.printk, o.error ?? o.printkError);
  }
  const lines = (handle: number) =>
    batches(handle)
      .flatMap((b) => b.printk)
      .filter((l) => l.pid === process.pid);
  writeFileSync('/dev/null', 'LENSPAIR unclaimed');
  const marker = 'LENSMARK claimed';
  writeFileSync('/dev/null', marker);
  await lsp.until('the lines', () => lines(one).length >= 2 && lines(ev).length >= 2);
  for (const handle of [one, ev]) await lsp.request('bpfLens/stopEvents', { handle });
  const pid = process.pid;
  const texts = (handle: number) => lines(handle).map((l) => [l.text, l.object ?? null]);
  assert.deepEqual(texts(one).sort(), [
    [`lens pair one pid=${pid}`, fixture('printk_pair_one.o')],
    [`lens pair two pid=${pid}`, null],
  ]);
  assert.deepEqual(texts(ev).sort(), [
    [`lens marker write pid=${pid} count=${marker.length}`, fixture('observe_events.o')],
    [`lens pair two pid=${pid}`, null],
  ]);
  for (const handle of [one, ev, two]) await lsp.request('bpfLens/unloadObject', { handle });
});
