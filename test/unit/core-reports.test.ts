// What the CO-RE engine reports and patches when things go wrong: missing fields and types,
// ambiguity, instructions that do not hold the local value, load-size changes, module BTF
// search order, candidate pruning, and hostile records. Local and target BTF are built here
// with BtfBuilder so that each case is exact; real-kernel cases use /sys/kernel/btf/vmlinux.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Btf } from '../../server/src/btf/btf';
import { type BtfMember, type TypeId } from '../../server/src/btf/types';
import { BtfBuilder } from '../../server/src/btf/write';
import {
  BAD_RELO_CALL_IMM,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_BYTE_SIZE,
  BPF_CORE_FIELD_EXISTS,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_SIZE,
  CandidateCache,
  type CoreReloInput,
  type TargetBtf,
  relocateCore,
} from '../../server/src/core';
import { readCoreObject, readTargetBtf, relocateObject } from '../core-helpers';
import { fixture } from '../helpers';

const BPF_LDX_MEM_W = 0x61,
  BPF_LDX_MEM_DW = 0x79,
  BPF_ALU64_MOV_K = 0xb7,
  BPF_LD_IMM64 = 0x18,
  BPF_CALL = 0x85;

/** Little-endian raw instructions: [code, dst, src, off, imm]. */
function insns(...list: [number, number, number, number, number][]): Uint8Array {
  const out = new Uint8Array(list.length * 8);
  const dv = new DataView(out.buffer);
  list.forEach(([code, dst, src, off, imm], i) => {
    out[i * 8] = code;
    out[i * 8 + 1] = (src << 4) | dst;
    dv.setInt16(i * 8 + 2, off, true);
    dv.setInt32(i * 8 + 4, imm, true);
  });
  return out;
}

const field = (dv: DataView, i: number) => ({
  code: dv.getUint8(i * 8),
  off: dv.getInt16(i * 8 + 2, true),
  imm: dv.getInt32(i * 8 + 4, true),
});

class Types {
  readonly b: BtfBuilder;
  constructor(base?: Btf) {
    this.b = new BtfBuilder(base);
  }
  int(name: string, size: number, signed: boolean): TypeId {
    return this.b.add({ kind: 'INT', name, nameOff: 0, kindFlag: false, size, encoding: signed ? 1 : 0, bitsOffset: 0, bits: size * 8 });
  }
  struct(name: string, size: number, members: [string, TypeId, number][], kind: 'STRUCT' | 'UNION' = 'STRUCT'): TypeId {
    const ms: BtfMember[] = members.map(([n, type, off]) => ({ name: n, nameOff: 0, type, bitsOffset: off * 8, bitfieldSize: 0 }));
    return this.b.add({ kind, name, nameOff: 0, kindFlag: false, size, members: ms });
  }
  ptr(to: TypeId): TypeId {
    return this.b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: to });
  }
}

const relo = (insnIdx: number, typeId: TypeId, accessStr: string, kind: number): CoreReloInput =>
  ({ insnOff: insnIdx * 8, typeId, accessStr, kind, accessStrOff: 0 }) as CoreReloInput;

test('a field the target lacks: poisoned load naming struct and field, existence check answers 0', () => {
  const l = new Types();
  const int = l.int('int', 4, true);
  const foo = l.struct('foo___v2', 8, [
    ['a', int, 0],
    ['flags', int, 4],
  ]);
  const t = new Types();
  const tint = t.int('int', 4, true);
  t.struct('foo', 12, [
    ['a', tint, 0],
    ['b', tint, 4],
    ['c', tint, 8],
  ]);
  const code = insns([BPF_LDX_MEM_W, 0, 1, 4, 0], [BPF_ALU64_MOV_K, 2, 0, 0, 1]);
  const out = relocateCore({
    localBtf: l.b.build(),
    targets: [{ name: 'vmlinux', btf: t.b.build() }],
    insns: code,
    relos: [relo(0, foo, '0:1', BPF_CORE_FIELD_BYTE_OFFSET), relo(1, foo, '0:1', BPF_CORE_FIELD_EXISTS)],
  });
  const [load, exists] = out.reports;
  assert.equal(load.status, 'poisoned');
  assert.equal(load.fatal, false);
  assert.equal(load.access, 'foo___v2->flags');
  assert.equal(load.localType, 'struct foo___v2');
  assert.equal(load.message, "foo___v2->flags: field 'flags' of struct foo___v2 not found in struct foo of the target (members: a, b, c)");
  assert.deepEqual(
    load.candidates.map((c) => [c.btf, c.type, c.matched]),
    [['vmlinux', 'struct foo', false]],
  );
  const dv = new DataView(code.buffer);
  assert.deepEqual(field(dv, 0), { code: BPF_CALL, off: 0, imm: BAD_RELO_CALL_IMM });
  assert.equal(BAD_RELO_CALL_IMM, 195896080);
  assert.equal(code[1], 0, 'registers cleared');
  assert.equal(exists.status, 'missing');
  assert.deepEqual([exists.localValue, exists.targetValue], [1n, 0n]);
  assert.deepEqual(field(dv, 1), { code: BPF_ALU64_MOV_K, off: 0, imm: 0 });
  assert.ok(out.ok, 'poisoning is not fatal: the verifier decides whether the code is reachable');
});

