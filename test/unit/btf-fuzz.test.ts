// Hostile bytes: a seeded mutation loop over real BTF (the fixtures' .BTF sections, the
// cilium objects' and a closed slice of this kernel's vmlinux BTF). Every case must either
// parse and dump (raw and JSON, all types decoded, name index built) or throw FormatError
// — never another exception, never a hang. BTF_FUZZ_SEED / BTF_FUZZ_CASES widen a run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { dumpJsonBytes } from '../../server/src/btf/dump-json';
import { dumpRawBytes } from '../../server/src/btf/dump-raw';
import { type TypeId, mapTypeIds, referencedIds } from '../../server/src/btf/types';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { FormatError } from '../../server/src/common/errors';
import { ElfFile } from '../../server/src/elf/reader';
import { btfFromBytes } from '../../server/src/btf/input';
import { loadBtf } from '../../server/src/cli/input';
import { VMLINUX, fixtureObjects, tmp } from '../btf-corpus';
import { CILIUM, CLI, rng } from '../helpers';

const SEED = Number(process.env.BTF_FUZZ_SEED ?? 0x5eed);
const CASES = Number(process.env.BTF_FUZZ_CASES ?? 6000);
/** One case that takes longer than this is a hang in the making (inputs are < 1 MB). */
const CASE_LIMIT_MS = 2000;

/** Everything a reader of this BTF would do: parse, decode, index, dump. */
function exercise(bytes: Uint8Array, base?: Btf): 'ok' | 'format-error' {
  try {
    const btf = parseBtf(bytes, { file: 'fuzz', base });
    void btf.types;
    btf.index();
    for (let id = btf.startId; id < btf.length; id++) btf.nameOf(id);
    dumpRawBytes(btf);
    dumpJsonBytes(btf);
    return 'ok';
  } catch (e) {
    if (e instanceof FormatError) {
      assert.match(e.message, /^fuzz: \S+: offset \d+: ./);
      return 'format-error';
    }
    throw e;
  }
}

/** A closed slice of vmlinux BTF: the first `n` types and everything they refer to, renumbered. */
function vmlinuxSlice(n: number): Uint8Array {
  const vm = loadBtf(VMLINUX);
  const keep = new Set<TypeId>();
  const todo: TypeId[] = [];
  for (let id = 1; id <= n; id++) todo.push(id);
  while (todo.length) {
    const id = todo.pop()!;
    if (id === 0 || keep.has(id)) continue;
    keep.add(id);
    todo.push(...referencedIds(vm.type(id)));
  }
  const ids = [...keep].sort((a, b) => a - b);
  const newId = new Map(ids.map((id, i) => [id, i + 1]));
  const b = new BtfBuilder();
  for (const id of ids) {
    const { id: _, ...t } = mapTypeIds(vm.type(id), (r) => (r === 0 ? 0 : newId.get(r)!));
    b.add(t);
  }
  return writeBtf(b.build());
}

interface Seed {
  name: string;
  bytes: Uint8Array;
  le: boolean;
  /** Byte offset of each type record. */
  recs: number[];
}

function seed(name: string, bytes: Uint8Array, base?: Btf): Seed {
  const btf = parseBtf(bytes, { base });
  return { name, bytes, le: btf.littleEndian, recs: Array.from(btf.records!.offsets) };
}

function seeds(): Seed[] {
  const out: Seed[] = [];
  const objects = [
    ...fixtureObjects(),
    ...['btf_map_init-eb.elf', 'loader-clang-14-el.elf', 'loader-eb.elf', 'fwd_decl-el.elf'].map((f) => path.join(CILIUM, 'testdata', f)),
  ];
  for (const f of objects) {
    const sec = new ElfFile(readFileSync(f), f).section('.BTF');
    if (sec) out.push(seed(path.basename(f), sec.data));
  }
  out.push(seed('vmlinux slice', vmlinuxSlice(400)));
  return out;
}

