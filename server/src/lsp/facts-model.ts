/**
 * ObjectFacts of an ELF file: programs and subprograms from symbols of executable sections,
 * the call graph from pseudo-calls and their relocations, maps (own-maps.ts), externs,
 * BTF.ext line_info, and disassembly listings with relocations resolved to names.
 */
import { Btf } from '../btf/btf';
import { BtfExt, LineInfo, parseBtfExt } from '../btf/ext';
import { btfFromBytes } from '../cli/input';
import { EM_BPF, SHF_EXECINSTR, SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_SECTION } from '../elf/constants';
import { ElfFile, ElfSection, ElfSymbol } from '../elf/reader';
import { decodeInsns, disassemble, DisasmContext, formatListing, InsnReference, RawInsn } from '../object/disasm';
import type { ExternFacts, ObjectFacts, ProgFacts, Problem } from './facts';
import { collectMaps } from './own-maps';
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

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function factsOf(bytes: Uint8Array, file: string): ObjectFacts {
  const elf = new ElfFile(bytes, file);
  const isBpf = elf.header.machine === EM_BPF;
  const problems: Problem[] = [];
  let btf: Btf | undefined;
  let ext: BtfExt | undefined;
  // Module BTF is split on a base: loaded.ts reads it with one.
  if (isBpf && elf.section('.BTF')) {
    try {
      btf = btfFromBytes(bytes, file);
    } catch (e) {
      problems.push({ severity: 'error', message: `BTF: ${errorText(e)}` });
    }
  } else if (isBpf) problems.push({ severity: 'warning', message: 'no BTF (.BTF section): compile with -g to get map types, hovers and source lines' });
  const extSec = elf.section('.BTF.ext');
  if (btf && extSec && isBpf) {
    try {
      ext = parseBtfExt(extSec.data, btf, file);
    } catch (e) {
      problems.push({ severity: 'error', message: `BTF.ext: ${errorText(e)}` });
    }
  }
  if (!isBpf) return { isBpf, btf, maps: [], programs: [], externs: [], problems, lineFiles: [], disassembly: () => '' };

  const symbols = elf.symbols;
  const funcs = collectFuncs(elf, symbols);
  const code = new Map<number, SectionCode>();
  const codeOf = (s: ElfSection): SectionCode => {
    let c = code.get(s.index);
    if (!c) code.set(s.index, (c = sectionCode(elf, s, symbols, funcs, ext)));
    return c;
  };
  linkCalls(funcs, codeOf);

  const byName = new Map(funcs.map((f) => [f.name, f]));
  const callers = new Map<string, Set<string>>();
  for (const f of funcs) {
    if (!f.entry) continue;
    const seen = new Set<string>();
    const stack = [...f.callees];
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      for (const c of byName.get(n)?.callees ?? []) stack.push(c);
    }
    for (const n of seen) {
      if (!callers.has(n)) callers.set(n, new Set());
      callers.get(n)!.add(f.name);
    }
  }

  const programs: ProgFacts[] = funcs.map((f) => {
    const t = f.entry ? programTypeOf(f.section.name) : undefined;
    if (f.entry && !t) problems.push({ severity: 'warning', message: `program '${f.name}': libbpf does not know section '${f.section.name}' (no program type)`, program: f.name });
    const li = firstLine(codeOf(f.section).lines, f.start, f.count);
    return {
      name: f.name, section: f.section.name, entry: f.entry, global: f.global,
      progType: t?.progType ?? '', attachType: t?.attachType ?? '', insnCount: f.count,
      line: li ? { file: li.file, line: li.line } : undefined,
      callers: [...(callers.get(f.name) ?? [])].sort(), callees: [...f.callees].sort(),
    };
  });

  const lineFiles = new Set<string>();
  for (const s of ext?.lineInfo ?? []) for (const r of s.records) if (r.file) lineFiles.add(r.file);

  return {
    isBpf, btf, problems, programs,
    maps: collectMaps(elf, btf, problems),
    externs: collectExterns(symbols, btf),
    lineFiles: [...lineFiles],
    disassembly: (program?: string) => listing(funcs, byName, codeOf, program),
  };
}

