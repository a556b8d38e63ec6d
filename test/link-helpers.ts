// Shared by the linker tests: link fixtures with BPF Lens and with libbpf (bpftool gen
// object), and read ELF facts to compare.
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { SHT_NOBITS, SHT_PROGBITS, STB_LOCAL, STT_SECTION } from '../server/src/elf/constants';
import { ElfFile } from '../server/src/elf/reader';
import { LinkResult, linkObjects } from '../server/src/link/linker';
import { fixture, run } from './helpers';

let scratch: string | undefined;
export function linkTmp(): string {
  if (!scratch) {
    const dir = (scratch = mkdtempSync(path.join(tmpdir(), 'bpf-lens-link-')));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

export const LINK_INPUTS = ['link_a.o', 'link_b.o', 'link_c.o'];

/** Links fixtures in-process. */
export function linkFixtures(names: readonly string[]): LinkResult {
  return linkObjects(names.map((n) => ({ file: n, bytes: new Uint8Array(readFileSync(fixture(n))) })));
}

/** libbpf's linker on the same fixtures; returns the output path. */
export function libbpfLink(names: readonly string[], out: string, paths: readonly string[] = []): string {
  run('bpftool', ['gen', 'object', out, ...names.map(fixture), ...paths]);
  return out;
}

export interface SymFact { name: string; type: number; bind: number; section: string; value: bigint; size: bigint }

/** Named symbols, with their section by name (section symbols by their section's name). */
export function symbolFacts(elf: ElfFile): SymFact[] {
  return elf.symbols.slice(1).map((y) => ({
    name: y.type === STT_SECTION ? elf.sections[y.shndx].name : y.name,
    type: y.type, bind: y.bind, section: y.shndx < elf.sections.length ? elf.sections[y.shndx].name : `#${y.shndx}`, value: y.value, size: y.size,
  }));
}

export function globalFacts(elf: ElfFile): Map<string, SymFact> {
  return new Map(symbolFacts(elf).filter((s) => s.bind !== STB_LOCAL).map((s) => [s.name, s]));
}

/** Code and data sections by name: bytes (or size for NOBITS). */
export function sectionFacts(elf: ElfFile): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of elf.sections) {
    if (s.type === SHT_NOBITS) out.set(s.name, `nobits ${s.size}`);
    else if (s.type === SHT_PROGBITS && !s.name.startsWith('.BTF')) out.set(s.name, Buffer.from(s.data).toString('hex'));
  }
  return out;
}

/** Relocations per target section: "offset symbol type". */
export function relocFacts(elf: ElfFile): Map<string, string[]> {
  const facts = symbolFacts(elf);
  const out = new Map<string, string[]>();
  for (const rs of elf.relocations) {
    out.set(elf.sections[rs.target].name, rs.relocations.map((r) => `${r.offset} ${facts[r.symbol - 1].name} ${r.type}`));
  }
  return out;
}
