// dumpC: the C header of BTF must compile with clang, and every record in it must have
// exactly the BTF's layout (clang's sizeof/offsetof/_Alignof, and the BTF clang makes back
// from the header, bitfields included). Inputs: this machine's vmlinux, every fixture,
// cilium/ebpf's test objects, and split module BTF on its vmlinux base.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test } from 'node:test';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { structLayout } from '../../server/src/btf/layout';
import { FormatError } from '../../server/src/common/errors';
import { CLimitError, dumpC, dumpCDetailed } from '../../server/src/btf/dump-c';
import { BtfBuilder } from '../../server/src/btf/write';
import { loadBtf } from '../../server/src/cli/input';
import { ElfFile } from '../../server/src/elf/reader';
import { clangErrors, layoutAsserts, roundTrip } from '../btf-c-check';
import { CILIUM, FIXTURES, run } from '../helpers';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** Dump, compile with layout asserts, round-trip through clang's BTF. */
function checkDump(btf: Btf, what: string, opts: { types?: number[] } = {}): { records: number; asserts: number } {
  const res = dumpCDetailed(btf, opts);
  const asserts = layoutAsserts(btf, res);
  const { errors } = clangErrors(res.text + asserts.text);
  assert.deepEqual(errors.slice(0, 5), [], `${what}: the dump does not compile or its layouts differ`);
  const records = roundTrip(btf, res);
  return { records, asserts: asserts.count };
}

function hasBtf(file: string): boolean {
  return new ElfFile(readFileSync(file), file).section('.BTF') !== undefined;
}