const ABSURD = [0, 1, 2, 3, 4, 11, 12, 0x7f, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

function mutate(seed: Seed, rand: () => number): { what: string; bytes: Uint8Array } {
  const src = seed.bytes;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  const int = (n: number) => Math.floor(rand() * n);
  const b = Uint8Array.from(src);
  const dv = new DataView(b.buffer);
  const { le, recs } = seed;
  const set32 = (off: number, v: number) => {
    if (off + 4 <= b.length) dv.setUint32(off, v >>> 0, le);
  };
  const rec = () => pick(recs);
  switch (int(9)) {
    case 0: {
      const at = int(src.length);
      return { what: `truncate at ${at}`, bytes: src.subarray(0, at) };
    }
    case 1: {
      const flips = 1 + int(8);
      for (let i = 0; i < flips; i++) b[int(b.length)] ^= 1 + int(255);
      return { what: `${flips} byte flips`, bytes: b };
    }
    case 2: {
      const field = 4 + 4 * int(6);
      const v = rand() < 0.5 ? pick(ABSURD) : dv.getUint32(field, le) + int(64) - 32;
      set32(field, v);
      return { what: `header word ${field} = ${v}`, bytes: b };
    }
    case 3: {
      const o = rec();
      const info = dv.getUint32(o + 4, le);
      const vlen = rand() < 0.5 ? 0xffff : int(0x10000);
      set32(o + 4, (info & 0xffff0000) | vlen);
      return { what: `vlen ${vlen} at ${o}`, bytes: b };
    }
    case 4: {
      const o = rec();
      const kind = int(32);
      set32(o + 4, (dv.getUint32(o + 4, le) & ~(0x1f << 24)) | (kind << 24));
      return { what: `kind ${kind} at ${o}`, bytes: b };
    }
    case 5: {
      // a word inside a record: a type id, size, offset or name offset
      const o = rec();
      const at = o + 4 * int(6);
      const v = rand() < 0.5 ? pick(ABSURD) : recs.length + int(4) - 2;
      set32(at, v);
      return { what: `word at ${at} = ${v}`, bytes: b };
    }
    case 6: {
      // a name offset past, at, or just inside the end of the strings
      const o = rec();
      const strLen = dv.getUint32(20, le);
      const v = pick([strLen, strLen - 1, strLen + 1, 0xffffffff, int(strLen + 8)]);
      set32(o, v);
      return { what: `name_off ${v} at ${o}`, bytes: b };
    }
    case 7: {
      // a reference cycle: the type at record i made to refer to itself or to a type that refers to it
      const i = int(recs.length);
      const o = recs[i];
      const target = rand() < 0.5 ? i + 1 : 1 + int(i + 1);
      set32(o + 8, target);
      if (rand() < 0.5) set32(o + 12 + 4, target);
      return { what: `self/back reference ${target} at ${o}`, bytes: b };
    }
    default: {
      // splice: a run of bytes copied elsewhere (records that straddle boundaries)
      const from = int(b.length),
        to = int(b.length),
        n = 1 + int(48);
      b.copyWithin(to, from, Math.min(b.length, from + n));
      return { what: `splice ${n} bytes ${from}→${to}`, bytes: b };
    }
  }
}

test(`${CASES} mutated BTF blobs: each parses and dumps, or is a FormatError (seed ${SEED})`, () => {
  const rand = rng(SEED);
  const all = seeds();
  for (const s of all) assert.equal(exercise(s.bytes), 'ok', `seed ${s.name} must be valid`);
  const count = { ok: 0, 'format-error': 0 };
  for (let i = 0; i < CASES; i++) {
    const s = all[i % all.length];
    const m = mutate(s, rand);
    const t0 = performance.now();
    let r: 'ok' | 'format-error';
    try {
      r = exercise(m.bytes);
    } catch (e) {
      assert.fail(`case ${i} (${s.name}, ${m.what}): ${(e as Error).stack}`);
    }
    const ms = performance.now() - t0;
    assert.ok(ms < CASE_LIMIT_MS, `case ${i} (${s.name}, ${m.what}) took ${ms.toFixed(0)} ms`);
    count[r]++;
  }
  // both outcomes must occur, or the mutations are not reaching the parser
  assert.ok(count.ok > CASES / 50 && count['format-error'] > CASES / 4, JSON.stringify(count));
});

test('every truncation of a small blob is a FormatError naming an offset', () => {
  const bytes = seeds()[0].bytes;
  for (let at = 0; at < bytes.length; at++) {
    assert.throws(
      () => parseBtf(bytes.subarray(0, at), { file: 'cut' }),
      (e: unknown) => e instanceof FormatError && /^cut: \.BTF: offset \d+: /.test(e.message),
    );
  }
});

test('reference cycles built with BtfBuilder: without a pointer rejected, through a pointer dumped', () => {
  const cases: { name: string; make: (b: BtfBuilder) => void; ok: boolean }[] = [
    {
      name: 'typedef to itself',
      ok: false,
      make: (b) => void b.add({ kind: 'TYPEDEF', name: 'self', nameOff: 0, kindFlag: false, type: 1 }),
    },
    {
      name: 'const → volatile → const',
      ok: false,
      make: (b) => {
        b.add({ kind: 'CONST', name: '', nameOff: 0, kindFlag: false, type: 2 });
        b.add({ kind: 'VOLATILE', name: '', nameOff: 0, kindFlag: false, type: 1 });
      },
    },
    {
      name: 'struct containing itself through an array',
      ok: false,
      make: (b) => {
        const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
        b.add({
          kind: 'STRUCT',
          name: 's',
          nameOff: 0,
          kindFlag: false,
          size: 8,
          members: [{ name: 'a', nameOff: 0, type: 3, bitsOffset: 0, bitfieldSize: 0 }],
        });
        b.add({ kind: 'ARRAY', name: '', nameOff: 0, kindFlag: false, type: 2, indexType: int, nelems: 2 });
      },
    },
    {
      name: 'func proto returning itself',
      ok: false,
      make: (b) => void b.add({ kind: 'FUNC_PROTO', name: '', nameOff: 0, kindFlag: false, type: 1, params: [] }),
    },
    {
      name: 'list node pointing to itself',
      ok: true,
      make: (b) => {
        b.add({
          kind: 'STRUCT',
          name: 'node',
          nameOff: 0,
          kindFlag: false,
          size: 8,
          members: [{ name: 'next', nameOff: 0, type: 2, bitsOffset: 0, bitfieldSize: 0 }],
        });
        b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: 1 });
      },
    },
    {
      name: 'callback taking itself',
      ok: true,
      make: (b) => {
        b.add({ kind: 'TYPEDEF', name: 'cb_t', nameOff: 0, kindFlag: false, type: 2 });
        b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: 3 });
        b.add({ kind: 'FUNC_PROTO', name: '', nameOff: 0, kindFlag: false, type: 0, params: [{ name: 'next', nameOff: 0, type: 1 }] });
      },
    },
  ];
  for (const c of cases) {
    const b = new BtfBuilder();
    c.make(b);
    const bytes = writeBtf(b.build());
    assert.equal(exercise(bytes), c.ok ? 'ok' : 'format-error', c.name);
    if (!c.ok) assert.throws(() => parseBtf(bytes), /contains itself/, c.name);
  }
});

