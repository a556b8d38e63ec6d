// The disassembler against llvm-objdump: every instruction of every executable section of
// the project's fixtures (both byte orders, -mcpu=v3) and cilium/ebpf's test objects,
// compared line by line after normalising the few spellings that differ on purpose.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ElfFile } from '../../server/src/elf/reader';
import { SHF_EXECINSTR } from '../../server/src/elf/constants';
import { decodeInsns, disassemble, formatInsn, type RawInsn } from '../../server/src/object/disasm';
import { CILIUM, FIXTURES, run } from '../helpers';

/** llvm-objdump's instruction lines per section: index → text. */
function objdump(file: string): Map<string, Map<number, string>> {
  const text = run('llvm-objdump', ['-d', '--no-show-raw-insn', file]);
  const out = new Map<string, Map<number, string>>();
  let cur: Map<number, string> | undefined;
  for (const line of text.split('\n')) {
    const sec = /^Disassembly of section (.*):$/.exec(line);
    if (sec) out.set(sec[1], (cur = new Map()));
    const m = /^\s*(\d+):\t(.*)$/.exec(line);
    if (m && cur) cur.set(Number(m[1]), m[2].trim());
  }
  return out;
}

/** Spellings where BPF Lens says more than llvm-objdump 14; numbers compared in decimal. */
function normalise(s: string): string {
  return (
    s
      .replace(/\s*<[^>]*>/g, '')
      .replace(/call (bpf_\w+)#(\d+)/, 'call $2')
      .replace(/call pc\+?(-?\d+)/, 'call $1')
      // llvm 14 prints an arena pointer cast (clang 18+) as a plain move
      .replace(/addr_space_cast\((r\d+), \d+, \d+\)/, '$1')
      .replace(/(-?)0x([0-9a-f]+)/g, (_h, sign: string, digits: string) => (BigInt(`0x${digits}`) * (sign ? -1n : 1n)).toString())
      .replace(/\s+/g, ' ')
  );
}

function objects(): string[] {
  const mine = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.o'))
    .map((f) => path.join(FIXTURES, f));
  const cilium = readdirSync(path.join(CILIUM, 'testdata'))
    .filter((f) => f.endsWith('.elf'))
    .map((f) => path.join(CILIUM, 'testdata', f));
  return [...mine, ...cilium];
}

test('every instruction matches llvm-objdump -d (fixtures and cilium objects, both byte orders)', () => {
  let compared = 0,
    files = 0;
  const mismatches: string[] = [];
  for (const file of objects()) {
    const elf = new ElfFile(new Uint8Array(readFileSync(file)), file);
    const ref = objdump(file);
    files++;
    for (const sec of elf.sections) {
      if (!(Number(sec.flags) & SHF_EXECINSTR) || sec.size === 0) continue;
      const want = ref.get(sec.name);
      assert.ok(want, `${file}: llvm-objdump shows no section ${sec.name}`);
      const lines = disassemble(decodeInsns(sec.data, elf.header.littleEndian));
      assert.equal(lines.length, want.size, `${file} ${sec.name}: instruction count`);
      for (const l of lines) {
        const a = normalise(l.text),
          b = normalise(want.get(l.index) ?? '(none)');
        compared++;
        if (a !== b && mismatches.length < 20)
          mismatches.push(`${path.basename(file)} ${sec.name} ${l.index}: ours '${l.text}' llvm '${want.get(l.index)}'`);
      }
    }
  }
  assert.deepEqual(mismatches, []);
  assert.ok(files > 20 && compared > 1500, `compared ${compared} instructions in ${files} files`);
});

const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawInsn => ({ code, dst, src, off, imm });

test('instruction forms llvm 14 cannot print: cpu v4, arena casts, atomics, pseudo ld_imm64, kfunc and subprog calls', () => {
  const ctx = {
    reference: (i: number) =>
      i === 7 ? { name: 'bpf_task_acquire', kind: 'kfunc' as const } : i === 8 ? { name: 'my_sub', kind: 'func' as const } : undefined,
    label: (i: number) => (i === 20 ? 'LBB0_4' : undefined),
  };
  const cases: [RawInsn, string, RawInsn?][] = [
    [I(0xbf, 1, 2, 8), 'r1 = (s8)r2'],
    [I(0x3f, 1, 2, 1), 'r1 s/= r2'],
    [I(0x97, 1, 0, 1, 3), 'r1 s%= 3'],
    [I(0xd7, 3, 0, 0, 32), 'r3 = bswap32 r3'],
    [I(0x91, 1, 2, -4), 'r1 = *(s8 *)(r2 - 4)'],
    [I(0x06, 0, 0, 0, 9), 'gotol +9 <LBB0_4>'],
    [I(0xe5, 0, 0, 9), 'may_goto +9 <LBB0_4>'],
    [I(0x85, 0, 2, 0, 0), 'call kfunc bpf_task_acquire'],
    [I(0x85, 0, 1, 0, -1), 'call my_sub'],
    [I(0x8d, 3), 'callx r3'],
    [I(0xdb, 1, 2, 0, 0xe1), 'r2 = xchg_64(r1 + 0, r2)'],
    [I(0xc3, 1, 0, 8, 0xf1), 'w0 = cmpxchg32_32(r1 + 8, w0, w0)'],
    [I(0xdb, 1, 2, 0, 0x41), 'r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)'],
    [I(0xc3, 1, 2, 0, 0x50), 'lock *(u32 *)(r1 + 0) &= w2'],
    [I(0x18, 1, 1, 0, 5), 'r1 = map[fd:5] ll', I(0, 0, 0, 0, 0)],
    [I(0x18, 1, 2, 0, 5), 'r1 = map_value[fd:5]+16 ll', I(0, 0, 0, 0, 16)],
    [I(0x18, 2, 3, 0, 77), 'r2 = btf_id[77] ll', I(0, 0, 0, 0, 0)],
    [I(0x18, 2, 0, 0, 1), 'r2 = 0x100000001 ll', I(0, 0, 0, 0, 1)],
    [I(0x18, 2, 0, 0, -4095), 'r2 = -4095 ll', I(0, 0, 0, 0, -1)],
    [I(0x30, 0, 0, 0, 12), 'r0 = *(u8 *)skb[12]'],
    [I(0x85, 0, 0, 0, 1), 'call bpf_map_lookup_elem#1'],
    [I(0x85, 0, 0, 0, 1_000_000), 'call 1000000'],
    [I(0x05, 0, 0, 1), 'goto +1 <LBB0_4>'],
    [I(0xff), 'unknown opcode 0xff'],
    [I(0xbf, 1, 2, 1, 1), 'r1 = addr_space_cast(r2, 0, 1)'],
    [I(0xbf, 3, 4, 1, 0x10000), 'r3 = addr_space_cast(r4, 1, 0)'],
  ];
  const idx = [0, 0, 0, 0, 0, 10, 10, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 18, 0, 0, 0];
  cases.forEach(([insn, want, next], k) => assert.equal(formatInsn(insn, idx[k], next, ctx), want));
});