test('vmlinux: dump compiles and every record has the BTF layout (dump time reported)', (t) => {
  const btf = loadBtf(VMLINUX);
  const t0 = performance.now();
  const text = dumpC(btf);
  const ms = performance.now() - t0;
  t.diagnostic(`dumpC(vmlinux, ${btf.length} types): ${ms.toFixed(0)} ms, ${text.length} bytes`);
  assert.ok(text.startsWith('#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n'));
  assert.match(text, /#pragma clang attribute push \(__attribute__\(\(preserve_access_index\)\), apply_to = record\)/);
  const { records, asserts } = checkDump(btf, 'vmlinux');
  t.diagnostic(`vmlinux: ${asserts} static asserts hold, ${records} records round-trip through clang's BTF`);
  assert.ok(records > 1000);
});

test('vmlinux: the same records, unions and enums as bpftool defines', () => {
  const ours = dumpC(loadBtf(VMLINUX));
  const theirs = run('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'c']);
  const defs = (s: string) => [...s.matchAll(/^(struct|union|enum) (\w+) \{/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
  assert.deepEqual(defs(ours), defs(theirs));
  const typedefs = (s: string) => s.split('\n').filter((l) => l.startsWith('typedef ')).length;
  // bpftool drops __builtin_va_list; we keep x86-64's as __builtin_va_list___btf
  assert.ok(Math.abs(typedefs(ours) - typedefs(theirs)) <= 1, `${typedefs(ours)} typedefs vs bpftool's ${typedefs(theirs)}`);
});

test('vmlinux: a subset brings exactly what it needs', () => {
  const btf = loadBtf(VMLINUX);
  const task = btf.find('STRUCT', 'task_struct')!;
  const res = dumpCDetailed(btf, { types: [task.id] });
  assert.match(res.text, /^struct task_struct \{$/m);
  assert.ok(res.text.length < dumpC(btf).length / 3);
  // everything task_struct holds by value is defined; what it points to may be forward only
  const { records } = checkDump(btf, 'task_struct subset', { types: [task.id] });
  assert.ok(records > 10);
  const list = btf.find('STRUCT', 'list_head')!;
  const small = dumpC(btf, { types: [list.id] });
  assert.equal((small.match(/^struct /gm) ?? []).length, 1, small);
});

for (const name of readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.o'))
  .sort()) {
  test(`fixture ${name}: dump compiles with the BTF layout`, () => {
    const file = path.join(FIXTURES, name);
    if (!hasBtf(file)) return assert.fail(`${name} has no .BTF`);
    // lsp_nested_anon's C text is exponential by construction (anonymous unions reused through
    // __typeof__ must be written out at every use, 16^6 of them): a bounded dump says so
    if (name.startsWith('lsp_nested_anon.')) return assert.throws(() => dumpC(loadBtf(file), { maxChars: 1 << 24 }), CLimitError);
    checkDump(loadBtf(file), name);
  });
}

const CILIUM_OBJECTS = [
  ...readdirSync(path.join(CILIUM, 'testdata'))
    .filter((f) => f.endsWith('-el.elf'))
    .map((f) => path.join(CILIUM, 'testdata', f)),
  ...readdirSync(path.join(CILIUM, 'btf/testdata'))
    .filter((f) => f.endsWith('-el.elf'))
    .map((f) => path.join(CILIUM, 'btf/testdata', f)),
];

test('cilium/ebpf test objects: dumps compile with the BTF layout', (t) => {
  let done = 0;
  for (const file of CILIUM_OBJECTS) {
    if (!hasBtf(file)) continue; // clang 7 objects carry no BTF
    checkDump(loadBtf(file), path.basename(file));
    done++;
  }
  t.diagnostic(`${done} of ${CILIUM_OBJECTS.length} objects have BTF and passed`);
  assert.ok(done >= 10);
});

test('split BTF: a module on its vmlinux base, whole and as a subset of its own types', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-split-'));
  const baseFile = path.join(dir, 'vmlinux.btf');
  writeFileSync(baseFile, gunzipSync(readFileSync(path.join(CILIUM, 'btf/testdata/vmlinux.btf.gz'))));
  const base = loadBtf(baseFile);
  const mods: [string, Btf][] = [['cilium btf_testmod', loadBtf(path.join(CILIUM, 'btf/testdata/btf_testmod.btf'), base)]];
  // modules of the running kernel, when it has any loaded
  const vmlinux = loadBtf(VMLINUX);
  for (const m of readdirSync('/sys/kernel/btf')
    .filter((f) => f !== 'vmlinux')
    .slice(0, 4)) {
    mods.push([m, loadBtf(path.join('/sys/kernel/btf', m), vmlinux)]);
  }
  t.diagnostic(`modules: ${mods.map((m) => m[0]).join(', ')}`);
  for (const [name, btf] of mods) {
    checkDump(btf, name);
    const own: number[] = [];
    for (let id = btf.startId; id < btf.length; id++) own.push(id);
    const sub = dumpCDetailed(btf, { types: own });
    const all = dumpC(btf);
    assert.ok(sub.text.length < all.length, `${name}: subset is smaller`);
    const { errors } = clangErrors(sub.text + layoutAsserts(btf, sub).text);
    assert.deepEqual(errors.slice(0, 5), [], `${name}: own types with their base dependencies`);
  }
});

test('hand-made BTF: clashing names, enum sizes and values, packing, union alignment, skipped kinds', () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
  const chr = b.add({ kind: 'INT', name: 'char', nameOff: 0, kindFlag: false, size: 1, encoding: 1, bitsOffset: 0, bits: 8 });
  const long = b.add({ kind: 'INT', name: 'long', nameOff: 0, kindFlag: false, size: 8, encoding: 1, bitsOffset: 0, bits: 64 });
  const m = (name: string, type: number, bitsOffset: number, bitfieldSize = 0) => ({ name, nameOff: 0, type, bitsOffset, bitfieldSize });
  const foo1 = b.add({ kind: 'STRUCT', name: 'foo', nameOff: 0, kindFlag: false, size: 4, members: [m('a', int, 0)] });
  const foo2 = b.add({ kind: 'STRUCT', name: 'foo', nameOff: 0, kindFlag: false, size: 16, members: [m('x', long, 0), m('y', chr, 64)] });
  // misaligned int and odd size: must come out packed
  const pk = b.add({
    kind: 'STRUCT',
    name: 'pk',
    nameOff: 0,
    kindFlag: true,
    size: 7,
    members: [m('c', chr, 0), m('i', int, 8), m('bf', int, 40, 3)],
  });
  // a union larger than its members: aligned(16)
  const un = b.add({ kind: 'UNION', name: 'un', nameOff: 0, kindFlag: false, size: 16, members: [m('c', chr, 0), m('i', int, 0)] });
  const e1 = b.add({ kind: 'ENUM', name: 'e1', nameOff: 0, kindFlag: true, size: 1, values: [{ name: 'V', nameOff: 0, value: -2 }] });
  const e2 = b.add({
    kind: 'ENUM',
    name: 'e2',
    nameOff: 0,
    kindFlag: false,
    size: 4,
    values: [{ name: 'V', nameOff: 0, value: 0xfffffff0 }],
  });
  const e64 = b.add({
    kind: 'ENUM64',
    name: 'e64',
    nameOff: 0,
    kindFlag: false,
    size: 8,
    values: [{ name: 'BIG', nameOff: 0, value: 0xffffffffffffffffn }],
  });
  const s64 = b.add({
    kind: 'ENUM64',
    name: 's64',
    nameOff: 0,
    kindFlag: true,
    size: 8,
    values: [
      { name: 'MIN', nameOff: 0, value: -(1n << 63n) },
      { name: 'ONE', nameOff: 0, value: 1n },
    ],
  });
  const fwd = b.add({ kind: 'FWD', name: 'later', nameOff: 0, kindFlag: true });
  const pfwd = b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: fwd });
  const flt = b.add({ kind: 'FLOAT', name: 'double', nameOff: 0, kindFlag: false, size: 8 });
  const tag = b.add({ kind: 'TYPE_TAG', name: 'user', nameOff: 0, kindFlag: false, type: int });
  const ptag = b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: tag });
  const holder = b.add({
    kind: 'STRUCT',
    name: 'holder',
    nameOff: 0,
    kindFlag: false,
    size: 96,
    members: [
      m('f1', foo1, 0),
      m('f2', foo2, 64),
      m('p', pk, 192),
      m('u', un, 256),
      m('e', e1, 384),
      m('e2', e2, 416),
      m('big', e64, 448),
      m('later', pfwd, 512),
      m('d', flt, 576),
      m('tagged', ptag, 640),
      m('s', s64, 704),
    ],
  });
  // bitfields as encoders before kind_flag wrote them: an INT narrower than its size
  const u3 = b.add({ kind: 'INT', name: 'unsigned int', nameOff: 0, kindFlag: false, size: 4, encoding: 0, bitsOffset: 0, bits: 3 });
  b.add({ kind: 'STRUCT', name: 'oldbits', nameOff: 0, kindFlag: false, size: 8, members: [m('x', u3, 0), m('y', u3, 3), m('w', chr, 8)] });
  const proto = b.add({
    kind: 'FUNC_PROTO',
    name: '',
    nameOff: 0,
    kindFlag: false,
    type: int,
    params: [{ name: 'h', nameOff: 0, type: holder }],
  });
  b.add({ kind: 'FUNC', name: 'fn', nameOff: 0, kindFlag: false, type: proto, linkage: 1 });
  const v = b.add({ kind: 'VAR', name: 'gvar', nameOff: 0, kindFlag: false, type: holder, linkage: 1 });
  b.add({ kind: 'DATASEC', name: '.data', nameOff: 0, kindFlag: false, size: 96, vars: [{ type: v, offset: 0, size: 96 }] });
  b.add({ kind: 'DECL_TAG', name: 'dtag', nameOff: 0, kindFlag: false, type: holder, componentIdx: -1 });
  const btf = b.build();

  const text = dumpC(btf);
  assert.match(text, /^struct foo \{\n\tint a;\n\};$/m);
  assert.match(text, /^struct foo___2 \{$/m);
  assert.match(text, /\tstruct foo___2 f2;/);
  assert.match(text, /^\} __attribute__\(\(packed\)\);$/m);
  assert.match(text, /^union un \{[^}]*\} __attribute__\(\(aligned\(16\)\)\);$/m);
  assert.match(text, /\tV = -2,\n\} __attribute__\(\(mode\(QI\)\)\);/);
  assert.match(text, /\tV___2 = 4294967280U,/);
  assert.match(text, /\tBIG = 18446744073709551615ULL,/);
  assert.match(text, /\tMIN = \(-9223372036854775807LL - 1\),/);
  assert.match(text, /^union later;$/m);
  assert.match(text, /\tint __attribute__\(\(btf_type_tag\("user"\)\)\) \*tagged;/);
  assert.doesNotMatch(text, /gvar|\bfn\b|dtag|\.data/);
  assert.match(text, /^struct oldbits \{\n\tunsigned int x: 3;\n\tunsigned int y: 3;\n\tchar w;\n/m);
  checkDump(btf, 'hand-made');
});

