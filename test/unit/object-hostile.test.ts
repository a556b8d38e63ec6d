// Hostile input: openObject either reads the bytes or throws one FormatError; the CLI prints
// one line and exits 1, never a stack trace. Also the instruction codec on real programs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { FormatError } from '../../server/src/common/errors';
import { openObject } from '../../server/src/object';
import { decodeInsns as disasmDecode } from '../../server/src/object/disasm';
import {
  BPF_PSEUDO_CALL,
  decodeInsns,
  encodeInsns,
  isCall,
  isLdImm64,
  isSubprogCall,
  ldImm64Imms,
  ldImm64Value,
} from '../../server/src/object/insn';
import { cli, fixture, rng } from '../helpers';

function mutants(bytes: Uint8Array, seed: number, count: number): Uint8Array[] {
  const r = rng(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const b = bytes.slice();
    const n = 1 + Math.floor(r() * 8);
    for (let k = 0; k < n; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    out.push(i % 7 === 0 ? b.subarray(0, Math.floor(r() * b.length)) : b);
  }
  return out;
}

for (const name of ['object_maps.o', 'object_externs.eb.o', 'object_progs.o']) {
  test(`${name}: 400 mutated copies read or fail with a FormatError, never anything else`, () => {
    const bytes = new Uint8Array(readFileSync(fixture(name)));
    let read = 0,
      refused = 0;
    const t0 = Date.now();
    for (const m of mutants(bytes, name.length * 7919, 400)) {
      try {
        const obj = openObject(m, name);
        JSON.stringify(obj.maps, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
        read++;
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        assert.ok(e.message.startsWith(`${name}: `), e.message);
        refused++;
      }
    }
    assert.ok(read > 0 && refused > 0, `read ${read}, refused ${refused}`);
    assert.ok(Date.now() - t0 < 30_000, 'no mutant makes reading slow');
  });
}

test('a .bss whose NOBITS size is 2 GiB is refused naming the section, not allocated', () => {
  const bytes = Buffer.from(readFileSync(fixture('object_maps.o')));
  // the section header of .bss: e_shoff, e_shentsize, e_shstrndx locate it by name
  const shoff = Number(bytes.readBigUInt64LE(0x28));
  const shentsize = bytes.readUInt16LE(0x3a);
  const shnum = bytes.readUInt16LE(0x3c);
  const strtab = Number(bytes.readBigUInt64LE(shoff + bytes.readUInt16LE(0x3e) * shentsize + 0x18));
  let bss = -1;
  for (let i = 0; i < shnum; i++) {
    const nameOff = bytes.readUInt32LE(shoff + i * shentsize);
    if (bytes.toString('latin1', strtab + nameOff, strtab + nameOff + 5) === '.bss\0') bss = i;
  }
  assert.ok(bss > 0, 'object_maps.o has a .bss');
  bytes.writeBigUInt64LE(0x80000000n, shoff + bss * shentsize + 0x20); // sh_size
  assert.throws(
    () => openObject(new Uint8Array(bytes), 'object_maps.o'),
    (e: unknown) => e instanceof FormatError && /section \.bss \(NOBITS\) of 2147483648 bytes/.test(e.message),
  );
});

test('bpf-lens inspect on bad input: one line on stderr, exit 1, no stack trace', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpflens-inspect-'));
  try {
    const good = readFileSync(fixture('object_maps.o'));
    const files: [string, Uint8Array, RegExp][] = [
      ['empty.o', new Uint8Array(0), /not an ELF file/],
      ['text.o', Buffer.from('hello world, not an object\n'), /not an ELF file/],
      ['truncated.o', good.subarray(0, 200), /.+/],
      ['host.o', readFileSync(process.execPath).subarray(0, 1 << 20), /not a BPF object|offset/],
      ['vmlinux.btf', readFileSync('/sys/kernel/btf/vmlinux').subarray(0, 4096), /raw BTF, not an ELF object/],
    ];
    for (const [n, bytes] of files) writeFileSync(path.join(dir, n), bytes);
    // a section table pointing past the end
    const shoff = Buffer.from(good);
    shoff.writeBigUInt64LE(BigInt(good.length + 4096), 0x28);
    writeFileSync(path.join(dir, 'shoff.o'), shoff);
    files.push(['shoff.o', shoff, /.+/]);
    for (const [n, , re] of [...files, ['missing.o', new Uint8Array(0), /no such file/] as [string, Uint8Array, RegExp]]) {
      for (const extra of [[], ['--json']]) {
        const r = cli(['inspect', path.join(dir, n), ...extra]);
        assert.equal(r.code, 1, `${n}: ${r.stdout}${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, /^bpf-lens: /);
        assert.match(r.stderr, re);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
      }
    }
    const usage = cli(['inspect']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing OBJ/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('inspect --json: bpftool field names, kernel and C names, slots and inner maps', () => {
  const r = cli(['inspect', fixture('object_maps.o'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const outer = j.maps.find((m: { c_name: string }) => m.c_name === 'outer_hash');
  assert.deepEqual(Object.keys(outer).slice(0, 9), [
    'name',
    'c_name',
    'kind',
    'type',
    'type_id',
    'bytes_key',
    'bytes_value',
    'max_entries',
    'flags',
  ]);
  assert.equal(outer.inner_map.type, 'array');
  assert.deepEqual(outer.initial_slots, [
    { index: 2, target: 'inner_a' },
    { index: 5, target: 'inner_b' },
  ]);
  assert.equal(outer.key_type, '__u32');
  const ro = j.maps.find((m: { c_name: string }) => m.c_name === '.rodata');
  assert.deepEqual([ro.name, ro.flags], ['object_m.rodata', 0x480]);
  const flows = j.maps.find((m: { c_name: string }) => m.c_name === 'flows');
  assert.equal(flows.key_type, 'struct flow_key');
  assert.equal(flows.source.line > 0, true, 'the CLI reads the source to place the map');
  const p = j.programs.find((x: { name: string }) => x.name === 'use_maps');
  assert.deepEqual([p.type, p.expected_attach_type, p.insns > 50], ['xdp', 'xdp', true]);
  assert.deepEqual(j.externs, [
    { name: 'LINUX_KERNEL_VERSION', kind: 'kconfig', weak: false, btf_id: j.externs[0].btf_id, type: '__u32', offset: 0, size: 4 },
  ]);
  assert.deepEqual(j.diagnostics, []);
  const text = cli(['inspect', fixture('object_maps.o')]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^programs \(11\):$/m);
  assert.match(text.stdout, /outer_hash {2}hash_of_maps .*\n.*inner: outer_hash.inner .*array/);
});

test('instruction codec: decode/encode round trip on every program of both byte orders; ld_imm64 and calls', () => {
  for (const name of ['object_maps.o', 'object_maps.eb.o', 'object_progs.o', 'object_progs.eb.o']) {
    const obj = openObject(new Uint8Array(readFileSync(fixture(name))), name);
    let ld = 0,
      calls = 0;
    for (const p of obj.programs) {
      const insns = decodeInsns(p.insns, obj.littleEndian);
      assert.equal(insns.length, p.insnCount);
      assert.deepEqual(Buffer.from(encodeInsns(insns, obj.littleEndian)), Buffer.from(p.insns), `${name} ${p.name}`);
      // the disassembler's own decoder agrees field by field
      assert.deepEqual(
        insns.map((i) => ({ ...i })),
        disasmDecode(p.insns, obj.littleEndian).map((i) => ({ ...i })),
      );
      for (let i = 0; i < insns.length; i++) {
        if (isLdImm64(insns[i])) {
          ld++;
          const v = ldImm64Value(insns[i], insns[i + 1]);
          assert.deepEqual(ldImm64Imms(v), [insns[i].imm, insns[i + 1].imm]);
          assert.equal(insns[i + 1].code, 0);
          i++;
        } else if (isCall(insns[i])) {
          calls++;
          if (isSubprogCall(insns[i])) assert.equal(insns[i].src, BPF_PSEUDO_CALL);
        }
      }
    }
    assert.ok(calls > 0 && (ld > 0 || !name.startsWith('object_maps')), `${name}: ${ld} ld_imm64, ${calls} calls`);
  }
  // the other byte order puts dst_reg in the high nibble
  const one = encodeInsns([{ code: 0xb7, dst: 1, src: 2, off: -3, imm: -4 }], false);
  assert.deepEqual([...one], [0xb7, 0x12, 0xff, 0xfd, 0xff, 0xff, 0xff, 0xfc]);
  assert.deepEqual(
    [...encodeInsns([{ code: 0xb7, dst: 1, src: 2, off: -3, imm: -4 }], true)],
    [0xb7, 0x21, 0xfd, 0xff, 0xfc, 0xff, 0xff, 0xff],
  );
});

test('broken .BTF: reported, and programs and non-BTF maps are still read', () => {
  const file = fixture('object_maps.o');
  const bytes = new Uint8Array(readFileSync(file));
  const obj0 = openObject(bytes, file);
  const sec = obj0.elf.section('.BTF')!;
  const bad = bytes.slice();
  bad[sec.offset] ^= 0xff; // magic
  const obj = openObject(bad, file);
  assert.equal(obj.btf, undefined);
  assert.deepEqual(
    obj.programs.map((p) => p.name),
    obj0.programs.map((p) => p.name),
  );
  assert.ok(obj.diagnostics.some((d) => d.section === '.BTF' && /unreadable/.test(d.message)));
  assert.ok(obj.diagnostics.some((d) => d.section === '.maps' && /BTF is required/.test(d.message)));
  // data maps do not need BTF, but without it nothing says they are mmapable
  assert.equal(obj.maps.find((m) => m.name === '.data')?.flags, 0);
});
