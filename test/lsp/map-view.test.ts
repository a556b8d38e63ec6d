// The map view's requests as the editor sends them over a real connection, on this kernel:
// observe_maps.o loaded, an element written from the C-like text the view shows
// (bpfLens/mapUpdate), read back through bpfLens/mapElements and through bpftool's own dump,
// deleted; a value that does not parse names its field; per-CPU maps list each CPU and a sum;
// maps user space cannot write (frozen .rodata, ring buffer, prog array) refuse edits.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { cli } from '../helpers';
import { LspClient, makeWorkspace } from './lsp-client';

interface LoadResult {
  ok: boolean;
  loaded?: { handle: number; maps: { name: string; id: number; type: string }[] };
  error?: { message: string };
}
interface Elements {
  count: number;
  truncated: boolean;
  matched?: number;
  elements: { key: string; value: string; cpus?: string[]; sum?: string }[];
  error?: string;
  unloaded?: boolean;
  access?: { update: boolean; delete: boolean; insert: boolean };
  cpus?: number;
}
interface Write {
  ok: boolean;
  error?: string;
  field?: string;
  deleted?: boolean;
}

/** What bpftool (the kernel's view, not ours) prints for the map. */
function bpftoolDump(id: number): { key: string[]; value: unknown; formatted?: { key: unknown; value: Record<string, unknown> } }[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'id', String(id)]).toString()) as never;
}

const ws = makeWorkspace(['observe_maps.bpf.c']);
let lsp: LspClient;
let handle = 0;
let maps: NonNullable<LoadResult['loaded']>['maps'] = [];
before(async () => {
  lsp = await LspClient.start(ws.dir);
  const r = await lsp.request<LoadResult>('bpfLens/loadObject', { path: path.join(ws.build, 'observe_maps.o') });
  assert.ok(r.ok, r.error?.message);
  handle = r.loaded!.handle;
  maps = r.loaded!.maps;
});
after(async () => {
  if (handle) await lsp.request('bpfLens/unloadObject', { handle });
  await lsp.stop();
  ws.cleanup();
});

const id = (name: string) => maps.find((m) => m.name === name)!.id;
const elements = (map: string, filter?: string) =>
  lsp.request<Elements>('bpfLens/mapElements', { handle, map, ...(filter !== undefined ? { filter } : {}) });
const update = (map: string, key: string, value: string, flag?: string) =>
  lsp.request<Write>('bpfLens/mapUpdate', { handle, map, key, value, ...(flag ? { flag } : {}) });
const del = (map: string, key: string) => lsp.request<Write>('bpfLens/mapDelete', { handle, map, key });

test('mapUpdate writes an element from C-like text; mapElements and bpftool read it back; mapDelete removes it', async () => {
  const w = await update('m_hash', '7', '{ .neg = -42, .name = "seven", .color = GREEN, .pt = { .x = -3, .y = 9 } }', 'noexist');
  assert.deepEqual(w, { ok: true });
  const r = await elements('m_hash');
  assert.deepEqual(r.access, { update: true, delete: true, insert: true });
  assert.equal(r.count, 1);
  assert.equal(r.elements[0].key, '7');
  assert.match(r.elements[0].value, /\.neg = -42, \.color = GREEN, .*\.name = "seven".*\.pt = \{ \.x = -3, \.y = 9 \}/);
  // the kernel's view, through bpftool
  const k = bpftoolDump(id('m_hash'));
  assert.equal(k.length, 1);
  assert.deepEqual(k[0].formatted?.key, 7);
  assert.equal(k[0].formatted?.value.neg, -42);
  assert.equal(k[0].formatted?.value.name, 'seven');
  assert.equal(k[0].formatted?.value.color, 'GREEN');
  assert.deepEqual(k[0].formatted?.value.pt, { x: -3, y: 9 });

  // the view edits the value it shows: that very text, one field changed
  const edited = r.elements[0].value.replace('.neg = -42', '.neg = 1000');
  assert.deepEqual(await update('m_hash', r.elements[0].key, edited, 'exist'), { ok: true });
  assert.equal(bpftoolDump(id('m_hash'))[0].formatted?.value.neg, 1000);
  assert.match((await elements('m_hash')).elements[0].value, /\.neg = 1000,/);
  // Add entry of a key that is there: the kernel's EEXIST, said
  const again = await update('m_hash', '7', '{}', 'noexist');
  assert.equal(again.ok, false);
  assert.match(again.error ?? '', /EEXIST|exists/i);

  assert.deepEqual(await del('m_hash', '7'), { ok: true, deleted: true });
  assert.deepEqual(bpftoolDump(id('m_hash')), []);
  assert.equal((await elements('m_hash')).count, 0);
  assert.deepEqual(await del('m_hash', '7'), { ok: true, deleted: false });
});

