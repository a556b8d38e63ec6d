// Distilled base BTF: hand-made split BTF that reaches every rule of btf__distill_base,
// and every Debian 6.1 module distilled on its vmlinux and relocated back onto it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseBtf } from '../../server/src/btf/btf';
import { DistillError, distillBase } from '../../server/src/btf/distill';
import { distillModule, readModuleBtf } from '../../server/src/btf/module-btf';
import { RelocateError, TargetIndex, mapDistilledBase, relocateSplit } from '../../server/src/btf/relocate';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { buildElf } from '../../server/src/elf/build';
import { SHT_PROGBITS } from '../../server/src/elf/constants';
import { ElfFile } from '../../server/src/elf/reader';
import { canonOwn, canonType, missingFrom } from '../btf-canon';
import { SIGNED, maker } from '../btf-make';
import { debianKernel } from '../kernels';

/** A base with every kind split BTF can reach, and a split that reaches them. */
function sample(littleEndian = true) {
  const bb = new BtfBuilder(undefined, littleEndian);
  const b = maker(bb);
  const int = b.int('int', 4, SIGNED);
  const chr = b.int('char', 1, SIGNED);
  const long = b.int('long', 8, SIGNED);
  const inner = b.struct('inner', 8, [b.mem('a', int), b.mem('b', int, 32)]);
  const hidden = b.struct('hidden', 4, [b.mem('x', int)]);
  const phidden = b.ptr(hidden);
  const outer = b.struct('outer', 16, [b.mem('i', inner), b.mem('p', phidden, 64)]);
  const pointee = b.struct('pointee', 24, [b.mem('l', long)]);
  const ppointee = b.ptr(pointee);
  const anon = b.struct('', 16, [b.mem('c', chr), b.mem('q', ppointee, 64)]);
  const anonT = b.typedef('anon_t', anon);
  const color = b.enum('color', 4, [
    ['RED', 0],
    ['BLUE', 1],
  ]);
  const big = b.enum64('big', [['HUGE', 1n << 40n]]);
  const anonEnum = b.enum('', 4, [['A', 1]]);
  const opaque = b.fwd('opaque');
  const uopaque = b.fwd('uopaque', true);
  const dbl = b.float('double', 8);
  const arr = b.array(int, int, 4);
  const cOuter = b.konst(outer);
  const proto = b.proto(long, [int]);
  const u = b.union('u', 8, [b.mem('l', long), b.mem('i', int)]);
  b.struct('unused', 4, [b.mem('x', int)]);
  const basefn = b.func('basefn', proto);
  const tagged = b.typeTag('user', int);
  const vchr = b.volatile(chr);
  const base = bb.build();

  const sb = new BtfBuilder(base);
  const s = maker(sb);
  const sp = (t: number) => s.ptr(t);
  const modS = s.struct('mod_s', 120, [
    s.mem('o', outer),
    s.mem('t', anonT, 128),
    s.mem('e', color, 256),
    s.mem('b', big, 320),
    s.mem('ae', anonEnum, 384),
    s.mem('f', 0, 416),
    s.mem('uf', 0, 480),
    s.mem('d', dbl, 544),
    s.mem('arr', arr, 608),
    s.mem('co', cOuter, 736),
    s.mem('u', u, 864),
    s.mem('tt', 0, 928),
    s.mem('v', vchr, 992),
  ]);
  const fp = sp(opaque),
    ufp = sp(uopaque),
    tp = sp(tagged);
  const modProto = s.proto(int, [sp(outer), sp(proto)]);
  s.func('modfn', modProto);
  const built = sb.build();
  // close the member references added after the struct
  const st = built.type(modS);
  if (st.kind !== 'STRUCT') throw new Error('unreachable');
  const members = st.members.map((m) =>
    m.name === 'f' ? { ...m, type: fp } : m.name === 'uf' ? { ...m, type: ufp } : m.name === 'tt' ? { ...m, type: tp } : m,
  );
  sb.replace(modS, { ...st, members });
  return {
    base,
    split: sb.build(),
    ids: { int, chr, long, inner, hidden, outer, pointee, anon, anonT, anonEnum, arr, cOuter, proto, basefn, tagged, vchr, ppointee },
  };
}