test('relocated offsets through anonymous members and arrays, and a renamed field suggested', () => {
  const l = new Types();
  const int = l.int('int', 4, true);
  const arr = l.b.add({ kind: 'ARRAY', name: '', nameOff: 0, kindFlag: false, type: int, indexType: int, nelems: 4 });
  const inner = l.struct('', 16, [['vals', arr, 0]]);
  const s = l.struct('s', 20, [
    ['x', int, 0],
    ['', inner, 4],
  ]);
  const t = new Types();
  const tint = t.int('int', 4, true);
  const tarr = t.b.add({ kind: 'ARRAY', name: '', nameOff: 0, kindFlag: false, type: tint, indexType: tint, nelems: 8 });
  const tinner = t.struct('', 32, [['vals', tarr, 0]], 'UNION');
  t.struct('s', 48, [
    ['__x', tint, 0],
    ['pad', tint, 4],
    ['', tinner, 16],
  ]);
  const code = insns([BPF_LDX_MEM_W, 0, 1, 12, 0], [BPF_LDX_MEM_W, 0, 1, 0, 0]);
  const out = relocateCore({
    localBtf: l.b.build(),
    targets: [{ name: 'vmlinux', btf: t.b.build() }],
    insns: code,
    relos: [relo(0, s, '0:1:0:2', BPF_CORE_FIELD_BYTE_OFFSET), relo(1, s, '0:0', BPF_CORE_FIELD_BYTE_OFFSET)],
  });
  const [vals, x] = out.reports;
  assert.equal(vals.access, 's->vals[2]');
  assert.deepEqual([vals.status, vals.localValue, vals.targetValue], ['ok', 12n, 24n]);
  assert.deepEqual(vals.patch, { insnClass: 'LDX/ST/STX', before: 12n, after: 24n, memSize: undefined });
  assert.equal(field(new DataView(code.buffer), 0).off, 24);
  assert.equal(x.status, 'poisoned');
  assert.match(x.message!, /field 'x' of struct s not found in struct s of the target \(similar: __x; members: __x, pad, vals\)/);
});

