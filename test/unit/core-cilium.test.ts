// cilium/ebpf's self-checking CO-RE objects: each program returns 0 when every relocation in
// it resolved the way its C source expects (else the __LINE__ of the failed check). We
// relocate every section with BPF Lens's engine and run the programs in a small interpreter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'fs';
import * as path from 'path';
import { relocateCore } from '../../server/src/core';
import { BpfTrap, runBpf } from '../bpf-interp';
import { type CoreObject, readCoreObject, readTargetBtf, relocateObject } from '../core-helpers';
import { CILIUM } from '../helpers';

const DATA = path.join(CILIUM, 'btf', 'testdata');

/** A program section with the `.text` subprograms it calls appended (calls fixed up). */
function linkWithText(obj: CoreObject, section: string, code: Uint8Array, text?: Uint8Array): Uint8Array {
  if (!text) return code;
  const out = new Uint8Array(code.length + text.length);
  out.set(code);
  out.set(text, code.length);
  const sec = obj.elf.section(section)!;
  const dv = new DataView(out.buffer);
  const le = obj.elf.littleEndian;
  for (const rel of obj.elf.relocationsFor(sec.index)) {
    const sym = obj.elf.symbols[rel.symbol];
    if (obj.elf.sections[sym.shndx]?.name !== '.text') continue;
    const at = Number(rel.offset) / 8;
    const imm = dv.getInt32(at * 8 + 4, le);
    const target = code.length / 8 + Number(sym.value) / 8 + imm + 1;
    dv.setInt32(at * 8 + 4, target - at - 1, le);
  }
  return out;
}

for (const endian of ['el', 'eb'] as const) {
  test(`cilium relocs-${endian}.elf against its own BTF: every program returns 0, err_* are ambiguous`, () => {
    const obj = readCoreObject(path.join(DATA, `relocs-${endian}.elf`));
    const results = relocateObject(obj, [readTargetBtf(path.join(DATA, `relocs-${endian}.elf`), 'relocs')]);
    assert.deepEqual(results.map((r) => r.section).sort(), [
      'socket_filter/enums',
      'socket_filter/err_ambiguous',
      'socket_filter/err_ambiguous_flavour',
      'socket_filter/fields',
      'socket_filter/type_ids',
      'socket_filter/types',
    ]);
    for (const r of results) {
      if (r.section.includes('/err_')) {
        assert.equal(r.ok, false, r.section);
        assert.deepEqual(
          r.reports.map((x) => x.status),
          ['ambiguous'],
        );
        assert.match(r.reports[0].message!, /struct ambiguous \[\d+\].*struct ambiguous___flavour \[\d+\]/);
        continue;
      }
      assert.ok(r.reports.length > 0);
      for (const rep of r.reports) assert.equal(rep.status, 'ok', `${r.section} relo #${rep.index} ${rep.access}: ${rep.message}`);
      assert.equal(runBpf(r.insns, 0, { littleEndian: obj.btf.littleEndian }), 0n, `${r.section} returned a failed line`);
    }
  });

  test(`cilium relocs_read-${endian}.elf against relocs_read_tgt-${endian}.elf: reads() passes its checks`, () => {
    const obj = readCoreObject(path.join(DATA, `relocs_read-${endian}.elf`));
    const target = readTargetBtf(path.join(DATA, `relocs_read_tgt-${endian}.elf`), 'relocs_read_tgt');
    const [text] = relocateObject(obj, [target]);
    assert.equal(text.section, '.text');
    assert.ok(text.ok);
    const byStatus = (s: string) => text.reports.filter((r) => r.status === s).map((r) => r.access);
    assert.deepEqual(byStatus('missing'), ['struct nonexist', 'nonexist->non_exist', 'enum nonexist_enum::NON_EXIST']);
    assert.equal(byStatus('ok').length, text.reports.length - 3);
    // the members are swapped in the target: a and b change offset
    const a = text.reports.find((r) => r.access === 's->a' && r.kindName === 'FIELD_BYTE_OFFSET')!;
    assert.deepEqual([a.localValue, a.targetValue], [1n, 0n]);

    const le = obj.btf.littleEndian;
    const socket = obj.elf.section('socket')!.data;
    const linked = linkWithText(obj, 'socket', socket, text.insns);
    if (le) {
      assert.equal(runBpf(linked, 0, { littleEndian: le }), 0n);
    } else {
      // cilium runs only the host-order object. In the -eb one every check passes up to the
      // one on `g`: the source stores g's bytes as 55 44 33 22, and in big-endian bit order
      // g:30 at bit 32 is the top 30 bits of that u32 (0x15510cc8), not the low ones the
      // source expects (0x15443322). So the program stops at that check's line.
      const src = readFileSync(path.join(DATA, 'relocs_read.c'), 'utf8').split('\n');
      const gLine = src.findIndex((l) => l.includes('BPF_CORE_READ_BITFIELD(&bar, g)')) + 2;
      assert.equal(runBpf(linked, 0, { littleEndian: le }), BigInt(gLine));
    }
    // without relocation the program must notice (proves the run checks something)
    const unrelocated = linkWithText(obj, 'socket', socket, obj.elf.section('.text')!.data);
    assert.notEqual(runBpf(unrelocated, 0, { littleEndian: le }), 0n);
  });
}

test('relocating only one program of a section: records outside it are skipped, indexes are program-relative', () => {
  const obj = readCoreObject(path.join(DATA, 'relocs_read-el.elf'));
  const target = readTargetBtf(path.join(DATA, 'relocs_read_tgt-el.elf'));
  const sec = obj.ext.coreRelos[0];
  const code = obj.elf.section('.text')!.data;
  const full = relocateCore({ localBtf: obj.btf, relos: sec.records, insns: code.slice(), targets: [target] });
  const from = 100;
  const part = relocateCore({ localBtf: obj.btf, relos: sec.records, insns: code.slice(from * 8), firstInsn: from, targets: [target] });
  const expected = full.reports.filter((r) => r.insnIndex >= from);
  assert.ok(expected.length > 0 && expected.length < full.reports.length);
  assert.deepEqual(
    part.reports.map((r) => [r.index, r.insnIndex + from, r.targetValue]),
    expected.map((r) => [r.index, r.insnIndex, r.targetValue]),
  );
  assert.deepEqual(part.insns, full.insns.subarray(from * 8));
});

test('a poisoned relocation that runs traps with the bad-relo call', () => {
  const obj = readCoreObject(path.join(DATA, 'relocs-el.elf'));
  const sec = obj.ext.coreRelos.find((s) => s.section === 'socket_filter/fields')!;
  const code = obj.elf.section(sec.section)!.data.slice();
  // target: relocs_read_tgt has no `struct s` with `_1`: field relocations poison
  const target = readTargetBtf(path.join(DATA, 'relocs_read_tgt-el.elf'), 'other');
  const out = relocateCore({ localBtf: obj.btf, relos: sec.records, insns: code, targets: [target] });
  const poisoned = out.reports.filter((r) => r.status === 'poisoned');
  assert.ok(poisoned.length > 0);
  assert.match(poisoned[0].message!, /field '_1' of struct s not found in struct s of the target \(members: a, b\)/);
  assert.throws(
    () => runBpf(out.insns, 0, { littleEndian: true }),
    (e: unknown) => e instanceof BpfTrap && /195896080/.test(e.message),
  );
});
