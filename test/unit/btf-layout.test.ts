// Record layout (offsets, sizes, holes, padding) against pahole reading the same BTF, and
// sizeOf/alignOf/typeName against clang compiling the C dump.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Btf } from '../../server/src/btf/btf';
import { dumpCDetailed } from '../../server/src/btf/dump-c';
import { alignOf, formatLayout, recordInfo, sizeOf, structLayout, typeName, type RecordLayout } from '../../server/src/btf/layout';
import { loadBtf } from '../../server/src/cli/input';
import { clangErrors } from '../btf-c-check';
import { fixture, run } from '../helpers';

interface PaholeMember {
  bitOffset: number;
  size: number;
  bits: number;
  holeBytes: number;
  holeBits: number;
}
interface PaholeRecord {
  kind: 'STRUCT' | 'UNION';
  name: string;
  members: PaholeMember[];
  summary: Map<string, number>;
  /** Every "XXX ..." hole line, nested ones included, in order. */
  xxx: string[];
}

/** Reads pahole's text: top-level members with offsets and sizes, holes, summary numbers. */
function parsePahole(text: string): PaholeRecord[] {
  const out: PaholeRecord[] = [];
  let rec: PaholeRecord | undefined;
  let depth = 0,
    holeBytes = 0,
    holeBits = 0;
  for (const line of text.split('\n')) {
    if (!rec) {
      const h = /^(struct|union) (\S+) \{$/.exec(line);
      if (h) {
        rec = { kind: h[1] === 'union' ? 'UNION' : 'STRUCT', name: h[2], members: [], summary: new Map(), xxx: [] };
        depth = 1;
      }
      continue;
    }
    const comment = /\/\*\s*(\d+)(?::\s*(\d+))?\s+(\d+)\s*\*\/\s*$/.exec(line);
    const xxx = /XXX (\d+) (byte|bit)s? hole/.exec(line);
    if (xxx) {
      rec.xxx.push(line.trim());
      if (depth === 1) {
        if (xxx[2] === 'byte') holeBytes += Number(xxx[1]);
        else holeBits += Number(xxx[1]);
      }
    } else if (/\{\s*$/.test(line)) {
      depth++;
    } else if (/^\s*\}/.test(line)) {
      depth--;
      if (depth === 0) {
        out.push(rec);
        rec = undefined;
        continue;
      }
    }
    if (comment && depth === 1 && !xxx) {
      const bits = /:(\d+);/.exec(line);
      const isBitfield = comment[2] !== undefined;
      rec.members.push({
        bitOffset: Number(comment[1]) * 8 + (isBitfield ? Number(comment[2]) : 0),
        size: Number(comment[3]),
        bits: isBitfield && bits ? Number(bits[1]) : 0,
        holeBytes,
        holeBits,
      });
      holeBytes = holeBits = 0;
    } else if (depth === 1) {
      for (const m of line.matchAll(
        /(?<=\/\* |, )(size|sum members|holes|sum holes|padding|bit_padding|bit holes|sum bit holes): (\d+)/g,
      )) {
        rec.summary.set(m[1], Number(m[2]));
      }
    }
  }
  return out;
}

/** Compares our layout of every record pahole printed (names unique in the BTF). */
function compareWithPahole(btf: Btf, file: string): number {
  const recs = parsePahole(run('pahole', ['-F', 'btf', file]));
  assert.ok(recs.length > 0, `pahole printed no records for ${file}`);
  let compared = 0;
  for (const p of recs) {
    const ids = btf.byName(p.name).filter((id) => btf.type(id).kind === p.kind);
    if (ids.length !== 1) continue;
    const l = structLayout(btf, ids[0]);
    const where = `${p.kind} ${p.name}`;
    assert.equal(l.rows.length, p.members.length, `${where}: members`);
    l.rows.forEach((r, i) => {
      const q = p.members[i];
      assert.deepEqual(
        { bitOffset: r.bitOffset, size: r.size, bits: r.bitSize, holeBytes: r.holeBefore, holeBits: r.bitHoleBefore },
        { bitOffset: q.bitOffset, size: q.size, bits: q.bits, holeBytes: q.holeBytes, holeBits: q.holeBits },
        `${where}.${r.name || `<anon ${i}>`}`,
      );
    });
    const s = p.summary;
    if (s.has('size')) {
      assert.equal(l.size, s.get('size'), `${where}: size`);
      assert.equal(l.tailPadding, s.get('padding') ?? 0, `${where}: padding`);
      assert.equal(l.tailBitPadding, s.get('bit_padding') ?? 0, `${where}: bit padding`);
    }
    if (p.kind === 'STRUCT') {
      assert.equal(l.holes, s.get('holes') ?? 0, `${where}: holes`);
      assert.equal(l.holeBytes, s.get('sum holes') ?? 0, `${where}: sum holes`);
      assert.equal(l.bitHoles, s.get('bit holes') ?? 0, `${where}: bit holes`);
      assert.equal(l.bitHoleBits, s.get('sum bit holes') ?? 0, `${where}: sum bit holes`);
      if (s.has('sum members')) assert.equal(l.sumMembers, s.get('sum members'), `${where}: sum members`);
    }
    compared++;
  }
  return compared;
}

test('layout_shapes: offsets, sizes, holes and padding agree with pahole', () => {
  const file = fixture('layout_shapes.o');
  const btf = loadBtf(file);
  const n = compareWithPahole(btf, file);
  assert.ok(n >= 10, `${n} records compared`);
  // the hole lines formatLayout writes, nested records included, are pahole's
  for (const p of parsePahole(run('pahole', ['-F', 'btf', file]))) {
    const [id] = btf.byName(p.name).filter((i) => btf.type(i).kind === p.kind);
    const ours = formatLayout(btf, structLayout(btf, id))
      .split('\n')
      .filter((l) => l.includes('XXX'))
      .map((l) => l.trim());
    assert.deepEqual(ours, p.xxx, `${p.kind} ${p.name}`);
  }
});

test('vmlinux: every record pahole prints has our offsets, sizes, holes and padding', (t) => {
  const n = compareWithPahole(loadBtf('/sys/kernel/btf/vmlinux'), '/sys/kernel/btf/vmlinux');
  t.diagnostic(`${n} records compared with pahole`);
  assert.ok(n > 5000);
});

test('layout rows: holes, bitfields, anonymous members and padding of known shapes', () => {
  const btf = loadBtf(fixture('layout_shapes.o'));
  const get = (name: string): RecordLayout => structLayout(btf, btf.find('STRUCT', name)!.id);
  const holes = get('holes');
  assert.deepEqual(
    holes.rows.map((r) => [r.name, r.offset, r.size, r.holeBefore]),
    [
      ['a', 0, 1, 0],
      ['b', 8, 8, 7],
      ['c', 16, 2, 0],
      ['d', 20, 4, 2],
      ['e', 24, 1, 0],
    ],
  );
  assert.equal(holes.tailPadding, 7);
  const bits = get('bits');
  const b = bits.rows.find((r) => r.name === 'b')!;
  assert.deepEqual([b.bitOffset, b.bitSize], [3, 9]);
  assert.equal(bits.rows.find((r) => r.name === 'c')!.bitHoleBefore, 4);
  const nested = get('nested');
  const anon = nested.rows[1];
  assert.equal(anon.name, '');
  assert.equal(anon.inner?.kind, 'UNION');
  assert.deepEqual(
    anon.inner.rows[0].inner!.rows.map((r) => [r.name, r.offset, r.holeBefore]),
    [
      ['tag', 8, 0],
      ['value', 16, 7],
    ],
  );
  assert.equal(get('packed_mix').packed, true);
  assert.equal(recordInfo(btf, btf.find('STRUCT', 'holes')!.id).packed, false);
  const text = formatLayout(btf, holes);
  assert.match(text, /\/\* XXX 7 bytes hole, try to pack \*\//);
  assert.match(text, /\/\* padding: 7 \*\//);
});

test('sizeOf, alignOf and typeName agree with clang on every member type of the fixture', () => {
  const file = fixture('layout_shapes.o');
  const btf = loadBtf(file);
  const res = dumpCDetailed(btf);
  const checks: string[] = [];
  let k = 0;
  for (const id of res.defined) {
    const t = btf.type(id);
    if (!t.name || (t.kind !== 'STRUCT' && t.kind !== 'UNION')) continue;
    for (const m of t.members) {
      const spelled = typeName(btf, m.type);
      if (!m.name || spelled.includes('{...}') || (t.kindFlag && m.bitfieldSize)) continue;
      const rec = `${t.kind === 'UNION' ? 'union' : 'struct'} ${t.name}`;
      const member = `((${rec} *)0)->${m.name}`;
      // typeName is a type name C accepts, and the very type of the member
      checks.push(`_Static_assert(__builtin_types_compatible_p(__typeof__(${member}), ${spelled}), "${rec}.${m.name}: ${spelled}");`);
      if (!/\[0\]$/.test(spelled)) {
        checks.push(`_Static_assert(sizeof(${spelled}) == ${sizeOf(btf, m.type)}, "sizeof ${spelled}");`);
        checks.push(`_Static_assert(_Alignof(${spelled}) == ${alignOf(btf, m.type)}, "alignof ${spelled}");`);
      }
      k++;
    }
  }
  const body = checks.join('\n');
  const { errors } = clangErrors(`${res.text}\n${body}\n`);
  assert.deepEqual(errors, []);
  assert.ok(k >= 30, `${k} members checked`);
  const node = btf.find('STRUCT', 'node')!;
  const spell = (name: string) => typeName(btf, (node.kind === 'STRUCT' ? node.members : []).find((m) => m.name === name)!.type);
  assert.equal(spell('handlers'), 'void (*[2])(int)');
  assert.equal(spell('matrix'), 'int (*)[3][4]');
  assert.equal(spell('next'), 'node_t *');
});