test('distill: named INT/FLOAT/FWD in full, named STRUCT/UNION/ENUM empty of the same size, the rest moves to split', () => {
  const { split, ids } = sample();
  const d = distillBase(split);
  const got = d.base.types.map((t) => [
    t.kind,
    t.name,
    'size' in t ? t.size : 0,
    'members' in t ? t.members.length : 'values' in t ? t.values.length : '-',
  ]);
  assert.deepEqual(got, [
    ['INT', 'int', 4, '-'],
    ['INT', 'char', 1, '-'],
    ['INT', 'long', 8, '-'],
    ['STRUCT', 'outer', 16, 0],
    ['STRUCT', 'pointee', 24, 0],
    ['ENUM', 'color', 4, 0],
    ['ENUM', 'big', 8, 0],
    ['FWD', 'opaque', 0, '-'],
    ['FWD', 'uopaque', 0, '-'],
    ['FLOAT', 'double', 8, '-'],
    ['UNION', 'u', 8, 0],
  ]);
  const chr = d.base.find('INT', 'char');
  assert.ok(chr?.kind === 'INT' && chr.encoding === SIGNED, 'INT keeps its encoding');
  assert.equal(d.base.find('FWD', 'uopaque')!.kindFlag, true);
  // hidden and inner are reached only through outer's members; unused not at all
  for (const name of ['hidden', 'inner', 'unused', 'basefn']) assert.equal(d.base.byName(name).length, 0, name);

  // split: the original types first (same canonical text), then the moved ones in base id order
  const before = canonOwn(split);
  const after = canonOwn(d.split);
  assert.deepEqual(after.slice(0, before.length), before);
  const movedIds = [ids.ppointee, ids.anon, ids.anonT, ids.anonEnum, ids.arr, ids.cOuter, ids.proto, ids.tagged, ids.vchr];
  assert.deepEqual(
    after.slice(before.length),
    movedIds.map((id) => canonType(split, id)),
  );
  assert.equal(d.split.startId, d.base.length);
  for (const id of movedIds) assert.equal(d.baseIdMap[id], d.split.startId + before.length + movedIds.indexOf(id));
  assert.equal(d.baseIdMap[ids.hidden], 0);
});

test('distill: written and parsed back in both byte orders, relocated back onto the original base', () => {
  for (const le of [true, false]) {
    const { base, split } = sample(le);
    const d = distillBase(split);
    const baseBytes = writeBtf(d.base);
    assert.equal(baseBytes[0], le ? 0x9f : 0xeb);
    const rbase = parseBtf(baseBytes, { section: '.BTF.base' });
    const rsplit = parseBtf(writeBtf(d.split), { base: rbase });
    assert.deepEqual(canonOwn(rsplit), canonOwn(d.split));
    const m = mapDistilledBase(rsplit, base);
    assert.deepEqual(
      m.matches.filter((x) => x.status !== 'match'),
      [],
    );
    const back = relocateSplit(rsplit, base).btf;
    assert.deepEqual(missingFrom(canonOwn(back), canonOwn(split)), []);
    assert.equal(back.count, d.split.count);
  }
});

test('distill: refuses split BTF that refers to a base FUNC, and BTF without a base', () => {
  const { base, ids } = sample();
  const sb = new BtfBuilder(base);
  maker(sb).declTag('tag', ids.basefn);
  assert.throws(
    () => distillBase(sb.build()),
    (e: Error) => e instanceof DistillError && /base type \[\d+\] FUNC 'basefn'/.test(e.message),
  );
  assert.throws(() => distillBase(base), DistillError);
});

interface JsonType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  index_type_id?: number;
  ret_type_id?: number;
  members?: { type_id: number }[];
  params?: { type_id: number }[];
  vars?: { type_id: number }[];
}

/** Type ids a bpftool JSON type refers to. */
function jsonRefs(t: JsonType): number[] {
  const out: number[] = [];
  for (const k of ['type_id', 'index_type_id', 'ret_type_id'] as const) if (t[k] !== undefined) out.push(t[k]);
  for (const list of [t.members, t.params, t.vars]) for (const m of list ?? []) out.push(m.type_id);
  return out;
}

