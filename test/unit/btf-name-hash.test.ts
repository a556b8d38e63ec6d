// The name index of parsed BTF (hashes of the name bytes, nothing decoded) against the
// obvious reference: decode every type, group ids by name. Every name of real blobs —
// this kernel's vmlinux, a module's split BTF on its base, a big-endian object — plus names
// that are absent, prefixes, and mutated blobs that still parse.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test } from 'node:test';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { loadBtf } from '../../server/src/cli/input';
import { FormatError } from '../../server/src/common/errors';
import { ElfFile } from '../../server/src/elf/reader';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { CILIUM, fixture, rng } from '../helpers';
import { maker, SIGNED } from '../btf-make';

/** name → own ids, from the names of decoded types. */
function reference(btf: Btf): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (let id = btf.startId; id < btf.length; id++) {
    const name = btf.nameOf(id);
    if (!name) continue;
    const l = out.get(name);
    if (l) l.push(id);
    else out.set(name, [id]);
  }
  return out;
}

/**
 * Every own name, absent names and prefixes/extensions of real ones, and the flavor list,
 * as decoding finds them. `baseRef` is the base's reference (split BTF: its ids come first).
 */
function check(label: string, indexed: Btf, decoded: Btf, baseRef?: Map<string, number[]>, sample = Infinity): number {
  const ref = reference(decoded);
  const want = (name: string) => [...(baseRef?.get(name) ?? []), ...(ref.get(name) ?? [])];
  const names = [...ref.keys()];
  const step = Math.max(1, Math.floor(names.length / sample));
  for (let k = 0; k < names.length; k += step)
    assert.deepEqual(indexed.byName(names[k]), want(names[k]), `${label}: byName(${JSON.stringify(names[k])})`);
  for (const name of [
    '',
    'no_such_type_bpf_lens',
    `${names[0] ?? 'x'}\0`,
    ...names.slice(0, 50).flatMap((n) => [n.slice(0, -1), `${n}_`, `${n}\u00ff`]),
  ]) {
    assert.deepEqual(indexed.byName(name), want(name), `${label}: absent ${JSON.stringify(name)}`);
  }
  const triple: number[] = [];
  for (let id = decoded.startId; id < decoded.length; id++) if (decoded.nameOf(id).includes('___')) triple.push(id);
  assert.deepEqual(indexed.tripleUnderscoreIds(), triple, `${label}: names with ___`);
  return ref.size;
}

test("this kernel's vmlinux BTF: every name found by the hash index, as by decoding every type", (t) => {
  const bytes = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
  const names = check('vmlinux', parseBtf(bytes, { file: 'vmlinux' }), parseBtf(bytes, { file: 'vmlinux' }));
  t.diagnostic(`${names} distinct names`);
  assert.ok(names > 10_000);
});

