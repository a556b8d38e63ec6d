// Shared by the linker tests: link fixtures with BPF Lens and with libbpf (bpftool gen
// object), and read ELF facts to compare.
import { createHash } from 'crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { type Btf, parseBtf } from '../server/src/btf/btf';
import { type BtfType, mapTypeIds, referencedIds } from '../server/src/btf/types';
import { SHT_NOBITS, SHT_PROGBITS, STB_LOCAL, STT_SECTION } from '../server/src/elf/constants';
import { ElfFile } from '../server/src/elf/reader';
import { type LinkResult, linkObjects } from '../server/src/link/linker';
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

// libbpf's linker as the shared library has it (libbpf-dev): bpftool 7.1 carries its own,
// older copy of libbpf (from Linux 6.1), whose btf__dedup lacks the pass that resolves a
// forward declaration to the only struct of its name (btf_dedup_resolve_fwds, in every
// libbpf release since 1.1.0). A few lines of C against -lbpf, built on first use.
const LIBBPF_LINK_C = `#include <bpf/libbpf.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	struct bpf_linker *l;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: %s OUT IN...\\n", argv[0]);
		return 2;
	}
	l = bpf_linker__new(argv[1], NULL);
	if (!l)
		return 1;
	for (i = 2; i < argc; i++)
		if (bpf_linker__add_file(l, argv[i], NULL))
			return 1;
	if (bpf_linker__finalize(l))
		return 1;
	bpf_linker__free(l);
	return 0;
}
`;
let libbpfLinkTool: string | undefined;

/** The shared libbpf's bpf_linker on the same fixtures; returns the output path. */
export function libbpfSoLink(names: readonly string[], out: string): string {
  if (!libbpfLinkTool) {
    const src = path.join(linkTmp(), 'libbpf-link.c');
    writeFileSync(src, LIBBPF_LINK_C);
    const tool = path.join(linkTmp(), 'libbpf-link');
    run('gcc', ['-O1', '-o', tool, src, '-lbpf']);
    libbpfLinkTool = tool;
  }
  run(libbpfLinkTool, [out, ...names.map(fixture)]);
  return out;
}

/** The .BTF of an object file. */
export function btfOf(file: string): Btf {
  return parseBtf(new ElfFile(new Uint8Array(readFileSync(file)), file).section('.BTF')!.data);
}

/**
 * The types of a BTF as an order-free multiset: each type is named by its own fields and,
 * refined round by round, the names of the types it references (a Weisfeiler-Lehman
 * hash), so two BTFs give the same sorted list when they hold the same type graph in any
 * order. Labels start as `KIND name` so a difference reads well. `datasecOffsets: false`
 * leaves out where each variable sits in its DATASEC (offset and order).
 */
export function canonicalTypes(btf: Btf, opts: { datasecOffsets?: boolean } = {}, rounds = 24): string[] {
  const types = btf.types;
  const loose = (t: BtfType) => t.kind === 'DATASEC' && opts.datasecOffsets === false;
  const own = types.map((t) =>
    JSON.stringify(loose(t) ? { ...t, vars: [] } : mapTypeIds(t, () => 0), (k, v) => (k === 'id' || k === 'nameOff' ? undefined : v)),
  );
  const children = types.map((t) => referencedIds(t));
  let labels = new Map<number, string>(types.map((t, i) => [t.id, own[i]]));
  labels.set(0, 'void');
  for (let r = 0; r < rounds; r++) {
    const next = new Map<number, string>([[0, 'void']]);
    types.forEach((t, i) => {
      const refs = children[i].map((c) => labels.get(c) ?? `?${c}`);
      if (t.kind === 'DATASEC' && loose(t)) {
        t.vars.forEach((v, j) => (refs[j] += `:${v.size}`));
        refs.sort();
      }
      const h = createHash('sha1').update(own[i]).update(refs.join(',')).digest('hex').slice(0, 16);
      next.set(t.id, h);
    });
    labels = next;
  }
  return types.map((t) => `${t.kind} ${t.name || '(anon)'} ${labels.get(t.id)}`).sort();
}

/** Type count per kind. */
export function kindCounts(btf: Btf): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of btf.types) out[t.kind] = (out[t.kind] ?? 0) + 1;
  return out;
}

export interface SymFact {
  name: string;
  type: number;
  bind: number;
  section: string;
  value: bigint;
  size: bigint;
}

/** Named symbols, with their section by name (section symbols by their section's name). */
export function symbolFacts(elf: ElfFile): SymFact[] {
  return elf.symbols.slice(1).map((y) => ({
    name: y.type === STT_SECTION ? elf.sections[y.shndx].name : y.name,
    type: y.type,
    bind: y.bind,
    section: y.shndx < elf.sections.length ? elf.sections[y.shndx].name : `#${y.shndx}`,
    value: y.value,
    size: y.size,
  }));
}

export function globalFacts(elf: ElfFile): Map<string, SymFact> {
  return new Map(
    symbolFacts(elf)
      .filter((s) => s.bind !== STB_LOCAL)
      .map((s) => [s.name, s]),
  );
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
    out.set(
      elf.sections[rs.target].name,
      rs.relocations.map((r) => `${r.offset} ${facts[r.symbol - 1].name} ${r.type}`),
    );
  }
  return out;
}
