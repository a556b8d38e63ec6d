// The ELF writer: replace a section's contents and add sections, in both byte orders;
// every other section, symbol and relocation reads back the same, with our reader and
// with LLVM's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../server/src/common/errors';
import { SHT_PROGBITS } from '../../server/src/elf/constants';
import { ElfFile } from '../../server/src/elf/reader';
import { rewriteElf } from '../../server/src/elf/writer';
import { tmp } from '../btf-corpus';
import { CILIUM, fixture } from '../helpers';
import { debianKernel } from '../kernels';

function tool(cmd: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function inputs(): string[] {
  const k = debianKernel('6.1');
  const ko = k.modules().find((m) => m.endsWith('/nf_tables.ko'))!;
  return [
    fixture('btf_kinds.o'),
    fixture('btf_kinds.eb.o'),
    path.join(CILIUM, 'testdata', 'loader-el.elf'),
    path.join(CILIUM, 'testdata', 'loader-eb.elf'),
    ko,
  ];
}

/** Asserts `out` is `inp` with `changed` sections' contents replaced and `added` appended. */
function sameExcept(inp: ElfFile, out: ElfFile, changed: Set<string>, added: Map<string, Uint8Array>): void {
  assert.equal(out.sections.length, inp.sections.length + added.size);
  assert.equal(out.littleEndian, inp.littleEndian);
  assert.deepEqual({ ...out.header, shoff: 0 }, { ...inp.header, shoff: 0 });
  const shstr = inp.sections[inp.header.shstrndx].name;
  for (const s of inp.sections) {
    const o = out.sections[s.index];
    const fields = (x: typeof s) => [x.name, x.type, x.flags, x.addr, x.link, x.info, x.addralign, x.entsize];
    assert.deepEqual(fields(o), fields(s), `${inp.file}: section ${s.index} header`);
    if (changed.has(s.name)) continue;
    if (s.name === shstr && added.size) {
      assert.deepEqual(o.data.subarray(0, s.data.length), s.data, 'old section names stay');
      continue;
    }
    assert.equal(o.size, s.size);
    assert.ok(Buffer.from(o.data).equals(Buffer.from(s.data)), `${inp.file}: ${s.name} bytes`);
  }
  for (const [name, data] of added) assert.ok(Buffer.from(out.section(name)!.data).equals(Buffer.from(data)), name);
  assert.deepEqual(out.symbols, inp.symbols);
  assert.deepEqual(
    out.relocations.map((r) => [r.section.name, r.relocations]),
    inp.relocations.map((r) => [r.section.name, r.relocations]),
  );
}

test('elf writer: replacing .BTF and adding sections keeps every other byte, symbol and relocation (both byte orders)', () => {
  for (const file of inputs()) {
    const bytes = readFileSync(file);
    const inp = new ElfFile(new Uint8Array(bytes), file);
    const btf = inp.section('.BTF')!;
    const longer = new Uint8Array(btf.size + 13).fill(0xab);
    const added = new Map([
      ['.BTF.base', new Uint8Array([1, 2, 3, 4, 5])],
      ['.bpf_lens.note', new Uint8Array(0)],
    ]);
    const outBytes = rewriteElf(inp, {
      replace: new Map([['.BTF', longer]]),
      add: [...added].map(([name, data]) => ({ name, type: SHT_PROGBITS, data, addralign: 4n })),
    });
    const out = new ElfFile(outBytes, `${file} (rewritten)`);
    sameExcept(inp, out, new Set(['.BTF']), added);
    assert.deepEqual(out.section('.BTF')!.data, longer);
    assert.equal(out.section('.BTF.base')!.offset % 4, 0);

    const written = path.join(tmp(), `rewritten-${path.basename(file)}`);
    writeFileSync(written, outBytes);
    const sh = tool('llvm-readelf', ['-S', written]);
    assert.equal(sh.code, 0, sh.err);
    assert.equal(sh.err, '', `${file}: llvm-readelf warns`);
    assert.match(sh.out, /\.BTF\.base\s+PROGBITS/);
    const h = tool('llvm-objdump', ['-h', written]);
    assert.equal(h.code, 0, h.err);
    assert.match(h.out, /\.bpf_lens\.note\s+00000000/);
    // symbols and relocations as LLVM sees them: the same text
    const rs = (f: string) => tool('llvm-readelf', ['-r', '-s', f]).out.replace(/^.*(File|Relocation section).*\n/gm, '');
    assert.equal(rs(written), rs(file), `${file}: llvm-readelf -r -s`);
  }
});

test('elf writer: replacing only keeps .shstrtab; bad edits are refused', () => {
  const file = fixture('btf_kinds.o');
  const inp = new ElfFile(new Uint8Array(readFileSync(file)), file);
  const out = new ElfFile(rewriteElf(inp, { replace: new Map([['.BTF', new Uint8Array(8)]]) }), 'out');
  sameExcept(inp, out, new Set(['.BTF']), new Map());
  assert.throws(() => rewriteElf(inp, { replace: new Map([['.nope', new Uint8Array(1)]]) }), FormatError);
  assert.throws(() => rewriteElf(inp, { add: [{ name: '.BTF', type: SHT_PROGBITS, data: new Uint8Array(1) }] }), FormatError);
});
