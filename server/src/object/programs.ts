/**
 * Programs and subprograms: every FUNC symbol in an executable section. Functions in `.text`
 * are subprograms; functions elsewhere are entry programs whose type comes from the section
 * name (section-defs.ts). Source positions come from BTF.ext line_info.
 */
import type { Btf } from '../btf/btf';
import type { BtfExt, LineInfo } from '../btf/ext';
import { BTF_FUNC_GLOBAL } from '../btf/types';
import { FormatError } from '../common/errors';
import { SHF_EXECINSTR, SHT_PROGBITS, STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_SECTION } from '../elf/constants';
import type { ElfFile, ElfSection } from '../elf/reader';
import { BPF_INSN_SIZE, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, decodeInsn, isCall, isLdImm64 } from './insn';
import type { BpfFunction, BpfProgram, ObjectDiagnostic, ProgramLine, SourceLocation } from './model';
import { secDefFor } from './section-defs';
import { attachTypeName, progTypeName } from './uapi-names';

export function isProgramSection(s: ElfSection): boolean {
  return s.type === SHT_PROGBITS && (s.flags & BigInt(SHF_EXECINSTR)) !== 0n && s.size > 0;
}

function location(li: LineInfo): SourceLocation {
  return { file: li.file, line: li.line, column: li.column, ...(li.text ? { text: li.text } : {}) };
}

interface FuncSpan {
  readonly name: string;
  readonly sec: ElfSection;
  readonly start: number;
  readonly count: number;
  readonly local: boolean;
}

/** Functions found in executable sections, with call edges and line info. */
export function collectFunctions(
  elf: ElfFile,
  btf: Btf | undefined,
  ext: BtfExt | undefined,
  diags: ObjectDiagnostic[],
): Omit<BpfFunction, 'relocs'>[] {
  const spans: FuncSpan[] = [];
  const execSecs = elf.sections.filter(isProgramSection);
  for (const sec of execSecs) {
    if (sec.size % BPF_INSN_SIZE !== 0) elf.fail(sec, sec.size, `program section size ${sec.size} is not a multiple of 8`);
    let syms = elf.symbols.filter((y) => y.shndx === sec.index && y.type === STT_FUNC);
    let sized = true;
    if (syms.length === 0) {
      // objects from old compilers (clang 7) mark functions as NOTYPE with size 0
      syms = elf.symbols.filter(
        (y) => y.shndx === sec.index && y.type === STT_NOTYPE && y.name && !y.name.startsWith('.L') && !/^LBB\d/.test(y.name),
      );
      sized = false;
      if (syms.length === 0) {
        diags.push({
          severity: 'error',
          section: sec.name,
          message: `section '${sec.name}': code without any function symbol (libbpf ignores it)`,
        });
        continue;
      }
      diags.push({
        severity: 'warning',
        section: sec.name,
        message: `section '${sec.name}': no FUNC symbols (old compiler?); functions taken from plain symbols — libbpf 1.x would not find these programs`,
      });
    }
    const starts = [...new Set(syms.map((y) => Number(y.value)))].sort((a, b) => a - b);
    for (const y of syms) {
      const off = Number(y.value);
      const size = sized ? Number(y.size) : (starts.find((o) => o > off) ?? sec.size) - off;
      if (off % 8 !== 0 || size % 8 !== 0 || off + size > sec.size) {
        throw new FormatError(
          elf.file,
          sec.name,
          off,
          `function '${y.name}' (offset ${off}, size ${size}) is not a whole number of instructions inside the section (${sec.size} bytes)`,
        );
      }
      spans.push({ name: y.name, sec, start: off / 8, count: size / 8, local: y.bind === STB_LOCAL });
    }
  }
  const funcInfo = new Map((ext?.funcInfo ?? []).map((s) => [s.section, s.records] as const));
  const lineInfo = new Map((ext?.lineInfo ?? []).map((s) => [s.section, s.records] as const));
  return spans.map((f) => {
    const btfId = btfFuncId(btf, f, funcInfo.get(f.sec.name));
    const bt = btfId !== undefined ? btf!.get(btfId) : undefined;
    const linkage = bt?.kind === 'FUNC' ? (bt.linkage === BTF_FUNC_GLOBAL ? 'global' : 'static') : f.local ? 'static' : 'global';
    const first = (lineInfo.get(f.sec.name) ?? []).find((li) => li.insnOff / 8 >= f.start && li.insnOff / 8 < f.start + f.count);
    const isEntry = f.sec.name !== '.text';
    if (isEntry && f.local) {
      diags.push({
        severity: 'error',
        program: f.name,
        section: f.sec.name,
        message: `program '${f.name}' in '${f.sec.name}' is static; libbpf only loads global programs`,
      });
    }
    return {
      name: f.name,
      section: f.sec.name,
      sectionIndex: f.sec.index,
      insnOffset: f.start,
      insnCount: f.count,
      linkage,
      isEntry,
      ...(btfId !== undefined ? { btfFuncId: btfId } : {}),
      ...(first ? { source: location(first) } : {}),
      callees: callees(elf, f, spans),
    };
  });
}

