// USDT, the pure parts: argument specs of x86-64 and arm64 read as libbpf's usdt.c reads them
// (register offsets in the kernel's pt_regs, sizes, signedness, constants, memory operands);
// the .note.stapsdt notes of a binary built with sys/sdt.h equal what readelf -n prints, and
// their file offsets what readelf -l's segments give; prelink's .stapsdt.base correction;
// hostile notes refused naming section and offset; the spec values libbpf's usdt.bpf.h reads,
// laid out from the object's BTF; spec ids reused after they are given back.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { test } from 'node:test';
import {
  USDT_ARG,
  USDT_SPEC_LAYOUT_V1,
  UsdtSpecIds,
  encodeUsdtSpec,
  parseUsdtArgs,
  usdtNotes,
  usdtProbe,
  usdtSpecLayout,
  type UsdtArg,
} from '../../server/src/attach';
import { FormatError } from '../../server/src/common/errors';
import { ElfFile } from '../../server/src/elf/reader';
import { openObject } from '../../server/src/object';
import { sdtHeader, usdtTarget } from '../attach-env';
import { fixture } from '../helpers';

const u64 = (v: bigint) => BigInt.asUintN(64, v);
const arg = (type: number, regOff: number, valOff: bigint, size: number, extra: Partial<UsdtArg> = {}): UsdtArg => ({
  type: type as UsdtArg['type'],
  valOff: u64(valOff),
  regOff,
  ...extra,
  signed: size < 0,
  bitshift: 64 - Math.abs(size) * 8,
});
const { CONST, REG, REG_DEREF, SIB } = USDT_ARG;

test('x86-64 argument specs: every operand form and register width libbpf reads', () => {
  const text = '-4@%eax 8@-8(%rbp) -4@$5 1@%r9b 2@%bx -8@(%rsp) -1@-96(%rbp,%rax,8) 4@%r10d 8@%rip -4@$-9  2@(%r15,%rcx)';
  assert.deepEqual(parseUsdtArgs(text, 'x86_64'), [
    arg(REG, 80, 0n, -4),
    arg(REG_DEREF, 32, -8n, 8),
    arg(CONST, 0, 5n, -4),
    arg(REG, 64, 0n, 1),
    arg(REG, 40, 0n, 2),
    arg(REG_DEREF, 152, 0n, -8),
    arg(SIB, 32, -96n, -1, { idxRegOff: 80, scaleBitshift: 3 }),
    arg(REG, 56, 0n, 4),
    arg(REG, 128, 0n, 8),
    arg(CONST, 0, -9n, -4),
    arg(SIB, 0, 0n, 2, { idxRegOff: 88, scaleBitshift: 0 }),
  ]);
  // every width of one register lands on the same pt_regs slot
  for (const r of ['rdi', 'edi', 'di', 'dil']) assert.equal(parseUsdtArgs(`8@%${r}`, 'x86_64')[0].regOff, 112, r);
  for (const r of ['r12', 'r12d', 'r12w', 'r12b']) assert.equal(parseUsdtArgs(`8@%${r}`, 'x86_64')[0].regOff, 24, r);
  assert.deepEqual(parseUsdtArgs('', 'x86_64'), []);
});

test('arm64 argument specs: x/w registers, sp, [reg, off] and [reg], constants', () => {
  assert.deepEqual(parseUsdtArgs('8@x0 -4@[sp, 16] -8@[x1] 4@5 -4@w3 8@x30 8@sp -2@[x29, -12]', 'arm64'), [
    arg(REG, 0, 0n, 8),
    arg(REG_DEREF, 248, 16n, -4),
    arg(REG_DEREF, 8, 0n, -8),
    arg(CONST, 0, 5n, 4),
    arg(REG, 24, 0n, -4),
    arg(REG, 240, 0n, 8),
    arg(REG, 248, 0n, 8),
    arg(REG_DEREF, 232, -12n, -2),
  ]);
});

