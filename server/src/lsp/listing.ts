/**
 * Disassembly listings of an object's programs: each program followed by the subprograms
 * it reaches (as libbpf appends them), relocations resolved to map, data, function and
 * kfunc names, line_info source lines interleaved, jump targets labelled.
 */
import type { BtfExt, LineInfo } from '../btf/ext';
import { SHF_EXECINSTR, SHN_UNDEF, STT_FUNC, STT_NOTYPE, STT_SECTION } from '../elf/constants';
import { type ElfFile, type ElfSection, type ElfSymbol } from '../elf/reader';
import { decodeInsns, disassemble, type DisasmContext, formatListing, type InsnReference, type RawInsn } from '../object/disasm';
import { secDefFor } from '../object/section-defs';

/** Program and expected attach type names from libbpf's SEC() table (object/section-defs). */
function programTypeOf(section: string): { progType: string; attachType: string } | undefined {
  const m = secDefFor(section);
  return m && { progType: m.def.progType, attachType: m.def.attachType ?? '' };
}

export interface Func {
  readonly name: string;
  readonly section: ElfSection;
  readonly start: number;
  readonly count: number;
  readonly global: boolean;
  readonly entry: boolean;
  readonly callees: Set<string>;
}

export interface SectionCode {
  readonly insns: RawInsn[];
  readonly ctx: DisasmContext;
  readonly lines: Map<number, LineInfo>;
}

export function sectionCode(elf: ElfFile, s: ElfSection, symbols: readonly ElfSymbol[], funcs: readonly Func[], ext?: BtfExt): SectionCode {
  const insns = decodeInsns(s.data, elf.littleEndian);
  const refs = new Map<number, InsnReference>();
  for (const r of elf.relocationsFor(s.index)) {
    const i = Number(r.offset) / 8;
    const y = symbols[r.symbol];
    if (!y || !Number.isInteger(i)) continue;
    refs.set(i, reference(elf, y, insns[i], funcs));
  }
  const labels = new Map<number, string>();
  for (const y of symbols) {
    if (y.shndx === s.index && y.name && (y.type === STT_FUNC || y.type === STT_NOTYPE)) labels.set(Number(y.value) / 8, y.name);
  }
  const lines = new Map<number, LineInfo>();
  for (const sec of ext?.lineInfo ?? []) if (sec.section === s.name) for (const r of sec.records) lines.set(r.insnOff / 8, r);
  return {
    insns,
    lines,
    ctx: {
      reference: (i) => refs.get(i),
      label: (i) => labels.get(i),
      sourceLine: (i) => {
        const l = lines.get(i);
        return l && { file: l.file, line: l.line, column: l.column, text: l.text };
      },
    },
  };
}

function funcAt(funcs: readonly Func[], section: number, index: number): Func | undefined {
  return funcs.find((f) => f.section.index === section && index >= f.start && index < f.start + f.count);
}

function reference(elf: ElfFile, y: ElfSymbol, insn: RawInsn | undefined, funcs: readonly Func[]): InsnReference {
  if (y.shndx === SHN_UNDEF) {
    if (insn && insn.code === 0x85) return { name: y.name, kind: 'kfunc' };
    return { name: y.name, kind: 'ksym' };
  }
  const sec = elf.sections[y.shndx];
  if (sec?.name === '.maps' || sec?.name === 'maps') return { name: y.name, kind: 'map' };
  if (sec && sec.flags & BigInt(SHF_EXECINSTR)) {
    if (y.type === STT_SECTION && insn) {
      // Against the section symbol: the target is imm-relative (calls) or the addend (ld_imm64).
      const target = insn.code === 0x85 ? Number(y.value) / 8 + insn.imm + 1 : insn.imm / 8;
      return { name: funcAt(funcs, sec.index, target)?.name ?? `${sec.name}+${target}`, kind: 'func' };
    }
    return { name: y.name, kind: 'func' };
  }
  if (sec) return { name: y.type === STT_SECTION ? sec.name : `${sec.name}:${y.name}`, kind: sec.name === '.kconfig' ? 'kconfig' : 'data' };
  return { name: y.name, kind: 'other' };
}

export function listing(
  funcs: readonly Func[],
  byName: Map<string, Func>,
  codeOf: (s: ElfSection) => SectionCode,
  program?: string,
): string {
  const roots =
    program === undefined ? funcs.filter((f) => f.entry) : funcs.filter((f) => f.name === program || f.section.name === program);
  if (program !== undefined && !roots.length) throw new Error(`no program or function '${program}'`);
  const out: string[] = [];
  for (const root of roots.length ? roots : funcs) {
    // The program, then every subprogram it reaches (libbpf appends them the same way).
    const order: Func[] = [];
    const seen = new Set<string>();
    const visit = (f: Func) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      order.push(f);
      for (const c of [...f.callees].sort()) {
        const g = byName.get(c);
        if (g) visit(g);
      }
    };
    visit(root);
    for (const f of order) {
      const { insns, ctx } = codeOf(f.section);
      const t = f.entry ? programTypeOf(f.section.name) : undefined;
      const kind = f.entry
        ? `${t?.progType ?? 'unknown type'}${t?.attachType ? `, ${t.attachType}` : ''}`
        : `${f.global ? 'global' : 'static'} subprogram`;
      out.push(
        `## ${f.entry ? `SEC("${f.section.name}") ` : ''}${f.name}: ${kind}, ${f.count} insns${f === root ? '' : ` (called by ${root.name})`}`,
      );
      const lines = disassemble(insns.slice(0, f.start + f.count), ctx).filter((l) => l.index >= f.start);
      out.push(formatListing(lines, { ...ctx, label: (i) => (i === f.start ? undefined : ctx.label?.(i)) }));
    }
  }
  return out.join('\n');
}