function collectFuncs(elf: ElfFile, symbols: readonly ElfSymbol[]): Func[] {
  const out: Func[] = [];
  for (const s of elf.sections) {
    if (!(s.flags & BigInt(SHF_EXECINSTR)) || s.size === 0) continue;
    const total = Math.floor(s.size / 8);
    const syms = symbols.filter((y) => y.shndx === s.index && y.type === STT_FUNC && y.name).sort((a, b) => Number(a.value - b.value));
    syms.forEach((y, i) => {
      const start = Number(y.value) / 8;
      const end = y.size ? start + Number(y.size) / 8 : i + 1 < syms.length ? Number(syms[i + 1].value) / 8 : total;
      const global = y.bind === STB_GLOBAL || y.bind === STB_WEAK;
      out.push({ name: y.name, section: s, start, count: Math.max(0, Math.min(end, total) - start), global, entry: s.name !== '.text' && global, callees: new Set() });
    });
  }
  return out;
}

function funcAt(funcs: readonly Func[], section: number, index: number): Func | undefined {
  return funcs.find((f) => f.section.index === section && index >= f.start && index < f.start + f.count);
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
    insns, lines,
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

function linkCalls(funcs: Func[], codeOf: (s: ElfSection) => SectionCode): void {
  for (const f of funcs) {
    const { insns, ctx } = codeOf(f.section);
    for (let i = f.start; i < f.start + f.count; i++) {
      const insn = insns[i];
      if (!insn) break;
      const call = insn.code === 0x85 && insn.src === 1;
      const addr = insn.code === 0x18 && (insn.src === 4 || ctx.reference?.(i)?.kind === 'func');
      if (!call && !addr) continue;
      const ref = ctx.reference?.(i);
      if (ref?.kind === 'func') f.callees.add(ref.name);
      else if (call) {
        const t = funcAt(funcs, f.section.index, i + 1 + insn.imm);
        if (t) f.callees.add(t.name);
      }
    }
  }
}

function firstLine(lines: Map<number, LineInfo>, start: number, count: number): LineInfo | undefined {
  for (let i = start; i < start + count; i++) {
    const l = lines.get(i);
    if (l) return l;
  }
  return undefined;
}

function collectExterns(symbols: readonly ElfSymbol[], btf: Btf | undefined): ExternFacts[] {
  const kconfig = new Set<string>();
  const ksymFuncs = new Set<string>();
  const ds = btf?.find('DATASEC', '.kconfig');
  if (btf && ds?.kind === 'DATASEC') for (const v of ds.vars) kconfig.add(btf.nameOf(v.type));
  const ks = btf?.find('DATASEC', '.ksyms');
  if (btf && ks?.kind === 'DATASEC') for (const v of ks.vars) if (btf.get(v.type)?.kind === 'FUNC') ksymFuncs.add(btf.nameOf(v.type));
  return symbols
    .filter((y) => y.shndx === SHN_UNDEF && y.name && (y.bind === STB_GLOBAL || y.bind === STB_WEAK))
    .map((y) => ({
      name: y.name,
      kind: kconfig.has(y.name) ? 'kconfig' : y.type === STT_FUNC || ksymFuncs.has(y.name) ? 'kfunc' : 'ksym',
      weak: y.bind === STB_WEAK,
    }));
}

export function listing(funcs: readonly Func[], byName: Map<string, Func>, codeOf: (s: ElfSection) => SectionCode, program?: string): string {
  const roots = program === undefined ? funcs.filter((f) => f.entry) : funcs.filter((f) => f.name === program || f.section.name === program);
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
      const kind = f.entry ? `${t?.progType ?? 'unknown type'}${t?.attachType ? `, ${t.attachType}` : ''}` : `${f.global ? 'global' : 'static'} subprogram`;
      out.push(`## ${f.entry ? `SEC("${f.section.name}") ` : ''}${f.name}: ${kind}, ${f.count} insns${f === root ? '' : ` (called by ${root.name})`}`);
      const lines = disassemble(insns.slice(0, f.start + f.count), ctx).filter((l) => l.index >= f.start);
      out.push(formatListing(lines, { ...ctx, label: (i) => (i === f.start ? undefined : ctx.label?.(i)) }));
    }
  }
  return out.join('\n');
}