test('the CLI on a truncated file: one stderr line with file, section and offset, exit 1', () => {
  const obj = fixtureObjects()[0];
  const whole = readFileSync(obj);
  const vm = readFileSync(VMLINUX);
  const files: string[] = [];
  for (const [name, bytes] of [
    ['cut.o', whole.subarray(0, Math.floor(whole.length * 0.6))],
    ['cut-header.btf', vm.subarray(0, 20)],
    ['cut-types.btf', vm.subarray(0, 4096)],
  ] as const) {
    const f = path.join(tmp(), name);
    writeFileSync(f, bytes);
    files.push(f);
  }
  for (const f of files) {
    const r = spawnSync(process.execPath, [CLI, 'btf', 'dump', f], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, f);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`^bpf-lens: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+: offset \\d+: `));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('split BTF mutated on a real base: FormatError or a dump, never a crash', () => {
  const base = loadBtf(VMLINUX);
  const b = new BtfBuilder(base);
  const int = base.find('INT', 'int')!.id;
  const p = b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: base.find('STRUCT', 'task_struct')!.id });
  b.add({
    kind: 'STRUCT',
    name: 'm',
    nameOff: 0,
    kindFlag: false,
    size: 16,
    members: [
      { name: 'task', nameOff: 0, type: p, bitsOffset: 0, bitfieldSize: 0 },
      { name: 'n', nameOff: 0, type: int, bitsOffset: 64, bitfieldSize: 0 },
    ],
  });
  b.add({ kind: 'VAR', name: 'jiffies', nameOff: 0, kindFlag: false, type: int, linkage: 1 });
  const split = seed('split', writeBtf(b.build()), base);
  const rand = rng(SEED ^ 0x51);
  for (let i = 0; i < 400; i++) {
    const m = mutate(split, rand);
    try {
      exercise(m.bytes, base);
    } catch (e) {
      assert.fail(`split case ${i} (${m.what}): ${(e as Error).stack}`);
    }
  }
});

test("mutated ELF objects through the CLI's input path: FormatError or a dump", () => {
  const rand = rng(SEED ^ 0xe1f);
  const objects = fixtureObjects().map((f) => new Uint8Array(readFileSync(f)));
  const int = (n: number) => Math.floor(rand() * n);
  for (let i = 0; i < CASES / 4; i++) {
    const src = objects[i % objects.length];
    let bytes = Uint8Array.from(src);
    let what: string;
    switch (int(3)) {
      case 0:
        bytes = bytes.subarray(0, int(bytes.length));
        what = `truncated to ${bytes.length}`;
        break;
      case 1: {
        const flips = 1 + int(6);
        for (let k = 0; k < flips; k++) bytes[int(bytes.length)] ^= 1 + int(255);
        what = `${flips} flips`;
        break;
      }
      default: {
        // ELF header and section header words: offsets, sizes, counts, indexes
        const at = int(16) * 4;
        new DataView(bytes.buffer).setUint32(at, [0, 1, 0x40, 0xffff, 0x7fffffff, 0xffffffff][int(6)]);
        what = `ELF header word at ${at}`;
      }
    }
    try {
      dumpRawBytes(btfFromBytes(bytes, 'fuzz.o'));
    } catch (e) {
      if (!(e instanceof FormatError)) assert.fail(`ELF case ${i} (${what}): ${(e as Error).stack}`);
    }
  }
});