test('an instruction that does not hold the local value is reported, not patched (fatal, as libbpf)', () => {
  const l = new Types();
  const int = l.int('int', 4, true);
  const foo = l.struct('foo', 8, [
    ['a', int, 0],
    ['b', int, 4],
  ]);
  const t = new Types();
  const tint = t.int('int', 4, true);
  t.struct('foo', 16, [
    ['a', tint, 0],
    ['b', tint, 8],
  ]);
  const code = insns([BPF_LDX_MEM_W, 0, 1, 6, 0]);
  const before = code.slice();
  const out = relocateCore({
    localBtf: l.b.build(),
    targets: [{ name: 'k', btf: t.b.build() }],
    insns: code,
    relos: [relo(0, foo, '0:1', BPF_CORE_FIELD_BYTE_OFFSET)],
  });
  assert.equal(out.ok, false);
  assert.equal(out.reports[0].status, 'invalid');
  assert.match(out.reports[0].message!, /instruction #0 \(LDX\/ST\/STX\) holds off 6, expected the local value 4 \(→ 8\)/);
  assert.deepEqual(code, before);
});

test('candidates that disagree make the relocation ambiguous, naming each candidate', () => {
  const l = new Types();
  const int = l.int('int', 4, true);
  const foo = l.struct('foo', 8, [
    ['a', int, 0],
    ['b', int, 4],
  ]);
  const t = new Types();
  const tint = t.int('int', 4, true);
  const f1 = t.struct('foo', 8, [
    ['a', tint, 0],
    ['b', tint, 4],
  ]);
  const f2 = t.struct('foo___other', 16, [
    ['b', tint, 0],
    ['a', tint, 8],
  ]);
  const out = relocateCore({
    localBtf: l.b.build(),
    targets: [{ name: 'vmlinux', btf: t.b.build() }],
    insns: insns([BPF_LDX_MEM_W, 0, 1, 4, 0]),
    relos: [relo(0, foo, '0:1', BPF_CORE_FIELD_BYTE_OFFSET)],
  });
  const r = out.reports[0];
  assert.equal(r.status, 'ambiguous');
  assert.ok(r.fatal);
  assert.deepEqual(
    r.targetTypes.map((x) => x.id),
    [f1, f2],
  );
  assert.match(
    r.message!,
    /struct foo \[\d+\] in vmlinux → 4 \(bit offset 32\); struct foo___other \[\d+\] in vmlinux → 0 \(bit offset 0\)/,
  );
});

test('load size changes: allowed for unsigned ints (size rewritten), poisoned for signed ones', () => {
  const l = new Types();
  const u64 = l.int('unsigned long long', 8, false);
  const foo = l.struct('foo', 16, [
    ['u', u64, 0],
    ['s', u64, 8],
  ]);
  const t = new Types();
  const u32 = t.int('unsigned int', 4, false);
  const s32 = t.int('int', 4, true);
  t.struct('foo', 8, [
    ['u', u32, 0],
    ['s', s32, 4],
  ]);
  const code = insns([BPF_LDX_MEM_DW, 0, 1, 0, 0], [BPF_LDX_MEM_DW, 0, 1, 8, 0]);
  const out = relocateCore({
    localBtf: l.b.build(),
    targets: [{ name: 'k', btf: t.b.build() }],
    insns: code,
    relos: [relo(0, foo, '0:0', BPF_CORE_FIELD_BYTE_OFFSET), relo(1, foo, '0:1', BPF_CORE_FIELD_BYTE_OFFSET)],
  });
  const [u, s] = out.reports;
  assert.equal(u.status, 'ok');
  assert.deepEqual(u.patch?.memSize, { from: 8, to: 4 });
  assert.equal(field(new DataView(code.buffer), 0).code, BPF_LDX_MEM_W);
  assert.equal(s.status, 'poisoned');
  assert.match(
    s.message!,
    /8 bytes locally \(unsigned long long\) but 4 bytes .*\(int\); a load\/store may change size only for pointers and unsigned integers/,
  );
  assert.equal(field(new DataView(code.buffer), 1).imm, BAD_RELO_CALL_IMM);
});

test('LD_IMM64 relocations: 64-bit values patched in both halves; poison covers both halves', () => {
  const l = new Types();
  const e = l.b.add({
    kind: 'ENUM64',
    name: 'big',
    nameOff: 0,
    kindFlag: false,
    size: 8,
    values: [
      { name: 'HUGE', nameOff: 0, value: 5n },
      { name: 'GONE', nameOff: 0, value: 6n },
    ],
  });
  const t = new Types();
  t.b.add({
    kind: 'ENUM64',
    name: 'big',
    nameOff: 0,
    kindFlag: false,
    size: 8,
    values: [{ name: 'HUGE', nameOff: 0, value: 0xfffffffffffff001n }],
  });
  const code = insns([BPF_LD_IMM64, 1, 0, 0, 5], [0, 0, 0, 0, 0], [BPF_LD_IMM64, 1, 0, 0, 6], [0, 0, 0, 0, 0]);
  const out = relocateCore({
    localBtf: l.b.build(),
    targets: [{ name: 'k', btf: t.b.build() }],
    insns: code,
    relos: [relo(0, e, '0', BPF_CORE_ENUMVAL_VALUE), relo(2, e, '1', BPF_CORE_ENUMVAL_VALUE)],
  });
  const dv = new DataView(code.buffer);
  assert.equal(out.reports[0].targetValue, 0xfffffffffffff001n);
  assert.deepEqual([field(dv, 0).imm >>> 0, field(dv, 1).imm >>> 0], [0xfffff001, 0xffffffff]);
  assert.equal(out.reports[1].status, 'poisoned');
  assert.match(out.reports[1].message!, /enumerator 'GONE' of enum big not found in enum big of the target/);
  assert.deepEqual(
    [field(dv, 2), field(dv, 3)].map((f) => [f.code, f.imm]),
    [
      [BPF_CALL, BAD_RELO_CALL_IMM],
      [BPF_CALL, BAD_RELO_CALL_IMM],
    ],
  );
});

test('module BTFs are searched only when vmlinux has no candidate; ids continue after vmlinux', () => {
  const vmlinux = readTargetBtf('/sys/kernel/btf/vmlinux', 'vmlinux');
  const m = new Types(vmlinux.btf);
  const mint = m.int('int', 4, true);
  const modType = m.struct('bpf_lens_mod_ctx', 8, [
    ['x', mint, 0],
    ['y', mint, 4],
  ]);
  m.struct('task_struct', 4, [['pid', mint, 0]]); // shadow: must not be used, vmlinux has one
  const mod: TargetBtf = { name: 'bpf_lens_mod', btf: m.b.build() };
  const l = new Types();
  const int = l.int('int', 4, true);
  const ctx = l.struct('bpf_lens_mod_ctx___mine', 4, [['y', int, 0]]);
  const task = l.struct('task_struct', 4, [['pid', int, 0]]);
  const code = insns([BPF_LDX_MEM_W, 0, 1, 0, 0], [BPF_LD_IMM64, 1, 0, 0, ctx], [0, 0, 0, 0, 0], [BPF_LDX_MEM_W, 0, 1, 0, 0]);
  const out = relocateCore({
    localBtf: l.b.build(),
    targets: [vmlinux, mod],
    insns: code,
    relos: [
      relo(0, ctx, '0:0', BPF_CORE_FIELD_BYTE_OFFSET),
      relo(1, ctx, '0', BPF_CORE_TYPE_ID_TARGET),
      relo(3, task, '0:0', BPF_CORE_FIELD_BYTE_OFFSET),
    ],
  });
  const [y, id, pid] = out.reports;
  assert.deepEqual([y.status, y.targetValue, y.targetTypes[0].btf], ['ok', 4n, 'bpf_lens_mod']);
  assert.equal(id.targetValue, BigInt(modType));
  assert.ok(modType >= vmlinux.btf.length);
  assert.deepEqual(
    pid.targetTypes.map((t) => t.btf),
    ['vmlinux'],
  );
  const kTask = vmlinux.btf.find('STRUCT', 'task_struct') as { members: readonly BtfMember[] };
  assert.equal(pid.targetValue, BigInt(kTask.members.find((mm) => mm.name === 'pid')!.bitsOffset / 8));
});

test("the candidate cache prunes a type's candidates to those that matched (shared across programs)", () => {
  const l = new Types();
  const int = l.int('int', 4, true);
  const foo = l.struct('foo', 8, [
    ['a', int, 0],
    ['b', int, 4],
  ]);
  const t = new Types();
  const tint = t.int('int', 4, true);
  t.struct('foo', 8, [
    ['a', tint, 0],
    ['b', tint, 4],
  ]);
  t.struct('foo___old', 4, [['b', tint, 0]]);
  const local = l.b.build();
  const targets = [{ name: 'vmlinux', btf: t.b.build() }];
  const cache = new CandidateCache(local, targets);
  const first = relocateCore({
    localBtf: local,
    targets,
    cache,
    insns: insns([BPF_LDX_MEM_W, 0, 1, 0, 0]),
    relos: [relo(0, foo, '0:0', BPF_CORE_FIELD_BYTE_OFFSET)],
  });
  assert.deepEqual(
    first.reports[0].candidates.map((c) => c.matched),
    [true, false],
  );
  // `b` exists in both, at different offsets: without pruning this would be ambiguous
  const second = relocateCore({
    localBtf: local,
    targets,
    cache,
    insns: insns([BPF_LDX_MEM_W, 0, 1, 4, 0]),
    relos: [relo(0, foo, '0:1', BPF_CORE_FIELD_BYTE_OFFSET)],
  });
  assert.deepEqual([second.reports[0].status, second.reports[0].targetValue, second.reports[0].candidates.length], ['ok', 4n, 1]);
  const fresh = relocateCore({
    localBtf: local,
    targets,
    insns: insns([BPF_LDX_MEM_W, 0, 1, 4, 0]),
    relos: [relo(0, foo, '0:1', BPF_CORE_FIELD_BYTE_OFFSET)],
  });
  assert.equal(fresh.reports[0].status, 'ambiguous');
});

test('hostile records are reports with status invalid, never exceptions', () => {
  const l = new Types();
  const int = l.int('int', 4, true);
  const foo = l.struct('foo', 4, [['a', int, 0]]);
  const anon = l.struct('', 4, [['a', int, 0]]);
  const t = new Types();
  t.struct('foo', 4, [['a', t.int('int', 4, true), 0]]);
  const code = insns(...Array.from({ length: 9 }, (): [number, number, number, number, number] => [BPF_ALU64_MOV_K, 0, 0, 0, 0]));
  const bad: CoreReloInput[] = [
    relo(0, 99999, '0:0', BPF_CORE_FIELD_BYTE_OFFSET),
    relo(1, foo, '0:x', BPF_CORE_FIELD_BYTE_OFFSET),
    relo(2, foo, '0:7', BPF_CORE_FIELD_BYTE_OFFSET),
    relo(3, foo, '', BPF_CORE_FIELD_BYTE_OFFSET),
    relo(4, foo, '0:0', 77),
    relo(5, foo, '1', BPF_CORE_TYPE_SIZE),
    relo(6, anon, '0:0', BPF_CORE_FIELD_BYTE_SIZE),
    relo(7, int, '0:0:0', BPF_CORE_FIELD_BYTE_OFFSET),
    { ...relo(8, foo, '0:0', BPF_CORE_FIELD_BYTE_OFFSET), insnOff: 8 * 8 + 3 },
  ];
  const out = relocateCore({ localBtf: l.b.build(), targets: [{ name: 'k', btf: t.b.build() }], insns: code, relos: bad });
  assert.equal(out.reports.length, bad.length);
  for (const r of out.reports) {
    assert.equal(r.status, 'invalid', `relo #${r.index}`);
    assert.ok(r.fatal && r.message && r.message.length > 10, `relo #${r.index}: ${r.message}`);
  }
  assert.match(out.reports[0].message!, /type id 99999 is out of range/);
  assert.match(out.reports[6].message!, /anonymous/);
});

test('real fixture against this kernel: accesses read as C paths; task_t typedef explained', () => {
  const vmlinux = readTargetBtf('/sys/kernel/btf/vmlinux', 'vmlinux');
  const tracer = relocateObject(readCoreObject(fixture('core_tracer.o')), [vmlinux]);
  const accesses = new Set(tracer.flatMap((s) => s.reports.map((r) => r.access)));
  for (const a of [
    'task_struct->se.vruntime',
    'task_struct->real_parent',
    'dentry->d_name.len',
    'cred->uid.val',
    'enum pid_type::PIDTYPE_SID',
    'struct linux_binprm',
  ]) {
    assert.ok(accesses.has(a), `${a} in ${[...accesses].join(' ')}`);
  }
  assert.ok(tracer.every((s) => s.reports.every((r) => r.status === 'ok' || r.status === 'missing')));
  const local = relocateObject(readCoreObject(fixture('core_local.o')), [vmlinux]);
  const td = local[0].reports.find((r) => r.access === 'task_t->real_parent')!;
  assert.equal(td.status, 'poisoned');
  assert.match(td.message!, /no typedef named 'task_t' in vmlinux; .*struct task_struct instead/);
  // the editor places it on the source line BTF line_info gives (coarse, as in verifier logs)
  assert.match(td.source!.file, /core_local\.bpf\.c$/);
  assert.match(td.source!.text, /out\[\d+\] = bpf_core_field_offset\(/);
  assert.ok(local[0].reports.every((r) => r.source && r.source.line > 0));
});
