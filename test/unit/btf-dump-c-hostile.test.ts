// The C dump and layouts of valid but extreme BTF, and of hostile BTF: deep chains are
// dumped (no recursion limit hit), loops C cannot spell are refused with a clear error, and
// the text of anonymous records reused 16^depth times streams in bounded memory or stops
// at a limit while it is made.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Btf } from '../../server/src/btf/btf';
import { CLimitError, dumpC, dumpCTo } from '../../server/src/btf/dump-c';
import { sizeOf, structLayout } from '../../server/src/btf/layout';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { clangErrors } from '../btf-c-check';
import { cli } from '../helpers';
import { maker, SIGNED } from '../btf-make';

/** struct deep { int <declarator> m; } where the member type is `wrap` applied `n` times to int. */
function chain(n: number, wrap: (m: ReturnType<typeof maker>, inner: number) => number): Btf {
  const b = new BtfBuilder();
  const m = maker(b);
  let t = m.int('int', 4, SIGNED);
  m.int('long', 8, SIGNED);
  for (let i = 0; i < n; i++) t = wrap(m, t);
  m.struct('deep', 8, [m.mem('m', t)]);
  return b.build();
}

/**
 * A chain of anonymous structs, each holding `copies` of the one before: tiny BTF whose C
 * text spells copies^depth records (the record is reused, as __typeof__ does).
 */
export function reusedAnon(depth: number, copies: number): Btf {
  const b = new BtfBuilder();
  const m = maker(b);
  let t = m.int('int', 4, SIGNED);
  let size = 4;
  for (let d = 0; d < depth; d++) {
    const members = Array.from({ length: copies }, (_, k) => m.mem(`m${k}`, t, k * size * 8));
    size *= copies;
    t = m.struct('', size, members);
  }
  m.struct('top', size, [m.mem('x', t)]);
  return b.build();
}

test('2,900 array dimensions and 200,000 pointers: dumped, laid out, and the arrays compile', () => {
  const arrays = chain(2900, (m, t) => m.array(t, 1, 1));
  const c = dumpC(arrays);
  assert.ok(c.includes(`int m${'[1]'.repeat(2900)};`), c.slice(0, 300));
  assert.equal(sizeOf(arrays, arrays.find('STRUCT', 'deep')!.id), 8);
  assert.equal(structLayout(arrays, arrays.find('STRUCT', 'deep')!.id).rows[0].size, 4);
  assert.deepEqual(clangErrors(c).errors.slice(0, 3), []);
  const ptrs = chain(200_000, (m, t) => m.ptr(t));
  const p = dumpC(ptrs);
  assert.ok(p.includes(`int ${'*'.repeat(200_000)}m;`));
  assert.equal(structLayout(ptrs, ptrs.find('STRUCT', 'deep')!.id).rows[0].size, 8);
});

test('a loop of pointers (valid to the parser, not to C): a clear error, no hang', () => {
  const b = new BtfBuilder();
  const m = maker(b);
  const a = m.ptr(2); // 1 → 2 → 1
  m.ptr(a);
  m.struct('loop', 8, [m.mem('p', a)]);
  const btf = b.build();
  assert.throws(() => dumpC(btf), /loop/);
});

test('anonymous records reused 16^7 times: the dump stops at maxChars while it is made', () => {
  const btf = reusedAnon(7, 16);
  const started = Date.now();
  assert.throws(
    () => dumpC(btf, { maxChars: 1 << 20 }),
    (e) => e instanceof CLimitError && e.partial.length === 1 << 20 && /larger than 1048576 characters/.test(e.message),
  );
  assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
  // the layout shows each record once
  const l = structLayout(btf, btf.find('STRUCT', 'top')!.id);
  let rows = 0;
  const count = (x: typeof l) => {
    for (const r of x.rows) {
      rows++;
      if (r.inner) count(r.inner);
    }
  };
  count(l);
  assert.ok(rows <= 7 * 16 + 1, `${rows} rows`);
  assert.equal(l.rows[0].inner!.rows[1].sameAs, 'x.m0');
});

test('anonymous records reused 16^5 times: written in chunks as they are made (as bpftool streams)', () => {
  const btf = reusedAnon(5, 16);
  let total = 0,
    biggest = 0,
    chunks = 0,
    firstAt = -1;
  dumpCTo(btf, (s) => {
    if (firstAt < 0) firstAt = total;
    total += s.length;
    biggest = Math.max(biggest, s.length);
    chunks++;
  });
  // 16^5 member lines: the first chunk leaves before the text is made, none is large
  assert.ok(total > 16 ** 5 * 8, `${total} characters`);
  assert.ok(chunks > 100, `${chunks} chunks`);
  assert.equal(firstAt, 0);
  assert.ok(biggest < 1 << 20, `a chunk of ${biggest}`);
});

test('btf dump -f c of a 1.6 KB-class hostile file streams to stdout (16^5 copies) and ends', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-hostile-'));
  try {
    const file = path.join(dir, 'reused.btf');
    const raw = writeBtf(reusedAnon(5, 16));
    assert.ok(raw.length < 2048, `${raw.length} bytes`);
    writeFileSync(file, raw);
    const r = cli(['btf', 'dump', file, '-f', 'c'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('int m0;').length - 1, 16 ** 4); // one per innermost struct
    assert.match(r.stdout, /#endif \/\* __VMLINUX_H__ \*\/\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