test('declarators of function pointers are spelled as bpftool spells them', () => {
  // libbpf spaces a pointer off a parenthesized function declarator (`struct s * (*f)(int)`),
  // not a pointer to an array (`int *(*p)[4]`)
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-decl-'));
  const src = path.join(dir, 'decl.c');
  writeFileSync(
    src,
    [
      'struct s { int a; };',
      'typedef struct s *(*f1)(int);',
      'typedef char **(*f2)(void);',
      'typedef const char *(*f3)(void);',
      'typedef int (*f4)(int);',
      'typedef int *(*p1)[4];',
      'typedef struct s *(*arr[3])(int);',
      'typedef int *(*(*f5)(int))(char);',
      'typedef void (*f6)(struct s *(*cb)(int));',
      'typedef struct s *fn(int);',
      'struct holder { f1 a; f2 b; f3 c; f4 d; p1 e; arr g; f5 h; f6 i; fn *j; struct s *(*direct)(long); int *(*pa)[2]; };',
      'struct holder h;',
    ].join('\n'),
  );
  const obj = path.join(dir, 'decl.o');
  run('clang', ['-g', '-O2', '-target', 'bpf', '-c', src, '-o', obj]);
  const decls = (text: string) => text.split('\n').filter((l) => /\(\*|typedef/.test(l));
  const ours = decls(dumpC(loadBtf(obj)));
  assert.ok(ours.includes('typedef struct s * (*f1)(int);'), ours.join('\n'));
  assert.deepEqual(ours, decls(run('bpftool', ['btf', 'dump', 'file', obj, 'format', 'c'])));
});

test('huge gaps become one char array, and the layout still holds', () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
  const m = (name: string, type: number, bitsOffset: number, bitfieldSize = 0) => ({ name, nameOff: 0, type, bitsOffset, bitfieldSize });
  // a 1 MiB tail and a 64 KiB gap after a 3-bit field
  b.add({ kind: 'STRUCT', name: 'vast', nameOff: 0, kindFlag: false, size: 1 << 20, members: [m('a', int, 0)] });
  b.add({ kind: 'STRUCT', name: 'gap', nameOff: 0, kindFlag: true, size: 65544, members: [m('x', int, 0, 3), m('y', int, 65540 * 8)] });
  const btf = b.build();
  const text = dumpC(btf);
  assert.ok(text.length < 2000, `${text.length} bytes`);
  assert.match(text, /\tchar __bpf_lens_pad_4\[1048572\];/);
  assert.match(text, /\tint x: 3;\n\tchar: 5;\n(\t\w+: \d+;\n)*\tchar __bpf_lens_pad_\d+\[\d+\];\n(\t\w+: \d+;\n)*\tint y;/);
  checkDump(btf, 'gaps');
  // 1 GiB, as a mutated size field gives: still one line, not 2^27 of them
  const h = new BtfBuilder();
  const hint = h.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
  h.add({ kind: 'STRUCT', name: 'vast', nameOff: 0, kindFlag: false, size: 1 << 30, members: [m('a', hint, 0)] });
  assert.match(dumpC(h.build()), /\tchar __bpf_lens_pad_4\[1073741820\];/);
});