test('argument specs libbpf cannot read are refused naming the argument', () => {
  const bad = (text: string, arch: 'x86_64' | 'arm64', re: RegExp) => assert.throws(() => parseUsdtArgs(text, arch), re, text);
  bad('-4@%eax 3@%ebx', 'x86_64', /argument #1 '3@%ebx' .*size 3 is not 1, 2, 4 or 8/);
  bad('8@%xmm0', 'x86_64', /unknown x86_64 register 'xmm0'/);
  bad('-4@counter(%rip)', 'x86_64', /'-4@counter\(%rip\)'.*not an x86_64 operand/);
  bad('1@(%rax,%rbx,3)', 'x86_64', /scale 3 is not 1, 2, 4 or 8/);
  bad('8@x31', 'arm64', /unknown arm64 register 'x31'/);
  bad('8@$99999999999999999999', 'x86_64', /does not fit 64 bits/);
  bad(Array.from({ length: 13 }, () => '8@%rax').join(' '), 'x86_64', /more than 12 arguments/);
});

const noSdt = sdtHeader() ? false : 'sys/sdt.h is missing: scripts/setup.sh installs systemtap-sdt-dev';

/** readelf -n's stapsdt notes: provider, name, location, base, semaphore, arguments. */
function readelfNotes(bin: string) {
  const text = spawnSync('readelf', ['-n', bin], { encoding: 'utf8' }).stdout;
  const re =
    /Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)/g;
  return [...text.matchAll(re)].map((m) => ({
    provider: m[1],
    name: m[2],
    args: m[6].trim(),
    locAddr: BigInt(m[3]),
    baseAddr: BigInt(m[4]),
    semaAddr: BigInt(m[5]),
  }));
}

/** readelf -lW's PT_LOAD rows: offset, vaddr, memsz, executable. */
function readelfLoads(bin: string) {
  const text = spawnSync('readelf', ['-lW', bin], { encoding: 'utf8' }).stdout;
  return [...text.matchAll(/^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+\S+\s+\S+\s+(0x[0-9a-f]+)\s+([RWE ]+?)\s+0x/gm)].map((m) => ({
    offset: BigInt(m[1]),
    vaddr: BigInt(m[2]),
    memsz: BigInt(m[3]),
    exec: m[4].includes('E'),
  }));
}

test('notes of a binary built with sys/sdt.h equal readelf -n; file offsets follow readelf -l', { skip: noSdt }, () => {
  const t = usdtTarget();
  try {
    const bytes = readFileSync(t.bin);
    const notes = usdtNotes(new ElfFile(bytes, t.bin));
    assert.deepEqual(notes, readelfNotes(t.bin));
    assert.deepEqual(
      notes.map((n) => `${n.provider}:${n.name}`),
      ['lens:args', 'lens:mem', 'lens:sib', 'lens:gated'],
    );
    const loads = readelfLoads(t.bin);
    const fileOff = (addr: bigint, exec: boolean) => {
      const seg = loads.find((l) => l.vaddr <= addr && addr < l.vaddr + l.memsz && l.exec === exec)!;
      return addr - seg.vaddr + seg.offset;
    };
    for (const n of notes) {
      const p = usdtProbe(bytes, t.bin, n.provider, n.name);
      assert.equal(p.arch, 'x86_64');
      assert.equal(p.sharedObject, true, 'a PIE');
      assert.equal(p.sites.length, 1);
      assert.equal(p.sites[0].fileOffset, fileOff(n.locAddr, true), n.name);
      assert.equal(p.sites[0].semaOffset, n.semaAddr ? fileOff(n.semaAddr, false) : 0n, n.name);
      assert.equal(p.sites[0].args.length, n.args.split(' ').filter(Boolean).length);
    }
    // the semaphore lives in a writable segment whose file offset differs from its address
    const gated = usdtProbe(bytes, t.bin, 'lens', 'gated').sites[0];
    assert.notEqual(gated.semaOffset, notes[3].semaAddr);
  } finally {
    t.done();
  }
});

test('prelink: a note whose base differs from .stapsdt.base moves the probe by the difference', { skip: noSdt }, () => {
  const t = usdtTarget();
  try {
    const bytes = new Uint8Array(readFileSync(t.bin));
    const elf = new ElfFile(bytes, t.bin);
    const sec = elf.section('.note.stapsdt')!;
    const before = usdtProbe(bytes, t.bin, 'lens', 'args').sites[0];
    // the first note's descriptor: 12-byte header, "stapsdt\0", then loc, base, sema
    const view = new DataView(bytes.buffer, bytes.byteOffset + sec.offset + 20);
    view.setBigUint64(8, view.getBigUint64(8, true) - 4n, true);
    const after = usdtProbe(bytes, t.bin, 'lens', 'args').sites[0];
    assert.equal(after.absIp, before.absIp + 4n);
    assert.equal(after.fileOffset, before.fileOffset + 4n);
  } finally {
    t.done();
  }
});

