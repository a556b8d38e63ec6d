// The load pipeline's pure steps on real objects, without a kernel: linking (subprograms and a
// callback appended, calls re-aimed), func_info/line_info rebased to the linked program,
// `--set` values checked against the variable's C type, kconfig values checked against the
// extern's C type, and reading a verifier log.
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import { test } from 'node:test';
import { decodeInsn, isPseudoFunc, isSubprogCall } from '../../server/src/object/insn';
import { openObject, type BpfObject } from '../../server/src/object';
import { buildFuncInfo, buildLineInfo } from '../../server/src/load/ext-info';
import { encodeKcfgValue, kcfgType, parseKconfig } from '../../server/src/load/kconfig';
import { linkProgram } from '../../server/src/load/link-subprogs';
import { applyRodataSets } from '../../server/src/load/rodata-set';
import { failedInsn, rejectionReason } from '../../server/src/load/verifier-log';
import { fixture } from '../helpers';

const open = (f: string): BpfObject => openObject(new Uint8Array(readFileSync(f)), f);

test('linking: rich_main gets record, scale and the bpf_loop callback appended; every call and callback address lands on a function start', () => {
  const obj = open(fixture('loader_rich.o'));
  const prog = obj.programs.find((p) => p.name === 'rich_main')!;
  const l = linkProgram(obj, prog, (i) => obj.elf.sections[i].data);
  assert.deepEqual(l.parts.map((p) => p.fn.name).sort(), ['record', 'rich_main', 'scale', 'sum_cb']);
  assert.equal(l.parts[0].fn.name, 'rich_main');
  const starts = new Set(l.parts.map((p) => p.start));
  const total = l.insns.length / 8;
  let calls = 0;
  for (let i = 0; i < total; i++) {
    const insn = decodeInsn(l.insns, i, obj.littleEndian);
    if (!isSubprogCall(insn) && !isPseudoFunc(insn)) continue;
    calls++;
    assert.ok(starts.has(i + insn.imm + 1), `instruction ${i} aims at ${i + insn.imm + 1}, no function start`);
  }
  assert.ok(calls >= 8, `${calls} calls`);
  // func_info: one record per placed function, at its start; line_info inside the program, ordered per part
  const fi = buildFuncInfo(obj, l)!;
  assert.deepEqual(
    fi.map((r) => r.insnOff),
    l.parts.map((p) => p.start),
  );
  assert.deepEqual(
    fi.map((r) => obj.btf!.nameOf(r.typeId)),
    l.parts.map((p) => p.fn.name),
  );
  const lines = buildLineInfo(obj, l);
  assert.ok(lines.length > 10 && lines.every((x) => x.insn < total));
  for (const p of l.parts)
    assert.ok(
      lines.some((x) => x.insn === p.start),
      `a line at the start of ${p.fn.name}`,
    );
  // rich_other shares scale and record but not the callback
  const other = linkProgram(
    obj,
    obj.programs.find((p) => p.name === 'rich_other')!,
    (i) => obj.elf.sections[i].data,
  );
  assert.deepEqual(other.parts.map((p) => p.fn.name).sort(), ['record', 'rich_other', 'scale']);
});

test('--set: values are checked against the C type of the .rodata variable', () => {
  const obj = open(fixture('loader_rich.o'));
  const le32 = (m: Map<string, Uint8Array>) => Buffer.from(m.get('.rodata')!).readUInt32LE(0);
  assert.equal(le32(applyRodataSets(obj, { factor: '0x10' })), 16);
  assert.equal(le32(applyRodataSets(obj, { factor: '4294967295' })), 0xffffffff);
  assert.throws(() => applyRodataSets(obj, { factor: '4294967296' }), /does not fit in 4 byte\(s\) unsigned/);
  assert.throws(() => applyRodataSets(obj, { factor: '-1' }), /does not fit/);
  assert.throws(() => applyRodataSets(obj, { factor: 'lots' }), /'lots' is not a number/);
  assert.throws(() => applyRodataSets(obj, { total: '1' }), /no \.rodata variable of that name/);
});

test('kconfig: values from config text, encoded for the extern C type as libbpf does', () => {
  const cfg = parseKconfig('# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_HZ=250\nCONFIG_S="v6"\nCONFIG_M=m\n');
  assert.deepEqual(
    [...cfg],
    [
      ['CONFIG_A', 'y'],
      ['CONFIG_HZ', '250'],
      ['CONFIG_S', '"v6"'],
      ['CONFIG_M', 'm'],
    ],
  );
  const obj = open(fixture('load_externs.o'));
  const ty = (name: string) => kcfgType(obj.btf!, obj.externs.find((e) => e.name === name)!.typeId!);
  const kinds = obj.externs.filter((e) => e.kind === 'kconfig').map((e) => [e.name, ty(e.name)?.kind]);
  assert.ok(kinds.length >= 4, JSON.stringify(kinds));
  assert.ok(kinds.some(([, k]) => k === 'int') && kinds.some(([, k]) => k === 'tristate'), JSON.stringify(kinds));
  assert.deepEqual([...encodeKcfgValue('X', { kind: 'bool' }, 'y', true)], [1]);
  assert.throws(() => encodeKcfgValue('X', { kind: 'bool' }, 'm', true), /value 'm' but the variable is bool/);
  assert.deepEqual([...encodeKcfgValue('T', { kind: 'tristate' }, 'm', true)], [2, 0, 0, 0]);
  assert.deepEqual([...encodeKcfgValue('S', { kind: 'char_arr', len: 4 }, '"v6.1"', true)], [0x76, 0x36, 0x2e, 0]);
  assert.deepEqual([...encodeKcfgValue('H', { kind: 'int', size: 2, signed: false }, '0x1234', true)], [0x34, 0x12]);
  assert.throws(() => encodeKcfgValue('H', { kind: 'int', size: 1, signed: false }, '300', true), /does not fit in 1 byte/);
  assert.throws(() => encodeKcfgValue('H', { kind: 'int', size: 4, signed: true }, '"str"', true), /does not suit an integer variable/);
});

test('verifier log: the instruction it stopped at and its reason', () => {
  const log = [
    'func#0 @0',
    '0: R1=ctx() R10=fp0',
    '0: (61) r1 = *(u32 *)(r1 +12)',
    '1: (85) call pc+7',
    '15: (79) r0 = *(u64 *)(r0 +0)',
    "R0 invalid mem access 'map_value_or_null'",
    'processed 8 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0',
    '',
  ].join('\n');
  assert.equal(failedInsn(log), 15);
  assert.equal(rejectionReason(log), "R0 invalid mem access 'map_value_or_null'");
  assert.equal(failedInsn('nothing here'), undefined);
});
