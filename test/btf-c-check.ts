// Checks a C dump of BTF against the BTF itself with the real compiler: the dump must
// compile, and clang's sizeof/offsetof/_Alignof of every written record, and the BTF clang
// makes back from the dump, must agree with the original BTF.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { type Btf } from '../server/src/btf/btf';
import { type DumpCResult } from '../server/src/btf/dump-c';
import { memberBits, recordInfo, sizeOf } from '../server/src/btf/layout';
import { type BtfComposite, type TypeId } from '../server/src/btf/types';
import { loadBtf } from '../server/src/cli/input';

const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-dumpc-'));
let seq = 0;

/** Compiles C with clang for BPF; returns the error lines (warnings are allowed). */
export function clangErrors(source: string, extra: string[] = ['-fsyntax-only']): { errors: string[]; file: string; out: string } {
  const file = path.join(dir, `t${seq++}.c`);
  const out = file.replace(/\.c$/, '.o');
  writeFileSync(file, source);
  const args = ['-target', 'bpf', '-Wno-everything', ...extra, file];
  if (!extra.includes('-fsyntax-only')) args.push('-o', out);
  const r = spawnSync('clang', args, { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 300_000 });
  const errors = (r.stderr ?? '').split('\n').filter((l) => /error:/.test(l));
  if (r.status !== 0 && errors.length === 0) errors.push(`clang exited ${r.status}: ${r.stderr || r.error}`);
  return { errors, file, out };
}

function spell(btf: Btf, res: DumpCResult, id: TypeId): string {
  const t = btf.type(id);
  return `${t.kind === 'UNION' ? 'union' : 'struct'} ${res.names.get(id)}`;
}

/** `_Static_assert`s of size, alignment and every member offset of the written records. */
export function layoutAsserts(btf: Btf, res: DumpCResult, every = 1): { text: string; count: number } {
  const lines: string[] = [];
  let n = 0;
  res.defined.forEach((id, k) => {
    const t = btf.type(id);
    if (!t.name || k % every !== 0 || (t.kind !== 'STRUCT' && t.kind !== 'UNION')) return;
    const c = spell(btf, res, id);
    lines.push(`_Static_assert(sizeof(${c}) == ${t.size}, "size of ${c}");`);
    lines.push(`_Static_assert(_Alignof(${c}) == ${recordInfo(btf, id).align}, "align of ${c}");`);
    n += 2;
    const walk = (rec: BtfComposite, base: number): void => {
      rec.members.forEach((m, i) => {
        const { bitOffset, bitSize } = memberBits(btf, rec, i);
        const inner = btf.type(btf.skipModifiers(m.type));
        if (!m.name && (inner.kind === 'STRUCT' || inner.kind === 'UNION')) return walk(inner, base + bitOffset);
        if (!m.name || bitSize) return;
        lines.push(`_Static_assert(__builtin_offsetof(${c}, ${m.name}) == ${(base + bitOffset) / 8}, "${c}.${m.name}");`);
        n++;
      });
    };
    walk(t, 0);
  });
  return { text: lines.join('\n') + '\n', count: n };
}

/**
 * Compiles the dump with -g and checks that the BTF clang emits for every written named
 * record has the original's size, member names, bit offsets and bitfield sizes.
 */
export function roundTrip(btf: Btf, res: DumpCResult): number {
  const uses = res.defined.filter((id) => btf.type(id).name).map((id, i) => `${spell(btf, res, id)} __bpf_lens_use_${i};`);
  if (uses.length === 0) return 0; // clang writes no .BTF without types
  const { errors, out } = clangErrors(`${res.text}\n${uses.join('\n')}\n`, ['-g', '-c']);
  assert.deepEqual(errors.slice(0, 5), []);
  const back = loadBtf(out);
  let checked = 0;
  for (const id of res.defined) {
    const t = btf.type(id) as BtfComposite;
    if (!t.name) continue;
    const again = back.find(t.kind, res.names.get(id)!);
    assert.ok(again && (again.kind === 'STRUCT' || again.kind === 'UNION'), `clang's BTF lacks ${t.kind} ${res.names.get(id)}`);
    sameShape(btf, t, back, again, res.names.get(id)!);
    checked++;
  }
  return checked;
}

function sameShape(a: Btf, ta: BtfComposite, b: Btf, tb: BtfComposite, where: string): void {
  assert.equal(tb.size, ta.size, `${where}: size`);
  const named = (btf: Btf, t: BtfComposite) => t.members.map((m, i) => ({ m, bits: memberBits(btf, t, i) }));
  // clang never writes our unnamed padding bitfields into BTF, so members line up one to one
  const ma = named(a, ta),
    mb = named(b, tb).filter((x) => !x.m.name.startsWith('__bpf_lens_pad'));
  assert.equal(mb.length, ma.length, `${where}: member count`);
  ma.forEach((x, i) => {
    const y = mb[i];
    const w = `${where}.${x.m.name || `<anon ${i}>`}`;
    assert.equal(y.m.name, x.m.name, `${w}: name`);
    assert.equal(y.bits.bitOffset, x.bits.bitOffset, `${w}: bit offset`);
    assert.equal(y.bits.bitSize, x.bits.bitSize, `${w}: bitfield size`);
    assert.equal(sizeOf(b, y.m.type), sizeOf(a, x.m.type), `${w}: size`);
    const ia = a.type(a.skipTypedefs(x.m.type)),
      ib = b.type(b.skipTypedefs(y.m.type));
    if (!ia.name && (ia.kind === 'STRUCT' || ia.kind === 'UNION')) {
      assert.equal(ib.kind, ia.kind, `${w}: kind`);
      sameShape(a, ia, b, ib, w);
    }
  });
}
