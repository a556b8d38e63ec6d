/**
 * func_info and line_info of one linked program, as BPF_PROG_LOAD takes them: the object's
 * `.BTF.ext` records of every function placed in the program, with offsets rebased from
 * section bytes to linked instruction indexes (libbpf's adjust_prog_btf_ext_info). Pure.
 *
 * `buildFuncInfo` is where each entry program's func_info records are made: the __arg_ctx
 * fallback re-points them (see the `ARG-CTX hook` in index.ts) before the BTF is loaded.
 */
import type { FuncInfo, LineInfo } from '../btf/ext';
import type { ExtInfo } from '../kernel';
import type { BpfObject } from '../object/model';
import type { FuncInfoRecord } from './arg-ctx';
import type { LinkedProgram } from './link-subprogs';

/** A line_info record of a linked program (`insn` = linked instruction index). */
export interface LinkedLine extends LineInfo {
  readonly insn: number;
}

function sectionRecords<T extends { insnOff: number }>(
  secs: readonly { section: string; records: readonly T[] }[] | undefined,
  name: string,
): readonly T[] {
  return secs?.find((s) => s.section === name)?.records ?? [];
}

/** Records of the parts' functions, mapped to linked instruction indexes (in part order). */
function rebase<T extends { insnOff: number }>(
  obj: BpfObject,
  linked: LinkedProgram,
  pick: (section: string) => readonly T[],
): { rec: T; insn: number }[] {
  const out: { rec: T; insn: number }[] = [];
  for (const { fn, start } of linked.parts) {
    const sec = obj.elf.sections[fn.sectionIndex]?.name ?? '';
    for (const rec of pick(sec)) {
      const at = rec.insnOff / 8;
      if (at >= fn.insnOffset && at < fn.insnOffset + fn.insnCount) out.push({ rec, insn: start + at - fn.insnOffset });
    }
  }
  return out;
}

/**
 * The program's func_info: one record per placed function (insnOff in instructions). A function
 * without a record (no BTF.ext) gets its BTF FUNC id from the object model, as libbpf requires
 * one record per subprogram; undefined when the object has no func_info at all.
 */
export function buildFuncInfo(obj: BpfObject, linked: LinkedProgram): FuncInfoRecord[] | undefined {
  if (!obj.btf || !obj.ext || obj.ext.funcInfo.length === 0) return undefined;
  const found = rebase<FuncInfo>(obj, linked, (s) => sectionRecords(obj.ext?.funcInfo, s));
  const out: FuncInfoRecord[] = [];
  for (const { fn, start } of linked.parts) {
    const rec = found.find((r) => r.insn === start);
    const typeId = rec?.rec.typeId ?? fn.btfFuncId;
    if (!typeId) return undefined;
    out.push({ insnOff: start, typeId });
  }
  return out;
}

/** The program's line_info, in linked instruction order. */
export function buildLineInfo(obj: BpfObject, linked: LinkedProgram): LinkedLine[] {
  if (!obj.ext) return [];
  return rebase<LineInfo>(obj, linked, (s) => sectionRecords(obj.ext?.lineInfo, s)).map(({ rec, insn }) => ({ ...rec, insn }));
}

/** func_info records in the kernel's layout (struct bpf_func_info, 8 bytes), native byte order. */
export function encodeFuncInfo(recs: readonly FuncInfoRecord[]): ExtInfo {
  const b = Buffer.alloc(8 * recs.length);
  recs.forEach((r, i) => {
    b.writeUInt32LE(r.insnOff, 8 * i);
    b.writeUInt32LE(r.typeId, 8 * i + 4);
  });
  return { recSize: 8, count: recs.length, bytes: b };
}

/** line_info records in the kernel's layout (struct bpf_line_info, 16 bytes). */
export function encodeLineInfo(lines: readonly LinkedLine[]): ExtInfo {
  const b = Buffer.alloc(16 * lines.length);
  lines.forEach((l, i) => {
    b.writeUInt32LE(l.insn, 16 * i);
    b.writeUInt32LE(l.fileNameOff, 16 * i + 4);
    b.writeUInt32LE(l.lineOff, 16 * i + 8);
    b.writeUInt32LE(((l.line << 10) | (l.column & 0x3ff)) >>> 0, 16 * i + 12);
  });
  return { recSize: 16, count: lines.length, bytes: b };
}

/**
 * The line_info record that covers linked instruction `insn`: the last one at or before it in
 * the same function, skipping the compiler's line-0 records (code it made up, no source line).
 */
export function lineFor(lines: readonly LinkedLine[], insn: number, fnStart = 0): LinkedLine | undefined {
  let best: LinkedLine | undefined;
  for (const l of lines) {
    if (l.line === 0 || l.insn > insn || l.insn < fnStart) continue;
    if (!best || l.insn >= best.insn) best = l;
  }
  return best;
}
