// `bpf-lens btf dump` against `bpftool btf dump file` (Debian's bpftool 7.1), byte for
// byte, raw and JSON, on every BTF input we have; plus BTF made with BtfBuilder to reach
// what compilers do not emit (signed enums, ENUM64, odd linkage, names that need escaping).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { dumpC } from '../../server/src/btf/dump-c';
import { dumpJson, dumpJsonTo } from '../../server/src/btf/dump-json';
import { dumpRaw, dumpRawTo } from '../../server/src/btf/dump-raw';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { loadBtf } from '../../server/src/cli/input';
import { type BtfInput, VMLINUX, bpftoolDump, btfInputs, tmp } from '../btf-corpus';
import { CLI, fixture } from '../helpers';

interface Out {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function ours(args: string[]): Out {
  const r = spawnSync(process.execPath, [CLI, 'btf', 'dump', ...args], { maxBuffer: 1 << 30, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** First differing line, for a readable failure. */
function firstDiff(a: Buffer, b: Buffer): string {
  const la = a.toString('latin1').split('\n');
  const lb = b.toString('latin1').split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}:\n  ours:    ${JSON.stringify(la[i])}\n  bpftool: ${JSON.stringify(lb[i])}`;
  }
  return 'same lines';
}

function argsFor(input: BtfInput): string[] {
  return [input.file, ...(input.base ? ['--base', input.base] : [])];
}

const inputs = btfInputs();

test('the corpus has what the differential tests need', () => {
  assert.ok(
    inputs.some((i) => i.name.startsWith('fixture ')),
    'fixture objects (make -C test/fixtures)',
  );
  assert.ok(inputs.filter((i) => i.name.startsWith('cilium ') && i.file.endsWith('-eb.elf')).length >= 10, 'big-endian cilium objects');
  // module BTF: this kernel's /sys/kernel/btf/* when modules are loaded, Debian 6.1's always
  assert.ok(inputs.filter((i) => i.base).length >= 20, 'split BTF of 20 modules');
});

for (const input of inputs) {
  test(`btf dump ${input.name}: raw and json match bpftool byte for byte`, () => {
    for (const json of [false, true]) {
      const want = bpftoolDump(input, json);
      const got = ours([...argsFor(input), '--format', json ? 'json' : 'raw']);
      if (want.code !== 0) {
        // bpftool cannot dump it (e.g. clang 7 objects without .BTF): we must say why, in one line.
        assert.equal(got.code, 1, `bpftool failed (${want.stderr.trim()}), we exited ${got.code}`);
        assert.match(got.stderr, /^bpf-lens: .+: .+: offset \d+: .+\n$/);
        assert.equal(got.stdout.length, 0);
        continue;
      }
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stderr, '');
      assert.ok(got.stdout.equals(want.stdout), `${json ? 'json' : 'raw'} differs from bpftool at ${firstDiff(got.stdout, want.stdout)}`);
    }
  });
}

test('objects without BTF: bpftool fails and so do we, naming the missing section', () => {
  const file = inputs.find((i) => i.name.includes('loader-clang-7-el'))!.file;
  assert.notEqual(bpftoolDump({ file }).code, 0);
  const got = ours([file]);
  assert.equal(got.code, 1);
  assert.equal(got.stderr, `bpf-lens: ${file}: .BTF: offset 0: the ELF file has no .BTF section (was it compiled with -g?)\n`);
});

/** Writes built BTF to a file and compares our in-process dumps with bpftool's. */
function sameAsBpftool(name: string, bytes: Uint8Array, base?: string): void {
  const file = path.join(tmp(), name);
  writeFileSync(file, bytes);
  const btf = loadBtf(file, base ? loadBtf(base) : undefined);
  for (const json of [false, true]) {
    const want = bpftoolDump({ file, base }, json);
    assert.equal(want.code, 0, want.stderr);
    const got = Buffer.from(json ? dumpJson(btf) : dumpRaw(btf), 'latin1');
    assert.ok(got.equals(want.stdout), `${name} ${json ? 'json' : 'raw'}: ${firstDiff(got, want.stdout)}`);
  }
}

test('built BTF with every kind and kind_flag meaning dumps as bpftool does (both byte orders)', () => {
  for (const le of [true, false]) {
    const b = new BtfBuilder(undefined, le);
    const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
    b.add({ kind: 'INT', name: 'odd', nameOff: 0, kindFlag: false, size: 4, encoding: 7, bitsOffset: 3, bits: 17 });
    b.add({ kind: 'INT', name: 'char', nameOff: 0, kindFlag: false, size: 1, encoding: 2, bitsOffset: 0, bits: 8 });
    b.add({
      kind: 'ENUM',
      name: 'signed_e',
      nameOff: 0,
      kindFlag: true,
      size: 4,
      values: [
        { name: 'NEG', nameOff: 0, value: -5 },
        { name: 'MIN', nameOff: 0, value: -2147483648 },
        { name: 'POS', nameOff: 0, value: 7 },
      ],
    });
    b.add({
      kind: 'ENUM',
      name: 'unsigned_e',
      nameOff: 0,
      kindFlag: false,
      size: 4,
      values: [{ name: 'HI', nameOff: 0, value: 0xfffffff0 }],
    });
    b.add({
      kind: 'ENUM64',
      name: 'e64s',
      nameOff: 0,
      kindFlag: true,
      size: 8,
      values: [
        { name: 'S_MIN', nameOff: 0, value: -(2n ** 63n) },
        { name: 'S_NEG', nameOff: 0, value: -1n },
        { name: 'S_BIG', nameOff: 0, value: 2n ** 40n },
      ],
    });
    b.add({
      kind: 'ENUM64',
      name: 'e64u',
      nameOff: 0,
      kindFlag: false,
      size: 8,
      values: [{ name: 'U_MAX', nameOff: 0, value: 2n ** 64n - 1n }],
    });
    b.add({ kind: 'ENUM', name: 'empty_e', nameOff: 0, kindFlag: false, size: 4, values: [] });
    b.add({ kind: 'FWD', name: 'fu', nameOff: 0, kindFlag: true });
    b.add({ kind: 'FWD', name: 'fs', nameOff: 0, kindFlag: false });
    const s = b.add({
      kind: 'STRUCT',
      name: 'bits',
      nameOff: 0,
      kindFlag: true,
      size: 8,
      members: [
        { name: 'a', nameOff: 0, type: int, bitsOffset: 0, bitfieldSize: 3 },
        { name: '', nameOff: 0, type: int, bitsOffset: 3, bitfieldSize: 0 },
        { name: 'b', nameOff: 0, type: int, bitsOffset: 0xffffff, bitfieldSize: 255 },
      ],
    });
    b.add({
      kind: 'UNION',
      name: '',
      nameOff: 0,
      kindFlag: false,
      size: 4,
      members: [{ name: 'x', nameOff: 0, type: int, bitsOffset: 0x12345678, bitfieldSize: 0 }],
    });
    const proto = b.add({
      kind: 'FUNC_PROTO',
      name: '',
      nameOff: 0,
      kindFlag: false,
      type: 0,
      params: [
        { name: 'p', nameOff: 0, type: int },
        { name: '', nameOff: 0, type: 0 },
      ],
    });
    for (const linkage of [0, 1, 2, 3, 0xffff])
      b.add({ kind: 'FUNC', name: `f${linkage}`, nameOff: 0, kindFlag: false, type: proto, linkage });
    const vars: number[] = [];
    for (const linkage of [0, 1, 2, 3, 0xffffffff])
      vars.push(b.add({ kind: 'VAR', name: `v${linkage}`, nameOff: 0, kindFlag: false, type: int, linkage }));
    b.add({ kind: 'DECL_TAG', name: 'tag', nameOff: 0, kindFlag: false, type: s, componentIdx: -1 });
    b.add({ kind: 'DECL_TAG', name: 'mtag', nameOff: 0, kindFlag: false, type: s, componentIdx: 2 });
    b.add({ kind: 'TYPE_TAG', name: 'user', nameOff: 0, kindFlag: false, type: int });
    b.add({ kind: 'FLOAT', name: 'double', nameOff: 0, kindFlag: false, size: 8 });
    // kind_flag where bpftool 7.1 gives it no meaning (newer kernels: tag attributes)
    b.add({ kind: 'INT', name: 'kf_int', nameOff: 0, kindFlag: true, size: 2, encoding: 0, bitsOffset: 0, bits: 16 });
    b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: true, type: int });
    b.add({ kind: 'TYPE_TAG', name: 'kf_attr', nameOff: 0, kindFlag: true, type: int });
    b.add({ kind: 'DECL_TAG', name: 'kf_decl', nameOff: 0, kindFlag: true, type: s, componentIdx: 0 });
    b.add({ kind: 'RESTRICT', name: '', nameOff: 0, kindFlag: false, type: int });
    b.add({ kind: 'ARRAY', name: '', nameOff: 0, kindFlag: false, type: int, indexType: int, nelems: 0xffffffff });
    b.add({
      kind: 'DATASEC',
      name: '.data',
      nameOff: 0,
      kindFlag: false,
      size: 4096,
      vars: [
        ...vars.map((v, i) => ({ type: v, offset: i * 4, size: 4 })),
        { type: 0, offset: 1, size: 2 },
        { type: int, offset: 0, size: 4 },
      ],
    });
    sameAsBpftool(`built-kinds-${le ? 'el' : 'eb'}.btf`, writeBtf(b.build()));
  }
});

test('names that need escaping in JSON, and non-ASCII bytes, dump as bpftool does', () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
  for (const name of ['quote"d', "single'q", 'tab\there', 'nl\nx', 'cr\rff\fbs\b', 'latin\xe9\xff', 'ctl\x01\x1f']) {
    b.add({ kind: 'TYPEDEF', name, nameOff: 0, kindFlag: false, type: int });
  }
  sameAsBpftool('built-names.btf', writeBtf(b.build()));
});

test('a backslash in a name is escaped as JSON says (bpftool 7.1 writes \\n there: a json_writer bug)', () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
  b.add({ kind: 'TYPEDEF', name: 'back\\slash', nameOff: 0, kindFlag: false, type: int });
  const btf = b.build();
  const file = path.join(tmp(), 'built-backslash.btf');
  writeFileSync(file, writeBtf(btf));
  const theirs = bpftoolDump({ file }, true).stdout.toString('latin1');
  const mine = dumpJson(btf);
  assert.equal(mine, theirs.replace('back\\nslash', 'back\\\\slash'));
  assert.equal(JSON.parse(mine).types[1].name, 'back\\slash');
  assert.equal(dumpRaw(btf), bpftoolDump({ file }).stdout.toString('latin1'));
});

test('split BTF built on this kernel: ids and strings continue from the base', () => {
  const base = loadBtf(VMLINUX);
  const b = new BtfBuilder(base);
  const intId = base.find('INT', 'int')!.id;
  const taskId = base.find('STRUCT', 'task_struct')!.id;
  const ptr = b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: taskId });
  // a name that is already in the base's strings is referenced there, as pahole does
  const v = b.add({ kind: 'VAR', name: 'jiffies', nameOff: 0, kindFlag: false, type: intId, linkage: 1 });
  const baseVar = base.types.find((t) => t.kind === 'VAR')!;
  b.add({
    kind: 'STRUCT',
    name: 'mod_state',
    nameOff: 0,
    kindFlag: false,
    size: 16,
    members: [{ name: 'task', nameOff: 0, type: ptr, bitsOffset: 0, bitfieldSize: 0 }],
  });
  b.add({
    kind: 'DATASEC',
    name: '.data..percpu',
    nameOff: 0,
    kindFlag: false,
    size: 8,
    vars: [
      { type: v, offset: 0, size: 4 },
      { type: baseVar.id, offset: 4, size: 4 },
    ],
  });
  const built = b.build();
  const bytes = writeBtf(built);
  const file = path.join(tmp(), 'built-split.btf');
  writeFileSync(file, bytes);
  assert.equal(parseBtf(bytes, { base }).startId, base.length);
  sameAsBpftool('built-split.btf', bytes, VMLINUX);
});

test("vmlinux dumps through this boot's copy and index in the cache, the same bytes every time", { skip: !existsSync(VMLINUX) }, (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-dump-cache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (env: NodeJS.ProcessEnv) => {
    const r = spawnSync(process.execPath, [CLI, 'btf', 'dump', VMLINUX, '--format', 'json'], {
      env: { ...process.env, ...env },
      maxBuffer: 1 << 30,
    });
    assert.equal(r.status, 0, r.stderr.toString());
    return r.stdout;
  };
  const uncached = run({ BPF_LENS_NO_BTF_INDEX: '1' });
  assert.ok(run({ BPF_LENS_BTF_INDEX_DIR: dir }).equals(uncached), 'the run that fills the cache');
  const files = readdirSync(dir).sort();
  assert.equal(files.filter((f) => f.endsWith('.btfcopy')).length, 1, files.join(' '));
  assert.equal(files.filter((f) => f.endsWith('.btfidx')).length, 1, files.join(' '));
  assert.ok(run({ BPF_LENS_BTF_INDEX_DIR: dir }).equals(uncached), 'a run that reads it');
  assert.deepEqual(readdirSync(dir).sort(), files);
});

test('a missing file and a bad --format are one-line errors', () => {
  const missing = ours(['/nonexistent/x.o']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'bpf-lens: /nonexistent/x.o: no such file\n');
  const bad = ours([VMLINUX, '--format', 'yaml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^bpf-lens: unknown format 'yaml'/);
});

test("--format c prints the C header of the object's BTF (dumpC), split BTF included", () => {
  const file = fixture('btf_kinds.o');
  const got = ours([file, '--format', 'c']);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout.toString('latin1'), dumpC(loadBtf(file)));
  assert.match(got.stdout.toString('latin1'), /^#ifndef __VMLINUX_H__\n[^]*struct with_holes \{/);
  const mod = inputs.find((i) => i.base)!;
  const split = ours([mod.file, '--base', mod.base!, '--format', 'c']);
  assert.equal(split.code, 0, split.stderr);
  assert.equal(split.stdout.toString('latin1'), dumpC(loadBtf(mod.file, loadBtf(mod.base!))));
});

test('types with thousands of long-named items dump as bpftool does, in chunks of any size', () => {
  // a writer that checks room per type or item, not per byte, must still never write past its
  // buffer: every kind with items, 2048 items each, names of 1 KB
  const b = new BtfBuilder();
  const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
  // a tab and a quote to escape (not a backslash: bpftool 7.1 escapes it wrongly)
  const n = (k: number) => `${k}_${'x'.repeat(1000)}\t"`;
  const items = Array.from({ length: 2048 }, (_, k) => k);
  b.add({
    kind: 'STRUCT',
    name: n(1),
    nameOff: 0,
    kindFlag: true,
    size: 8192,
    members: items.map((k) => ({ name: n(k), nameOff: 0, type: int, bitsOffset: 32 * k, bitfieldSize: k % 7 })),
  });
  b.add({
    kind: 'ENUM',
    name: n(2),
    nameOff: 0,
    kindFlag: true,
    size: 4,
    values: items.map((k) => ({ name: n(k), nameOff: 0, value: k % 3 ? k : -k })),
  });
  b.add({
    kind: 'ENUM',
    name: n(3),
    nameOff: 0,
    kindFlag: false,
    size: 4,
    values: items.map((k) => ({ name: n(k), nameOff: 0, value: 0xfffff000 + k })),
  });
  b.add({
    kind: 'ENUM64',
    name: n(4),
    nameOff: 0,
    kindFlag: true,
    size: 8,
    values: items.map((k) => ({ name: n(k), nameOff: 0, value: -(2n ** 40n) * BigInt(k) })),
  });
  b.add({
    kind: 'FUNC_PROTO',
    name: '',
    nameOff: 0,
    kindFlag: false,
    type: int,
    params: items.map((k) => ({ name: n(k), nameOff: 0, type: int })),
  });
  const v = b.add({ kind: 'VAR', name: n(5), nameOff: 0, kindFlag: false, type: int, linkage: 1 });
  b.add({
    kind: 'DATASEC',
    name: n(6),
    nameOff: 0,
    kindFlag: false,
    size: 8192,
    vars: items.map((k) => ({ type: v, offset: 4 * k, size: 4 })),
  });
  // short items: only the room made per item keeps them inside the buffer
  const anon = { name: '', nameOff: 0 };
  b.add({ kind: 'FUNC_PROTO', ...anon, kindFlag: false, type: int, params: items.map(() => ({ ...anon, type: int })) });
  const members = items.map((k) => ({ ...anon, type: int, bitsOffset: 32 * k, bitfieldSize: 0 }));
  b.add({ kind: 'STRUCT', ...anon, kindFlag: false, size: 8192, members });
  b.add({ kind: 'ENUM', ...anon, kindFlag: false, size: 4, values: items.map((k) => ({ ...anon, value: k })) });
  const bytes = writeBtf(b.build());
  sameAsBpftool('long-items.btf', bytes);
  const whole = Buffer.from(dumpJson(parseBtf(bytes)), 'latin1');
  for (const chunkBytes of [1, 16 << 10, 100_000]) {
    const chunks: Buffer[] = [];
    dumpJsonTo(parseBtf(bytes), (c) => chunks.push(Buffer.from(c)), chunkBytes);
    assert.ok(Buffer.concat(chunks).equals(whole), `chunks of ${chunkBytes}`);
    assert.ok(Math.max(...chunks.map((c) => c.length)) <= Math.max(chunkBytes, 16 << 10), `chunks of ${chunkBytes} stay that small`);
  }
});

test('a small hostile file whose dump is huge streams in bounded chunks', () => {
  // one 16 KB name behind 4096 members of each of 3 structs: 12 KB of BTF types, ~200 MB of text
  const b = new BtfBuilder();
  const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
  const long = 'n'.repeat(16 << 10);
  for (let s = 0; s < 3; s++) {
    const members = Array.from({ length: 4096 }, (_, k) => ({ name: long, nameOff: 0, type: int, bitsOffset: 32 * k, bitfieldSize: 0 }));
    b.add({ kind: 'STRUCT', name: `s${s}`, nameOff: 0, kindFlag: false, size: 4 * 4096, members });
  }
  const btf = parseBtf(writeBtf(b.build()));
  for (const [dump, chunkBytes] of [
    [dumpRawTo, 8 << 20],
    [dumpJsonTo, 8 << 20],
  ] as const) {
    let total = 0;
    let biggest = 0;
    let lines = 0;
    dump(
      btf,
      (chunk) => {
        total += chunk.length;
        biggest = Math.max(biggest, chunk.length);
        for (const c of chunk) if (c === 10) lines++;
      },
      chunkBytes,
    );
    assert.ok(total > 3 * 4096 * (16 << 10), `${total} bytes`);
    assert.ok(biggest <= 2 * chunkBytes + (64 << 10), `a chunk of ${biggest} bytes`);
    if (dump === dumpRawTo) assert.equal(lines, 1 + 3 * (1 + 4096));
  }
});

/** Seeded random BTF of every kind, with random flags, values, names and references. */
function randomBtf(seed: number, base?: Btf): Uint8Array {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(rand() * n);
  const u32 = () => (rand() < 0.3 ? [0, 1, 0x7fffffff, 0x80000000, 0xffffffff][int(5)] : int(0x100000000));
  const names = ['', '', 'a', 'task_struct', 'x_y', '$weird name', 'tab\there', 'q"uote', "ap'os", '\xe9t\xe9', '.data..percpu'];
  const name = () => names[int(names.length)] + (rand() < 0.5 ? String(int(100)) : '');
  const b = new BtfBuilder(base, base ? base.littleEndian : rand() < 0.7);
  const first = b.startId;
  const n = first + int(60);
  for (let id = first; id <= n; id++) {
    // references to earlier types only (or through a PTR, anywhere): no cycles without a pointer
    const earlier = () => int(id);
    const kindFlag = rand() < 0.3;
    const vlen = () => int(6);
    const base = { name: name(), nameOff: 0, kindFlag };
    switch (1 + int(19)) {
      case 1:
        b.add({ ...base, kind: 'INT', size: [1, 2, 4, 8, 16][int(5)], encoding: int(16), bitsOffset: int(256), bits: int(256) });
        break;
      case 2:
        b.add({ ...base, kind: 'PTR', type: int(n + 1) });
        break;
      case 3:
        b.add({ ...base, kind: 'ARRAY', type: earlier(), indexType: earlier(), nelems: u32() });
        break;
      case 4:
      case 5:
        b.add({
          ...base,
          kind: rand() < 0.5 ? 'STRUCT' : 'UNION',
          size: u32(),
          members: Array.from({ length: vlen() }, () => ({
            name: name(),
            nameOff: 0,
            type: earlier(),
            bitsOffset: kindFlag ? int(1 << 24) : u32(),
            bitfieldSize: kindFlag ? int(256) : 0,
          })),
        });
        break;
      case 6:
        b.add({
          ...base,
          kind: 'ENUM',
          size: [1, 2, 4, 8][int(4)],
          values: Array.from({ length: vlen() }, () => ({ name: name(), nameOff: 0, value: kindFlag ? u32() | 0 : u32() })),
        });
        break;
      case 7:
        b.add({ ...base, kind: 'FWD' });
        break;
      case 8:
        b.add({ ...base, kind: 'TYPEDEF', type: earlier() });
        break;
      case 9:
        b.add({ ...base, kind: 'VOLATILE', type: earlier() });
        break;
      case 10:
        b.add({ ...base, kind: 'CONST', type: earlier() });
        break;
      case 11:
        b.add({ ...base, kind: 'RESTRICT', type: earlier() });
        break;
      case 12:
        b.add({ ...base, kind: 'FUNC', type: earlier(), linkage: int(4) });
        break;
      case 13:
        b.add({
          ...base,
          kind: 'FUNC_PROTO',
          type: earlier(),
          params: Array.from({ length: vlen() }, () => ({ name: name(), nameOff: 0, type: earlier() })),
        });
        break;
      case 14:
        b.add({ ...base, kind: 'VAR', type: earlier(), linkage: rand() < 0.8 ? int(3) : u32() });
        break;
      case 15:
        b.add({
          ...base,
          kind: 'DATASEC',
          size: u32(),
          vars: Array.from({ length: vlen() }, () => ({ type: earlier(), offset: u32(), size: u32() })),
        });
        break;
      case 16:
        b.add({ ...base, kind: 'FLOAT', size: [2, 4, 8, 12, 16][int(5)] });
        break;
      case 17:
        b.add({ ...base, kind: 'DECL_TAG', type: earlier(), componentIdx: rand() < 0.5 ? -1 : u32() | 0 });
        break;
      case 18:
        b.add({ ...base, kind: 'TYPE_TAG', type: earlier() });
        break;
      default: {
        const big = () => (BigInt(u32()) << 32n) | BigInt(u32());
        b.add({
          ...base,
          kind: 'ENUM64',
          size: 8,
          values: Array.from({ length: vlen() }, () => ({ name: name(), nameOff: 0, value: kindFlag ? BigInt.asIntN(64, big()) : big() })),
        });
      }
    }
  }
  return writeBtf(b.build());
}

test('random BTF of every kind (seeded, both byte orders) dumps as bpftool does', () => {
  for (let seed = 1; seed <= 200; seed++) sameAsBpftool(`random-${seed}.btf`, randomBtf(seed));
});

test('random split BTF on random bases dumps as bpftool does', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const baseFile = path.join(tmp(), `random-base-${seed}.btf`);
    writeFileSync(baseFile, randomBtf(1000 + seed));
    sameAsBpftool(`random-split-${seed}.btf`, randomBtf(2000 + seed, loadBtf(baseFile)), baseFile);
  }
});