test('hostile notes: a FormatError naming .note.stapsdt and the offset, never a crash', { skip: noSdt }, () => {
  const t = usdtTarget();
  try {
    const good = readFileSync(t.bin);
    const sec = new ElfFile(good, t.bin).section('.note.stapsdt')!;
    const mutate = (f: (b: Uint8Array, at: number) => void) => {
      const b = new Uint8Array(good);
      f(b, sec.offset);
      return b;
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ['descsz past the end', mutate((b, at) => new DataView(b.buffer).setUint32(at + 4, 0xfffffff0, true)), /note descriptor/],
      ['another owner', mutate((b, at) => (b[at + 12] = 0x58)), /'Xtapsdt' type 3 is not a stapsdt probe/],
      [
        'strings without NUL',
        mutate((b, at) => b.fill(0x41, at + 20 + 24, at + 20 + new DataView(b.buffer).getUint32(at + 4, true))),
        /not NUL-terminated/,
      ],
      ['a short descriptor', mutate((b, at) => new DataView(b.buffer).setUint32(at + 4, 10, true)), /too short/],
    ];
    for (const [what, bytes, re] of cases) {
      assert.throws(
        () => usdtProbe(bytes, t.bin, 'lens', 'args'),
        (e: unknown) => e instanceof FormatError && e.section === '.note.stapsdt' && re.test(e.message),
        what,
      );
    }
    assert.throws(
      () => usdtProbe(good, t.bin, 'lens', 'nope'),
      /USDT probe lens:nope is not there \(it has lens:args, lens:mem, lens:sib, lens:gated\)/,
    );
    assert.throws(() => usdtProbe(readFileSync('/bin/true'), '/bin/true', 'a', 'b'), /no USDT probes \(no .note.stapsdt section\)/);
  } finally {
    t.done();
  }
});

test("spec values: the layout from the object's BTF (libbpf 1.1's header) is libbpf's; bytes as usdt.bpf.h reads them", () => {
  const obj = openObject(readFileSync(fixture('attach_usdt.o')), 'attach_usdt.o');
  assert.deepEqual(usdtSpecLayout(obj.btf, 208), USDT_SPEC_LAYOUT_V1);
  assert.deepEqual(usdtSpecLayout(undefined, 208), USDT_SPEC_LAYOUT_V1);
  assert.throws(() => usdtSpecLayout(obj.btf, 216), /it is 208 bytes, the map's values 216/);
  assert.throws(() => usdtSpecLayout(undefined, 216), /216-byte values and the object has no BTF/);
  const v = encodeUsdtSpec(USDT_SPEC_LAYOUT_V1, parseUsdtArgs('-4@%edi 2@16(%rdi) -4@$-9', 'x86_64'), 7n, true);
  const hex = (from: number, to: number) => Buffer.from(v.subarray(from, to)).toString('hex');
  // arg 0: val_off 0, REG, reg_off 112 (di), signed, bitshift 32
  assert.equal(hex(0, 16), '0000000000000000' + '01000000' + '7000' + '01' + '20');
  // arg 1: val_off 16, REG_DEREF, di, unsigned, bitshift 48
  assert.equal(hex(16, 32), '1000000000000000' + '02000000' + '7000' + '00' + '30');
  // arg 2: the constant -9
  assert.equal(hex(32, 48), 'f7ffffffffffffff' + '00000000' + '0000' + '01' + '20');
  assert.equal(hex(192, 200), '0700000000000000', 'usdt_cookie');
  assert.equal(hex(200, 202), '0300', 'arg_cnt');
  assert.throws(
    () => encodeUsdtSpec(USDT_SPEC_LAYOUT_V1, parseUsdtArgs('-4@(%rdi,%rsi,4)', 'x86_64'), 0n, true),
    /base\+index\*scale operand: the object's usdt.bpf.h cannot read it \(libbpf 1.7\+ can\)/,
  );
  // big-endian objects: the same fields, most significant byte first
  const be = encodeUsdtSpec(USDT_SPEC_LAYOUT_V1, parseUsdtArgs('-4@%edi', 'x86_64'), 0n, false);
  assert.equal(Buffer.from(be.subarray(8, 16)).toString('hex'), '00000001' + '0070' + '01' + '20');
});

test('spec ids: taken in order, given back ones reused first, refused past max_entries', () => {
  const ids = new UsdtSpecIds();
  assert.deepEqual([ids.take(3), ids.take(3)], [0, 1]);
  ids.give([0]);
  assert.equal(ids.take(3), 0);
  assert.equal(ids.take(3), 2);
  assert.throws(() => ids.take(3), /all 3 USDT spec slots of __bpf_usdt_specs are in use/);
});