test("distill on Debian 6.1: the base types each module needs, worked out from bpftool's own parse (libbpf 1.1 has no distill)", () => {
  const k = debianKernel('6.1');
  const vm = (
    JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', k.vmlinuxBtf], { maxBuffer: 1 << 30, encoding: 'utf8' })) as {
      types: JsonType[];
    }
  ).types;
  const byId = new Map(vm.map((t) => [t.id, t]));
  const base = parseBtf(readFileSync(k.vmlinuxBtf), { file: k.vmlinuxBtf });
  const mods = k.modules();
  const picked = mods.filter((_, i) => i % Math.ceil(mods.length / 25) === 0);
  for (const ko of picked) {
    const mod = (
      JSON.parse(
        execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', ko, '--base-btf', k.vmlinuxBtf], { maxBuffer: 1 << 30, encoding: 'utf8' }),
      ) as { types: JsonType[] }
    ).types;
    // the rule, on libbpf's parse: base types reached from split types, not through named structs/unions
    const needed = new Set<number>();
    const stack = mod.flatMap(jsonRefs).filter((id) => id > 0 && byId.has(id));
    while (stack.length) {
      const id = stack.pop()!;
      if (needed.has(id)) continue;
      needed.add(id);
      const t = byId.get(id)!;
      if ((t.kind === 'STRUCT' || t.kind === 'UNION') && t.name !== '(anon)') continue;
      stack.push(...jsonRefs(t).filter((x) => x > 0));
    }
    const inBase = [...needed]
      .sort((a, b) => a - b)
      .map((id) => byId.get(id)!)
      .filter(
        (t) => ['INT', 'FLOAT', 'FWD'].includes(t.kind) || (['STRUCT', 'UNION', 'ENUM', 'ENUM64'].includes(t.kind) && t.name !== '(anon)'),
      )
      .map((t) => `${t.kind.startsWith('ENUM') ? 'ENUM' : t.kind} ${t.name} ${t.size ?? 0}`);
    const { split } = readModuleBtf(new ElfFile(readFileSync(ko), ko), base);
    const d = distillBase(split);
    assert.deepEqual(
      d.base.types.map((t) => `${t.kind} ${t.name} ${'size' in t ? t.size : 0}`),
      inBase,
      ko,
    );
    assert.equal(d.split.count, mod.length + needed.size - inBase.length, `${ko}: split = own types + moved base types`);
  }
});

test('distill every Debian 6.1 module on its vmlinux, relocate back: every original type returns, all distilled types match', () => {
  const k = debianKernel('6.1');
  const base = parseBtf(readFileSync(k.vmlinuxBtf), { file: k.vmlinuxBtf });
  const index = new TargetIndex(base);
  const mods = k.modules();
  assert.ok(mods.length > 3000, `${mods.length} modules`);
  let types = 0;
  let dup = 0;
  for (const ko of mods) {
    const { split } = readModuleBtf(new ElfFile(readFileSync(ko), ko), base);
    const d = distillBase(split);
    const { btf: back, mapping } = relocateSplit(d.split, index);
    assert.ok(
      mapping.matches.every((m) => m.status === 'match'),
      ko,
    );
    const lost = missingFrom(canonOwn(back), canonOwn(split));
    assert.deepEqual(lost.slice(0, 3), [], `${ko}: types lost in the round trip`);
    // what relocation adds: copies of the anonymous base types distill moved into split
    assert.equal(back.count - split.count, d.split.count - split.count, ko);
    types += split.count;
    dup += back.count - split.count;
  }
  assert.ok(types > mods.length && dup > 0, `${types} types, ${dup} duplicated`);
});

test("distill of a module: a refusal names the module's file and section (issue 14)", () => {
  const { base, ids } = sample();
  const sb = new BtfBuilder(base);
  maker(sb).declTag('tag', ids.basefn);
  const module = buildElf({
    littleEndian: true,
    machine: 62, // EM_X86_64, as a kernel module
    type: 1, // ET_REL
    sections: [{ name: '.BTF', type: SHT_PROGBITS, data: writeBtf(sb.build()) }],
  });
  const file = '/tmp/hostile/refers_to_func.ko';
  assert.throws(
    () => distillModule(new ElfFile(module, file), base),
    (e: Error) => e instanceof DistillError && e.message.startsWith(`${file}: section .BTF: type [`) && /FUNC 'basefn'/.test(e.message),
  );
});

test("a distilled module that does not relocate onto a base: the refusal names the module's file and .BTF.base (issue 14)", () => {
  const { split } = sample();
  const d = distillBase(split);
  const module = buildElf({
    littleEndian: true,
    machine: 62,
    type: 1,
    sections: [
      { name: '.BTF', type: SHT_PROGBITS, data: writeBtf(d.split) },
      { name: '.BTF.base', type: SHT_PROGBITS, data: writeBtf(d.base) },
    ],
  });
  const file = '/tmp/hostile/distilled.ko';
  const other = new BtfBuilder();
  maker(other).int('unrelated', 4, SIGNED);
  assert.throws(
    () => distillModule(new ElfFile(module, file), other.build()),
    (e: Error) => e instanceof RelocateError && e.message.startsWith(`${file}: section .BTF.base: `) && /did not map/.test(e.message),
  );
});
