/**
 * The static linker: several BPF objects → one, as `bpftool gen object` (libbpf's
 * bpf_linker) does. Pure: bytes in, bytes out.
 *
 *   input.ts      read and check each object
 *   sections.ts   same-named sections concatenated (license/version kept once)
 *   symbols.ts    globals resolved (weak/strong, externs, kernel externs), locals kept
 *   relocs.ts     relocations moved and section-relative values adjusted
 *   btf-merge.ts  BTF appended, globals unified, DATASECs rebuilt, deduplicated; BTF.ext moved
 *   btf-dedup.ts  the dedup (partition refinement over the type graph)
 *   btf-graph.ts  the type graph the dedup runs on, read from the raw records
 */
import { BtfBuilder, writeBtf } from '../btf/write';
import { writeBtfExt } from '../btf/ext-write';
import { type BuildSection, type BuildSymbol, buildElf, encodeRel, encodeSymtab } from '../elf/build';
import { EM_BPF, SHT_PROGBITS, SHT_REL, SHT_STRTAB, SHT_SYMTAB } from '../elf/constants';
import { mergeBtf } from './btf-merge';
import { LinkError } from './errors';
import { type InputObject, type LinkInput, readInput } from './input';
import { applyPatches, relocate } from './relocs';
import { type OutSection, SectionLayout, contents } from './sections';
import { type GlobalSymbol, type KernelExternKind, type OutSymbol, resolveSymbols } from './symbols';

export type { LinkInput } from './input';
export { LinkError } from './errors';

/** Where one global name ended up (for the CLI's summary and the editor's extern view). */
export interface LinkedGlobal {
  readonly name: string;
  /** The object whose definition won; undefined for kernel externs. */
  readonly definedIn?: string;
  /** Objects that declared it extern (or lost with a weak definition). */
  readonly usedBy: readonly string[];
  readonly weakLosers: readonly string[];
  readonly kernel?: KernelExternKind;
  readonly section?: string;
}

export interface LinkResult {
  readonly bytes: Uint8Array;
  readonly sections: readonly { readonly name: string; readonly size: number }[];
  readonly globals: readonly LinkedGlobal[];
  readonly symbols: number;
  readonly btf?: {
    readonly typesIn: number;
    readonly typesOut: number;
    readonly rounds: readonly number[];
    readonly deduplicated: boolean;
  };
  readonly ext?: { readonly funcInfo: number; readonly lineInfo: number; readonly coreRelos: number };
}

/** Links `inputs` (in this order) into one object; throws LinkError naming every problem, FormatError for unreadable input. */
export function linkObjects(inputs: readonly LinkInput[]): LinkResult {
  if (inputs.length === 0) throw new LinkError(['nothing to link']);
  const objs: InputObject[] = [];
  for (const input of inputs) objs.push(readInput(input, objs[0]?.elf.littleEndian));
  const le = objs[0].elf.littleEndian;
  const problems: string[] = [];
  const layout = new SectionLayout();
  for (const o of objs) layout.add(o, problems);
  const syms = resolveSymbols(objs, layout, problems);
  const rel = relocate(objs, layout, syms, problems);
  const btf = problems.length ? undefined : mergeBtf(objs, layout, syms, problems);
  if (problems.length) throw new LinkError([...new Set(problems)]);

  // Section indexes: code/data in layout order, their relocations, .BTF, .BTF.ext, .symtab, .strtab.
  const sections: BuildSection[] = [];
  const indexOf = new Map<OutSection, number>();
  for (const s of layout.sections) {
    const bytes = contents(s);
    applyPatches(bytes, rel.patches.get(s) ?? [], le);
    indexOf.set(s, sections.length + 1);
    sections.push({
      name: s.name,
      type: s.type,
      flags: s.flags,
      data: bytes,
      size: s.size,
      addralign: BigInt(s.align),
      entsize: s.entsize,
    });
  }
  const relSecs = layout.sections.filter((s) => (rel.bySection.get(s)?.length ?? 0) > 0);
  // .BTF and .BTF.ext first (the ext's strings go into the BTF string table), placed after the relocations
  const btfSecs: BuildSection[] = [];
  let extCounts: LinkResult['ext'];
  if (btf) {
    const b = new BtfBuilder(undefined, le);
    for (const t of btf.types) b.add(t);
    const count = (x: readonly { records: readonly unknown[] }[]) => x.reduce((n, s) => n + s.records.length, 0);
    extCounts = { funcInfo: count(btf.ext.funcInfo), lineInfo: count(btf.ext.lineInfo), coreRelos: count(btf.ext.coreRelos) };
    const ext =
      extCounts.funcInfo + extCounts.lineInfo + extCounts.coreRelos > 0 ? writeBtfExt(btf.ext, (s) => b.addString(s), le) : undefined;
    btfSecs.push({ name: '.BTF', type: SHT_PROGBITS, data: writeBtf(b.build(), le), addralign: 4n });
    if (ext) btfSecs.push({ name: '.BTF.ext', type: SHT_PROGBITS, data: ext, addralign: 4n });
  }
  const symtabIndex = sections.length + relSecs.length + btfSecs.length + 1;

  const ordered: OutSymbol[] = [...syms.locals, ...[...syms.globals.values()].map((g) => g.out!)];
  const symIndex = new Map<OutSymbol, number>(ordered.map((s, i) => [s, i + 1]));
  for (const s of relSecs) {
    const rels = rel.bySection.get(s)!.map((r) => ({ offset: r.offset, symbol: symIndex.get(r.symbol)!, type: r.type }));
    sections.push({
      name: `.rel${s.name}`,
      type: SHT_REL,
      data: encodeRel(rels, le),
      addralign: 8n,
      entsize: 16n,
      link: symtabIndex,
      info: indexOf.get(s)!,
    });
  }
  sections.push(...btfSecs);
  const built: BuildSymbol[] = ordered.map((s) => ({
    name: s.name,
    bind: s.bind,
    type: s.type,
    visibility: s.visibility,
    shndx: s.section ? indexOf.get(s.section)! : s.shndx,
    value: s.value,
    size: s.size,
  }));
  const { symtab, strtab, firstGlobal } = encodeSymtab(built, le);
  sections.push({ name: '.symtab', type: SHT_SYMTAB, data: symtab, addralign: 8n, entsize: 24n, link: symtabIndex + 1, info: firstGlobal });
  sections.push({ name: '.strtab', type: SHT_STRTAB, data: strtab, addralign: 1n });
  const bytes = buildElf({ littleEndian: le, machine: EM_BPF, sections });

  return {
    bytes,
    sections: layout.sections.map((s) => ({ name: s.name, size: s.size })),
    globals: [...syms.globals.values()].map(summary),
    symbols: ordered.length,
    ...(btf ? { btf: { typesIn: btf.typesIn, typesOut: btf.typesOut, rounds: btf.dedupRounds, deduplicated: btf.dedupComplete } } : {}),
    ...(extCounts ? { ext: extCounts } : {}),
  };
}

function summary(g: GlobalSymbol): LinkedGlobal {
  const w = g.winner;
  return {
    name: g.name,
    ...(w ? { definedIn: w.file, section: w.place!.out.name } : {}),
    usedBy: [...new Set(g.occurrences.filter((o) => !o.defined).map((o) => o.file))],
    weakLosers: g.occurrences.filter((o) => o.defined && o !== w).map((o) => o.file),
    ...(g.kernel ? { kernel: g.kernel } : {}),
  };
}