test('split BTF (cilium btf_testmod on its vmlinux): own names, and names whose strings live in the base', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-namehash-'));
  try {
    const baseFile = path.join(dir, 'vmlinux.btf');
    writeFileSync(baseFile, gunzipSync(readFileSync(path.join(CILIUM, 'btf/testdata/vmlinux.btf.gz'))));
    const mod = path.join(CILIUM, 'btf/testdata/btf_testmod.btf');
    const base1 = loadBtf(baseFile);
    const base2 = loadBtf(baseFile);
    const split = loadBtf(mod, base1);
    const splitRef = loadBtf(mod, base2);
    assert.ok(split.startId > 1 && split.count > 0);
    check('cilium vmlinux', base1, base2);
    check('btf_testmod', split, splitRef, reference(base2));
    // some of the module's types are named by strings of the base (deduplicated against it)
    assert.ok(splitRef.types.some((x) => x.nameOff !== 0 && x.nameOff < splitRef.startStrOff));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('big-endian and little-endian objects, and CO-RE flavors (foo___v2) listed', () => {
  for (const f of ['relocs-eb.elf', 'relocs-el.elf']) {
    const file = path.join(CILIUM, 'btf/testdata', f);
    check(f, loadBtf(file), loadBtf(file));
  }
  const flavors = loadBtf(fixture('core_flavors.o'));
  assert.ok(flavors.tripleUnderscoreIds().length > 0, 'core_flavors has flavored types');
  check('core_flavors', flavors, loadBtf(fixture('core_flavors.o')));
});

/** A blob to mutate: its bytes, and the base it is split on. */
interface Subject {
  label: string;
  bytes: Uint8Array;
  base?: Btf;
  baseRef?: Map<string, number[]>;
}

function btfSection(file: string): Uint8Array {
  // found through the section header: the magic bytes can also occur by chance earlier
  const sec = new ElfFile(new Uint8Array(readFileSync(file)), path.basename(file)).section('.BTF');
  assert.ok(sec, `${file} has a .BTF section`);
  return sec.data;
}

/**
 * A blob that does not depend on any build: flavored names (foo___v2), and names that
 * start inside another string (a shared tail: "x___y" and "___y" at the same bytes).
 */
function handMade(): Uint8Array {
  const b = new BtfBuilder();
  const m = maker(b);
  const int = m.int('int', 4, SIGNED);
  const s = m.struct('task___new', 4, [m.mem('pid___x', int)]);
  m.struct('task', 4, [m.mem('pid', int)]);
  m.typedef('t___a___b', s);
  m.fwd('u___');
  m.union('___lead', 4, [m.mem('a', int)]);
  m.enum('e__', 4, [['E___1', 1]]);
  const raw = writeBtf(b.build());
  // point a few names into the middle of others: the index must see those names too
  const btf = parseBtf(raw, { file: 'hand' });
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const hdr = dv.getUint32(4, true);
  const rec = (id: number) => hdr + dv.getUint32(8, true) + recordOffset(btf, id);
  const off = (id: number) => dv.getUint32(rec(id), true);
  dv.setUint32(rec(3), off(2) + 1, true); // "ask___new"
  dv.setUint32(rec(5), off(4) + 1, true); // "___a___b"
  return raw;
}

/** Byte offset of type `id`'s record in the type section (records of known sizes). */
function recordOffset(btf: Btf, id: number): number {
  let o = 0;
  for (let i = btf.startId; i < id; i++) {
    const t = btf.type(i);
    const vlen =
      'members' in t
        ? t.members.length
        : 'values' in t
          ? t.values.length
          : 'params' in t
            ? t.params.length
            : 'vars' in t
              ? t.vars.length
              : 0;
    o +=
      12 +
      (t.kind === 'INT' || t.kind === 'VAR' || t.kind === 'DECL_TAG'
        ? 4
        : t.kind === 'ARRAY'
          ? 12
          : t.kind === 'ENUM' || t.kind === 'FUNC_PROTO'
            ? 8 * vlen
            : t.kind === 'STRUCT' || t.kind === 'UNION' || t.kind === 'DATASEC' || t.kind === 'ENUM64'
              ? 12 * vlen
              : 0);
  }
  return o;
}

/**
 * One mutant of `bytes`: random bytes anywhere past the header; or name offsets (any word of
 * the type section) moved to random strings, into the middle of names with "___", or into
 * the base's strings; or string bytes turned into '_', NUL or anything.
 */
function mutate(bytes: Uint8Array, rnd: () => number, baseStrEnd: number): Uint8Array {
  const m = Uint8Array.from(bytes);
  const dv = new DataView(m.buffer);
  const le = dv.getUint16(0, true) === 0xeb9f;
  const hdr = dv.getUint32(4, le);
  const typeStart = hdr + dv.getUint32(8, le),
    typeLen = dv.getUint32(12, le);
  const strStart = hdr + dv.getUint32(16, le),
    strLen = dv.getUint32(20, le);
  const pick = (n: number) => Math.floor(rnd() * n);
  const strs = Buffer.from(m.buffer, strStart, strLen);
  const flavors: number[] = [];
  for (let at = strs.indexOf('___'); at >= 0; at = strs.indexOf('___', at + 1)) flavors.push(at);
  const edits = 1 + pick(4);
  for (let k = 0; k < edits; k++) {
    const how = pick(3);
    if (how === 0 || typeLen < 4 || strLen === 0) {
      m[24 + pick(m.length - 24)] = pick(256);
    } else if (how === 1) {
      const word = typeStart + 4 * pick(typeLen >>> 2);
      const r = rnd();
      let off: number;
      if (r < 0.5 && flavors.length) {
        const at = flavors[pick(flavors.length)];
        off = Math.max(0, at - pick(24)) + pick(4);
      } else if (r < 0.6 && baseStrEnd) {
        off = -baseStrEnd + pick(baseStrEnd); // into the base's strings
      } else {
        off = pick(strLen);
      }
      dv.setUint32(word, baseStrEnd + off, le);
    } else {
      const q = strStart + pick(strLen);
      m[q] = [0x5f, 0, 0x5f, pick(256)][pick(4)];
    }
  }
  return m;
}

function mutants(subject: Subject, seed: number, rounds: number): { parsed: number } {
  const rnd = rng(seed);
  let parsed = 0;
  for (let round = 0; round < rounds; round++) {
    const m = mutate(subject.bytes, rnd, subject.base?.stringsEnd ?? 0);
    let a: Btf, b: Btf;
    try {
      a = parseBtf(m, { file: 'mutant', base: subject.base });
      b = parseBtf(m, { file: 'mutant', base: subject.base });
    } catch (e) {
      assert.ok(e instanceof FormatError, String(e));
      continue;
    }
    check(`${subject.label} seed ${seed} mutant ${round}`, a, b, subject.baseRef);
    parsed++;
  }
  return { parsed };
}

test('the index finds names that start inside another string (shared tails), with or without ___', () => {
  const raw = handMade();
  const btf = parseBtf(raw, { file: 'hand' });
  assert.equal(btf.nameOf(3), 'ask___new');
  assert.equal(btf.nameOf(5), '___a___b');
  check('hand-made', parseBtf(raw, { file: 'hand' }), btf);
  assert.deepEqual(parseBtf(raw, { file: 'hand' }).tripleUnderscoreIds(), [2, 3, 4, 5, 6]);
});

test('mutated blobs that still parse index exactly what decoding finds (fixed seeds, several blobs)', (t) => {
  const cil = (f: string) => path.join(CILIUM, f);
  const base = parseBtf(new Uint8Array(gunzipSync(readFileSync(cil('btf/testdata/vmlinux.btf.gz')))), { file: 'vmlinux.btf' });
  const subjects: (Subject & { rounds: number })[] = [
    { label: 'hand-made', bytes: handMade(), rounds: 1500 },
    { label: 'core_flavors.o', bytes: btfSection(fixture('core_flavors.o')), rounds: 1000 },
    { label: 'relocs-el.elf', bytes: btfSection(cil('btf/testdata/relocs-el.elf')), rounds: 800 },
    { label: 'relocs-eb.elf', bytes: btfSection(cil('btf/testdata/relocs-eb.elf')), rounds: 800 },
    { label: 'loader-el.elf', bytes: btfSection(cil('testdata/loader-el.elf')), rounds: 400 },
    {
      label: 'btf_testmod on vmlinux',
      bytes: new Uint8Array(readFileSync(cil('btf/testdata/btf_testmod.btf'))),
      base,
      baseRef: reference(base),
      rounds: 400,
    },
  ];
  for (const s of subjects) {
    const started = Date.now();
    let parsed = 0;
    for (const seed of [1, 2]) parsed += mutants(s, seed * 7919, s.rounds / 2).parsed;
    t.diagnostic(`${s.label}: ${parsed} of ${s.rounds} mutants parsed, ${Date.now() - started} ms`);
    assert.ok(parsed > s.rounds / 20, `${s.label}: ${parsed} mutants parsed`);
  }
});

test("this kernel's vmlinux BTF, its names moved into the middle of other names: the index agrees", (t) => {
  const bytes = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
  const rnd = rng(4242);
  let parsed = 0;
  for (let round = 0; round < 10; round++) {
    const m = mutate(bytes, rnd, 0);
    let a: Btf;
    try {
      a = parseBtf(m, { file: 'vmlinux mutant' });
    } catch (e) {
      assert.ok(e instanceof FormatError, String(e));
      continue;
    }
    check(`vmlinux mutant ${round}`, a, parseBtf(m, { file: 'vmlinux mutant' }), undefined, 2000);
    parsed++;
  }
  t.diagnostic(`${parsed} vmlinux mutants parsed`);
  assert.ok(parsed > 0);
});
