// The custom requests over a real connection: object summaries, paged and searchable BTF
// types on vmlinux-sized data, documents (C and raw dumps against bpftool), bad objects,
// re-indexing on file events.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { parseBtf } from '../../server/src/btf/btf';
import { dumpC } from '../../server/src/btf/dump-c';
import { run } from '../helpers';
import { compile, LspClient, makeWorkspace } from './lsp-client';

interface Summary {
  path: string;
  name: string;
  size: number;
  mtimeMs: number;
  error?: string;
  btfKinds: { kind: string; count: number }[];
  programs: unknown[];
  maps: unknown[];
}
interface Page {
  total: number;
  offset: number;
  items: { id: number; kind: string; name: string; detail: string }[];
}

const ws = makeWorkspace(['lsp_maps.bpf.c', 'lsp_progs.bpf.c']);
const VMLINUX = path.join(ws.dir, 'btf', 'vmlinux');
let lsp: LspClient;

before(async () => {
  run('mkdir', ['-p', path.dirname(VMLINUX)]);
  copyFileSync('/sys/kernel/btf/vmlinux', VMLINUX);
  writeFileSync(path.join(ws.build, 'junk.o'), Buffer.from('\x7fELF\x02\x01\x01' + 'x'.repeat(40)));
  run('mkdir', ['-p', path.join(ws.dir, 'node_modules', 'dep')]);
  copyFileSync(path.join(ws.build, 'lsp_maps.o'), path.join(ws.dir, 'node_modules', 'dep', 'ignored.o'));
  lsp = await LspClient.start(ws.dir);
});
after(async () => {
  await lsp.stop();
  ws.cleanup();
});

async function objects(): Promise<Summary[]> {
  return (await lsp.request<{ objects: Summary[] }>('bpfLens/objects', {})).objects;
}

test('the server advertises its requests under experimental capabilities', () => {
  const exp = lsp.initResult.capabilities.experimental as { bpfLens: { requests: string[] } };
  assert.deepEqual([...exp.bpfLens.requests].sort(), [
    'bpfLens/attach',
    'bpfLens/attachPlace',
    'bpfLens/baseDiff',
    'bpfLens/btfTypes',
    'bpfLens/coreRelocations',
    'bpfLens/detach',
    'bpfLens/distill',
    'bpfLens/document',
    'bpfLens/eventsDecode',
    'bpfLens/explainVerification',
    'bpfLens/linkObjects',
    'bpfLens/loadMatrix',
    'bpfLens/loadObject',
    'bpfLens/loadedObjects',
    'bpfLens/mapDelete',
    'bpfLens/mapElements',
    'bpfLens/mapUpdate',
    'bpfLens/objectList',
    'bpfLens/objects',
    'bpfLens/observeEvents',
    'bpfLens/programStats',
    'bpfLens/reindex',
    'bpfLens/selectTarget',
    'bpfLens/stopEvents',
    'bpfLens/targetBtf',
    'bpfLens/targets',
    'bpfLens/testRun',
    'bpfLens/unloadObject',
  ]);
  assert.equal(lsp.initResult.capabilities.hoverProvider, true);
});

test('objects: the workspace objects by the default globs, node_modules left out, a bad object as an error item', async () => {
  const objs = await objects();
  assert.deepEqual(objs.map((o) => path.relative(ws.dir, o.path)).sort(), ['build/junk.o', 'build/lsp_maps.o', 'build/lsp_progs.o']);
  const junk = objs.find((o) => o.name === 'junk.o')!;
  assert.match(junk.error ?? '', /junk\.o/);
  const maps = objs.find((o) => o.name === 'lsp_maps.o')!;
  assert.equal(maps.error, undefined);
  // Each map knows its definition line in the source (the tree's "go to definition").
  const srcLines = readFileSync(path.join(ws.src, 'lsp_maps.bpf.c'), 'utf8').split('\n');
  const hash = (maps.maps as { name: string; source?: { file: string; line: number } }[]).find((m) => m.name === 'lsp_hash')!;
  assert.deepEqual(hash.source, {
    file: path.join(ws.src, 'lsp_maps.bpf.c'),
    line: srcLines.findIndex((l) => l.includes('} lsp_hash SEC')),
  });
  const prog = (maps.programs as { name: string; source?: { file: string; line: number } }[]).find((p) => p.name === 'lsp_use_maps')!;
  assert.equal(
    prog.source?.line,
    srcLines.findIndex((l) => l.includes('int lsp_use_maps(')),
  );
  const want = new Map<string, number>();
  for (const l of run('bpftool', ['btf', 'dump', 'file', path.join(ws.build, 'lsp_maps.o')]).split('\n')) {
    const m = /^\[\d+\] (\w+) /.exec(l);
    if (m) want.set(m[1], (want.get(m[1]) ?? 0) + 1);
  }
  assert.deepEqual(new Map(maps.btfKinds.map((k) => [k.kind, k.count])), want);
});