test('a value or key that does not parse: the error names the field', async () => {
  const bad = await update('m_hash', '7', '{ .neg = -1, .pt = { .x = banana } }');
  assert.equal(bad.ok, false);
  assert.equal(bad.field, 'value.pt.x');
  assert.match(bad.error ?? '', /value\.pt\.x/);
  const unknown = await update('m_hash', '7', '{ .nope = 1 }');
  assert.equal(unknown.ok, false);
  assert.match(unknown.field ?? '', /^value/);
  assert.match(unknown.error ?? '', /nope/);
  const key = await update('m_hash', 'seven', '{}');
  assert.equal(key.ok, false);
  assert.equal(key.field, 'key');
  assert.deepEqual(bpftoolDump(id('m_hash')), [], 'nothing written');
});

test('filter: a case-insensitive substring of the key text, counted', async () => {
  for (const k of [1, 12, 21, 3]) assert.deepEqual(await update('m_lru', `{ .x = ${k}, .y = 0 }`, 'BLUE'), { ok: true });
  const r = await elements('m_lru', '.X = 1');
  assert.equal(r.matched, 2);
  assert.deepEqual(r.elements.map((e) => e.key).sort(), ['{ .x = 1, .y = 0 }', '{ .x = 12, .y = 0 }']);
  assert.equal(r.elements[0].value, 'BLUE');
  assert.equal((await elements('m_lru', 'zzz')).matched, 0);
});

test('per-CPU maps: one value per CPU and their sum; a write goes to every CPU', async () => {
  assert.deepEqual(await update('m_pcpu_array', '1', '{ .x = -2, .y = 5 }'), { ok: true });
  const r = await elements('m_pcpu_array');
  const cpus = Number(execFileSync('nproc', ['--all']).toString());
  assert.ok(r.cpus && r.cpus >= cpus, `cpus ${r.cpus}`);
  const one = r.elements.find((e) => e.key === '1')!;
  assert.equal(one.cpus?.length, r.cpus);
  assert.ok(
    one.cpus.every((c) => c === '{ .x = -2, .y = 5 }'),
    one.cpus.join(' | '),
  );
  const n = r.cpus;
  // struct { __s16 x; __u8 y; }: each field summed, wrapping at its width
  assert.equal(one.sum, `{ .x = ${-2 * n}, .y = ${(5 * n) & 0xff} }`);
  assert.deepEqual(r.access, { update: true, delete: false, insert: false });
  assert.deepEqual(await update('m_pcpu_hash', '99', '7'), { ok: true });
  const h = (await elements('m_pcpu_hash')).elements.find((e) => e.key === '99')!;
  assert.equal(h.sum, String(7 * n));
  // bpftool sees the value on every CPU
  const k = bpftoolDump(id('m_pcpu_hash')) as unknown as { formatted: { values: { cpu: number; value: number }[] } }[];
  assert.ok(k[0].formatted.values.every((v) => v.value === 7));
});

test('maps user space does not write show no edits and refuse them; arrays cannot delete', async () => {
  const ro = maps.find((m) => m.name === '.rodata')!;
  for (const m of [ro.name, 'm_ringbuf', 'm_progs', 'm_aom', 'm_queue']) {
    const r = await elements(m);
    assert.deepEqual(r.access, { update: false, delete: false, insert: false }, m);
    const w = await update(m, '0', '1');
    assert.equal(w.ok, false, m);
    assert.match(w.error ?? '', /not writable/, m);
  }
  const a = await elements('m_array');
  assert.deepEqual(a.access, { update: true, delete: false, insert: false });
  assert.deepEqual(await update('m_array', '2', '-5'), { ok: true });
  assert.match((await elements('m_array')).elements.find((e) => e.key === '2')!.value, /^-5$/);
  const d = await del('m_array', '2');
  assert.equal(d.ok, false);
  assert.match(d.error ?? '', /keeps its keys/);
  // a CLI write meanwhile shows on the next read (the view reads live)
  const c = cli(['map', 'update', '--id', String(id('m_array')), '--key', '0', '--value', '77']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal((await elements('m_array')).elements.find((e) => e.key === '0')!.value, '77');
  const none = await update('nope', '0', '1');
  assert.match(none.error ?? '', /no map nope/);
});

test('after Unload the view is told the load is gone, so it stops reading; a map the load lacks is not "unloaded"', async () => {
  const missing = await elements('nope');
  assert.match(missing.error ?? '', /no map nope in load/);
  assert.equal(missing.unloaded, undefined);
  const r = await lsp.request<LoadResult>('bpfLens/loadObject', { path: path.join(ws.build, 'observe_maps.o') });
  assert.ok(r.ok, r.error?.message);
  const h = r.loaded!.handle;
  assert.ok((await lsp.request<Elements>('bpfLens/mapElements', { handle: h, map: 'm_array' })).elements.length > 0);
  await lsp.request('bpfLens/unloadObject', { handle: h });
  const gone = await lsp.request<Elements>('bpfLens/mapElements', { handle: h, map: 'm_array' });
  assert.equal(gone.unloaded, true);
  assert.equal(gone.error, `load ${h} was unloaded`);
});