test('dumpC refuses type ids out of range', () => {
  const btf = loadBtf(path.join(FIXTURES, 'layout_shapes.o'));
  assert.throws(() => dumpC(btf, { types: [btf.length + 5] }), /out of range/);
});

test('hostile BTF: mutated fixtures dump or fail with a clear error; deep pointer chains (valid BTF) are dumped', () => {
  const file = path.join(FIXTURES, 'layout_shapes.o');
  const good = new ElfFile(readFileSync(file), file).section('.BTF')!.data;
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  let parsed = 0;
  for (let i = 0; i < 400; i++) {
    const bytes = Uint8Array.from(good);
    for (let k = 0, flips = 1 + rand(4); k < flips; k++) bytes[24 + rand(bytes.length - 24)] = rand(256);
    let btf: Btf;
    try {
      btf = parseBtf(bytes, { file: 'mutated' });
    } catch {
      continue;
    }
    parsed++;
    try {
      dumpC(btf);
      for (let id = 1; id < btf.length; id++) {
        const t = btf.type(id);
        if (t.kind === 'STRUCT' || t.kind === 'UNION') structLayout(btf, id);
      }
    } catch (e) {
      assert.ok(e instanceof RangeError || e instanceof TypeError || e instanceof FormatError, `mutation ${i}: ${String(e)}`);
      assert.doesNotMatch(String(e), /call stack/);
    }
  }
  assert.ok(parsed > 50, `${parsed} mutations parsed`);
  const b = new BtfBuilder();
  let id = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
  for (let i = 0; i < 20000; i++) id = b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: id });
  b.add({ kind: 'TYPEDEF', name: 'deep_t', nameOff: 0, kindFlag: false, type: id });
  assert.ok(dumpC(b.build()).includes(`typedef int ${'*'.repeat(20000)}deep_t;`));
});