test("objectList: a line per object (what the tree's root shows), agreeing with the whole summaries", async () => {
  const list = (await lsp.request<{ objects: Record<string, unknown>[] }>('bpfLens/objectList')).objects;
  const whole = await objects();
  assert.deepEqual(
    list.map((e) => e.path),
    whole.map((o) => o.path),
  );
  for (const [i, o] of whole.entries()) {
    const want: Record<string, unknown> = {
      path: o.path,
      name: o.name,
      size: o.size,
      mtimeMs: o.mtimeMs,
      programCount: o.programs.length,
      mapCount: o.maps.length,
    };
    if (o.error !== undefined) want.error = o.error;
    assert.deepEqual(list[i], want, o.name);
  }
  assert.ok(list.some((e) => (e.programCount as number) > 0 && (e.mapCount as number) > 0));
  // The line is small: no program, map, extern or BTF lists ride along.
  assert.ok(JSON.stringify(list).length * 3 < JSON.stringify(whole).length);
});

test('btfTypes: pages of a kind on vmlinux BTF, ids in order, totals as bpftool counts them', async () => {
  const dump = run('bpftool', ['btf', 'dump', 'file', VMLINUX]);
  const funcs: number[] = [];
  const structs = new Map<string, number>();
  for (const l of dump.split('\n')) {
    const m = /^\[(\d+)\] (\w+) '([^']*)'/.exec(l);
    if (!m) continue;
    if (m[2] === 'FUNC') funcs.push(Number(m[1]));
    if (m[2] === 'STRUCT') structs.set(m[3], Number(m[1]));
  }
  assert.ok(funcs.length > 20_000, `${funcs.length} FUNCs`);
  const first = await lsp.request<Page>('bpfLens/btfTypes', { path: VMLINUX, kind: 'FUNC', offset: 0, limit: 100 });
  assert.equal(first.total, funcs.length);
  assert.deepEqual(
    first.items.map((i) => i.id),
    funcs.slice(0, 100),
  );
  const last = await lsp.request<Page>('bpfLens/btfTypes', { path: VMLINUX, kind: 'FUNC', offset: funcs.length - 7, limit: 100 });
  assert.deepEqual(
    last.items.map((i) => i.id),
    funcs.slice(-7),
  );
  const t0 = performance.now();
  const mid = await lsp.request<Page>('bpfLens/btfTypes', { path: VMLINUX, kind: 'FUNC', offset: 30_000, limit: 500 });
  const ms = performance.now() - t0;
  assert.deepEqual(
    mid.items.map((i) => i.id),
    funcs.slice(30_000, 30_500),
  );
  assert.ok(ms < 1000, `a page took ${ms} ms`);
  const found = await lsp.request<Page>('bpfLens/btfTypes', { path: VMLINUX, kind: 'STRUCT', search: 'TASK_STRUCT', limit: 50 });
  const hit = found.items.find((i) => i.name === 'task_struct');
  assert.ok(hit, 'task_struct found');
  assert.equal(hit.id, structs.get('task_struct'));
  assert.match(hit.detail, /^struct task_struct \(\d+ bytes, \d+ members\)$/);
  assert.ok(found.items.every((i) => i.kind === 'STRUCT' && i.name.toLowerCase().includes('task_struct')));
  const byId = await lsp.request<Page>('bpfLens/btfTypes', { path: VMLINUX, search: `#${structs.get('task_struct')}` });
  assert.deepEqual(
    byId.items.map((i) => i.name),
    ['task_struct'],
  );
});

test('document: C and raw dumps are what bpftool prints, summary names programs and maps', async () => {
  const obj = path.join(ws.build, 'lsp_maps.o');
  const raw = await lsp.request<{ text: string; languageId: string }>('bpfLens/document', { path: obj, kind: 'raw' });
  assert.equal(raw.text, run('bpftool', ['btf', 'dump', 'file', obj]));
  const c = await lsp.request<{ text: string; languageId: string }>('bpfLens/document', { path: obj, kind: 'c' });
  assert.equal(c.languageId, 'c');
  assert.match(c.text, /struct holey \{\n\t__u8 tag;\n\t__u64 count;\n\t__u16 port;\n\};/);
  await assert.rejects(lsp.request('bpfLens/document', { path: path.join(ws.build, 'junk.o'), kind: 'c' }), /junk\.o/);
  await assert.rejects(lsp.request('bpfLens/document', { path: path.join(ws.build, 'missing.o'), kind: 'c' }), /ENOENT|no such file/);
});