function btfFuncId(
  btf: Btf | undefined,
  f: FuncSpan,
  records: readonly { insnOff: number; typeId: number }[] | undefined,
): number | undefined {
  if (!btf) return undefined;
  const rec = records?.find((r) => r.insnOff / 8 === f.start);
  if (rec && btf.has(rec.typeId) && btf.get(rec.typeId)?.kind === 'FUNC') return rec.typeId;
  return btf.byName(f.name).find((id) => btf.get(id)?.kind === 'FUNC');
}

/** Names of functions called (or whose address is taken) from `f`. */
function callees(elf: ElfFile, f: FuncSpan, spans: readonly FuncSpan[]): string[] {
  const out = new Set<string>();
  const relocs = new Map(elf.relocationsFor(f.sec.index).map((r) => [Number(r.offset) / 8, r] as const));
  const le = elf.littleEndian;
  const at = (sec: number, idx: number) => spans.find((s) => s.sec.index === sec && idx >= s.start && idx < s.start + s.count);
  for (let i = f.start; i < f.start + f.count; i++) {
    const insn = decodeInsn(f.sec.data, i, le);
    const pseudoFunc = isLdImm64(insn) && insn.src === BPF_PSEUDO_FUNC;
    if (!(isCall(insn) && insn.src === BPF_PSEUDO_CALL) && !pseudoFunc) continue;
    const r = relocs.get(i);
    let target: FuncSpan | undefined;
    if (r) {
      const sym = elf.symbols[r.symbol];
      if (sym && sym.shndx < elf.sections.length) {
        // a section symbol carries the offset in imm (instructions for calls, bytes for addresses)
        const base = Number(sym.value) / 8;
        const idx = sym.type === STT_SECTION ? (pseudoFunc ? base + insn.imm / 8 : base + insn.imm + 1) : base;
        target = at(sym.shndx, idx);
      }
    } else {
      target = at(f.sec.index, i + insn.imm + 1);
    }
    if (target && target.name !== f.name) out.add(target.name);
    if (pseudoFunc) i++;
  }
  return [...out];
}

/** Entry programs with their SEC() table entry, instruction bytes and per-instruction lines. */
export function collectPrograms(
  elf: ElfFile,
  functions: readonly BpfFunction[],
  ext: BtfExt | undefined,
  diags: ObjectDiagnostic[],
): BpfProgram[] {
  const byName = new Map(functions.map((f) => [f.name, f] as const));
  const lineInfo = new Map((ext?.lineInfo ?? []).map((s) => [s.section, s.records] as const));
  const warned = new Set<string>();
  const out: BpfProgram[] = [];
  for (const f of functions) {
    if (!f.isEntry) continue;
    const m = secDefFor(f.section);
    if (!m && !warned.has(f.section)) {
      warned.add(f.section);
      diags.push({
        severity: 'warning',
        section: f.section,
        program: f.name,
        message: `section '${f.section}': not in libbpf's SEC() table; the program type is unknown (libbpf refuses to load it)`,
      });
    }
    const sec = elf.sections[f.sectionIndex];
    const lines: ProgramLine[] = (lineInfo.get(f.section) ?? [])
      .filter((li) => li.insnOff / 8 >= f.insnOffset && li.insnOff / 8 < f.insnOffset + f.insnCount)
      .map((li) => ({ insn: li.insnOff / 8 - f.insnOffset, source: location(li) }));
    out.push({
      name: f.name,
      section: f.section,
      sectionIndex: f.sectionIndex,
      insnOffset: f.insnOffset,
      insnCount: f.insnCount,
      // a copy: loaders patch instructions, the ELF bytes stay as read
      insns: sec.data.slice(f.insnOffset * 8, (f.insnOffset + f.insnCount) * 8),
      progType: progTypeName(m?.progTypeId ?? 0),
      progTypeId: m?.progTypeId ?? 0,
      expectedAttachType: m && m.def.attachType ? attachTypeName(m.attachTypeId) : null,
      expectedAttachTypeId: m?.attachTypeId ?? 0,
      ...(m?.attachTo !== undefined ? { attachTo: m.attachTo } : {}),
      ...(m ? { secDef: m.def.sec } : {}),
      sleepable: m?.def.sleepable ?? false,
      autoload: !f.section.startsWith('?'),
      progFlags: m?.progFlags ?? 0,
      linkage: f.linkage,
      ...(f.btfFuncId !== undefined ? { btfFuncId: f.btfFuncId } : {}),
      ...(f.source ? { source: f.source } : {}),
      lines,
      subprograms: reachable(f, byName),
      relocs: f.relocs,
    });
  }
  return out;
}

function reachable(f: BpfFunction, byName: Map<string, BpfFunction>): string[] {
  const seen = new Set<string>();
  const stack = [...f.callees];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n) || n === f.name) continue;
    seen.add(n);
    for (const c of byName.get(n)?.callees ?? []) stack.push(c);
  }
  return [...seen].sort();
}
