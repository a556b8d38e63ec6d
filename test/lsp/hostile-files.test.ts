// Files a hostile object or request names: line_info naming /dev/zero or a FIFO, and a
// document request for /dev/zero. Only regular files within limits are read, never blocking:
// `inspect` ends, and the language server answers with a clear error and keeps answering.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { cli } from '../helpers';
import { compile, LspClient } from './lsp-client';

const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-hostile-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * An object whose line_info names `source`, with a map defined there: compiled with a
 * #line naming a file that does not exist (clang itself would read a device), then that
 * name patched to `source` (same length) in the object's strings.
 */
function objectNaming(source: string, name: string): string {
  const c = path.join(dir, `${name}.bpf.c`);
  const stand = `${source.slice(0, -1)}\u0001`.replace('\u0001', source.endsWith('_') ? '-' : '_');
  writeFileSync(
    c,
    [
      '#include <linux/bpf.h>',
      '#include <bpf/bpf_helpers.h>',
      `#line 1 "${stand}"`,
      'struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); __type(value, int); } m SEC(".maps");',
      'SEC("xdp") int prog(struct xdp_md *ctx) { int k = 0; int *v = bpf_map_lookup_elem(&m, &k); return v ? *v : 2; }',
      'char LICENSE[] SEC("license") = "GPL";',
      '',
    ].join('\n'),
  );
  const o = path.join(dir, `${name}.o`);
  compile(c, o);
  const bytes = readFileSync(o);
  const from = Buffer.from(stand),
    to = Buffer.from(source);
  let n = 0;
  for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1), n++) to.copy(bytes, at);
  assert.ok(n > 0, `${stand} in ${o}`);
  writeFileSync(o, bytes);
  return o;
}

test('inspect of objects whose line_info names /dev/zero and a FIFO: ends, reports the object', () => {
  const fifo = path.join(dir, 'fifo.c');
  const objects = [
    ['/dev/zero', 'zero'],
    [fifo, 'fifo'],
    ['/dev/stdin', 'stdin'],
  ].map(([source, name]) => [name, objectNaming(source, name)]);
  execFileSync('mkfifo', [fifo]);
  for (const [name, object] of objects) {
    const started = Date.now();
    const r = cli(['inspect', object], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, /prog/);
    assert.ok(Date.now() - started < 30_000);
  }
});

test('the language server: a document of /dev/zero or a FIFO is a clear error, and it keeps answering', async () => {
  const ws = path.join(dir, 'ws');
  mkdirSync(ws);
  const lsp = await LspClient.start(ws);
  try {
    const fifo = path.join(dir, 'pipe.o');
    execFileSync('mkfifo', [fifo]);
    for (const p of ['/dev/zero', fifo]) {
      const started = Date.now();
      const answer = await lsp.request<{ text: string }>('bpfLens/document', { path: p, kind: 'summary' }).then(
        (r) => r.text,
        (e: Error) => e.message,
      );
      assert.match(answer, /not a regular file/, p);
      assert.ok(Date.now() - started < 10_000, `${p}: ${Date.now() - started} ms`);
    }
    const ok = await lsp.request<{ text: string }>('bpfLens/document', { path: objectNaming('/dev/zero', 'zero2'), kind: 'summary' });
    assert.match(ok.text, /prog/);
  } finally {
    await lsp.stop();
  }
});

test('a workspace of a FIFO named x.o, a directory named d.o, a truncated .ko, a corrupt object and a symlink loop: indexing answers, one error each', async () => {
  const ws = path.join(dir, 'ws2');
  mkdirSync(path.join(ws, 'd.o'), { recursive: true });
  execFileSync('mkfifo', [path.join(ws, 'x.o')]);
  writeFileSync(path.join(ws, 'trunc.ko'), readFileSync(objectNaming('/dev/zero', 'ko')).subarray(0, 100));
  writeFileSync(path.join(ws, 'corrupt.o'), Buffer.from('\x7fELF garbage'));
  execFileSync('ln', ['-s', 'loop', path.join(ws, 'loop')]);
  execFileSync('ln', ['-s', '.', path.join(ws, 'self')]);
  writeFileSync(path.join(ws, 'good.o'), readFileSync(objectNaming('/dev/zero', 'good')));
  const lsp = await LspClient.start(ws);
  try {
    const started = Date.now();
    const { objects } = await lsp.request<{ objects: { path: string; error?: string }[] }>('bpfLens/objects', {});
    assert.ok(Date.now() - started < 20_000, `${Date.now() - started} ms`);
    const by = new Map(objects.map((o) => [path.relative(ws, o.path), o]));
    assert.equal(by.get('good.o')?.error, undefined);
    for (const bad of ['trunc.ko', 'corrupt.o']) assert.ok(by.get(bad)?.error, `${bad}: ${JSON.stringify(by.get(bad))}`);
    for (const odd of ['x.o', 'd.o']) assert.ok(!by.has(odd) || by.get(odd)!.error, `${odd}: ${JSON.stringify(by.get(odd))}`);
    // still answering
    assert.ok((await lsp.request<{ objects: unknown[] }>('bpfLens/objects', {})).objects.length >= 3);
  } finally {
    await lsp.stop();
  }
});
