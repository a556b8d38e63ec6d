import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { EM_BPF, R_BPF_64_64, SHT_REL, STT_SECTION } from '../../server/src/elf/constants';
import { ElfFile } from '../../server/src/elf/reader';
import { FormatError } from '../../server/src/common/errors';
import { fixture, run } from '../helpers';

for (const variant of ['btf_kinds.o', 'btf_kinds.eb.o']) {
  test(`ELF reader agrees with llvm-readelf on ${variant}`, () => {
    const file = fixture(variant);
    const elf = new ElfFile(readFileSync(file), file);
    assert.equal(elf.header.machine, EM_BPF);
    assert.equal(elf.littleEndian, !variant.includes('.eb.'));
    const readelf = Object.values(JSON.parse(run('llvm-readelf', ['--elf-output-style=JSON', '-S', '-s', file]))[0])[0] as {
      Sections: { Section: { Name: { Value: string }; Size: number } }[];
      Symbols: { Symbol: { Name: { Value: string } } }[];
    };
    const sections = readelf.Sections.map((s) => [s.Section.Name.Value, s.Section.Size]);
    assert.deepEqual(
      elf.sections.map((s) => [s.name, s.size]),
      sections,
    );
    const syms = readelf.Symbols.map((s) => s.Symbol.Name.Value);
    // readelf names section symbols after their section
    assert.deepEqual(
      elf.symbols.map((s) => (s.type === STT_SECTION ? elf.sections[s.shndx].name : s.name)),
      syms,
    );
    const rel = elf.relocations.find((r) => r.section.name === '.rel.text' || r.section.name === '.relsocket');
    assert.ok(rel && rel.section.type === SHT_REL);
    assert.ok(rel.relocations.some((r) => r.type === R_BPF_64_64 && elf.symbols[r.symbol].name === 'g_rodata'));
  });
}

test('ELF reader rejects truncated and wrong-class files with a located error', () => {
  const file = fixture('btf_kinds.o');
  const bytes = readFileSync(file);
  assert.throws(
    () => new ElfFile(bytes.subarray(0, 40), 'short.o'),
    (e: unknown) => e instanceof FormatError && /short\.o: ELF header: offset \d+/.test(e.message),
  );
  const c32 = Buffer.from(bytes);
  c32[4] = 1;
  assert.throws(() => new ElfFile(c32, 'c32.o'), /unsupported ELF class 1/);
  const cut = bytes.subarray(0, bytes.length - 100);
  assert.throws(() => new ElfFile(cut, 'cut.o'), FormatError);
});