test('a vmlinux C dump runs off the server thread: hovers answer while it is being written', async () => {
  const src = path.join(ws.src, 'lsp_maps.bpf.c');
  const text = readFileSync(src, 'utf8');
  const uri = await lsp.open(src, text);
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes('} lsp_hash SEC'));
  const order: string[] = [];
  const dump = lsp.request<{ text: string }>('bpfLens/document', { path: VMLINUX, kind: 'c' }).then((r) => {
    order.push('dump');
    return r;
  });
  await new Promise((r) => setTimeout(r, 50));
  const hovers = [];
  for (let i = 0; i < 5; i++)
    hovers.push(
      lsp.hover(uri, line, 3).then((h) => {
        order.push('hover');
        return h;
      }),
    );
  const got = await Promise.all(hovers);
  assert.ok(got.every((h) => h && h.includes('lsp_hash')));
  const c = await dump;
  assert.deepEqual(order, ['hover', 'hover', 'hover', 'hover', 'hover', 'dump']);
  // The worker's text is the library's dumpC (tested against bpftool and clang elsewhere).
  assert.equal(c.text, dumpC(parseBtf(new Uint8Array(readFileSync(VMLINUX)))));
  assert.match(c.text, /\nstruct task_struct \{\n/);
});

test('an object built in another directory links to the workspace copy of its source by base name', async () => {
  const elsewhere = mkdtempSync(path.join(tmpdir(), 'bpf-lens-elsewhere-'));
  copyFileSync(path.join(ws.src, 'lsp_progs.bpf.c'), path.join(elsewhere, 'lsp_moved.bpf.c'));
  compile(path.join(elsewhere, 'lsp_moved.bpf.c'), path.join(ws.build, 'moved.o'));
  rmSync(elsewhere, { recursive: true });
  copyFileSync(path.join(ws.src, 'lsp_progs.bpf.c'), path.join(ws.src, 'lsp_moved.bpf.c'));
  const objs = (await lsp.request<{ objects: (Summary & { sources: string[] })[] }>('bpfLens/reindex')).objects;
  const moved = objs.find((o) => o.name === 'moved.o')!;
  assert.deepEqual(moved.sources, [path.join(ws.src, 'lsp_moved.bpf.c')]);
  rmSync(path.join(ws.build, 'moved.o'));
  rmSync(path.join(ws.src, 'lsp_moved.bpf.c'));
  await lsp.request('bpfLens/reindex');
});

test('file events: a new object is indexed, a rebuilt one re-read, a deleted one dropped; the server keeps answering', async () => {
  const extra = path.join(ws.build, 'again.o');
  copyFileSync(path.join(ws.build, 'lsp_progs.o'), extra);
  await lsp.filesChanged([{ file: extra, type: 1 }]);
  await lsp.until('objectsChanged for again.o', () =>
    lsp.notifications.find((n) => n.method === 'bpfLens/objectsChanged' && (n.params as { paths: string[] }).paths.includes(extra)),
  );
  assert.ok((await objects()).some((o) => o.path === extra));
  // Overwritten with garbage: the next summary is an error item.
  writeFileSync(extra, readFileSync(extra).subarray(0, 100));
  await lsp.filesChanged([{ file: extra, type: 2 }]);
  assert.match((await objects()).find((o) => o.path === extra)?.error ?? '', /again\.o/);
  rmSync(extra);
  await lsp.filesChanged([{ file: extra, type: 3 }]);
  const objs = await objects();
  assert.ok(!objs.some((o) => o.path === extra));
  // Rebuilt from source: re-read (summary mtime moves).
  const before = objs.find((o) => o.name === 'lsp_progs.o')!;
  compile(path.join(ws.src, 'lsp_progs.bpf.c'), path.join(ws.build, 'lsp_progs.o'));
  await lsp.filesChanged([{ file: path.join(ws.build, 'lsp_progs.o'), type: 2 }]);
  const rebuilt = (await objects()).find((o) => o.name === 'lsp_progs.o')!;
  assert.ok(rebuilt.mtimeMs > before.mtimeMs, 'rebuilt object re-read');
});
