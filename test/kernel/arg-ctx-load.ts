// Loads the __arg_ctx fixtures into whatever kernel this process runs on (the host, or a
// qemu guest), with or without the fallback, through the product's pipeline (loadObject),
// and reports each program's verdict. linkProgram/fixDatasecs stay for the unit tests of
// the fallback and the freplace guest, which build func_info and BTF by hand.
import { Btf, parseBtf } from '../../server/src/btf/btf';
import type { BtfType } from '../../server/src/btf/types';
import { BPF_PROG_TYPE, btfInfo, isKernelError, localKernel, probeFeature } from '../../server/src/kernel';
import { loadObject } from '../../server/src/load';
import { ArgCtxFallbackMode, FuncInfoRecord, argCtxFallbackWanted } from '../../server/src/load/arg-ctx';
import { LoadError, type LoadResult } from '../../server/src/load/types';
import type { BpfFunction, BpfObject, BpfProgram } from '../../server/src/object';
import { decodeInsn, encodeInsnInto, isSubprogCall } from '../../server/src/object/insn';

export interface LinkedProgram {
  readonly program: BpfProgram;
  readonly insns: Uint8Array;
  /** func_info with instruction indexes (not bytes). */
  readonly funcInfo: readonly FuncInfoRecord[];
}

/** The entry program and every subprogram it reaches, with BPF-to-BPF calls re-aimed. */
export function linkProgram(obj: BpfObject, prog: BpfProgram): LinkedProgram {
  const entry = obj.functions.find((f) => f.isEntry && f.name === prog.name)!;
  const parts: BpfFunction[] = [entry, ...prog.subprograms.map((n) => obj.functions.find((f) => !f.isEntry && f.name === n)!)];
  const starts = new Map<BpfFunction, number>();
  let total = 0;
  for (const f of parts) { starts.set(f, total); total += f.insnCount; }
  const out = new Uint8Array(total * 8);
  const le = obj.littleEndian;
  for (const f of parts) {
    const data = obj.elf.sections[f.sectionIndex].data;
    const at = starts.get(f)!;
    out.set(data.subarray(f.insnOffset * 8, (f.insnOffset + f.insnCount) * 8), at * 8);
    for (let i = 0; i < f.insnCount; i++) {
      const insn = decodeInsn(out, at + i, le);
      if (!isSubprogCall(insn)) continue;
      const r = f.relocs.find((x) => x.insn === i && x.kind === 'call');
      const sec = r?.targetSection ?? f.sectionIndex;
      const target = r?.targetInsn ?? f.insnOffset + i + insn.imm + 1;
      const callee = parts.find((g) => g.sectionIndex === sec && target >= g.insnOffset && target < g.insnOffset + g.insnCount);
      if (!callee) throw new Error(`${prog.name}: call at ${i} of ${f.name} to an unlinked function`);
      const newTarget = starts.get(callee)! + target - callee.insnOffset;
      encodeInsnInto(out, at + i, { ...insn, imm: newTarget - (at + i + 1) }, le);
    }
  }
  return { program: prog, insns: out, funcInfo: parts.map((f) => ({ insnOff: starts.get(f)!, typeId: f.btfFuncId! })) };
}

/** DATASEC sizes and VAR offsets come from the ELF, as libbpf fills them in before loading BTF. */
export function fixDatasecs(obj: BpfObject, btf: Btf): Btf {
  const types = btf.types.map((t): BtfType => {
    if (t.kind !== 'DATASEC') return t;
    const sec = obj.elf.sections.find((s) => s.name === t.name);
    if (!sec) return t;
    const vars = t.vars.map((v) => {
      const name = btf.nameOf(v.type);
      const sym = obj.elf.symbols.find((y) => y.shndx === sec.index && y.name === name);
      return sym ? { ...v, offset: Number(sym.value) } : v;
    });
    return { ...t, size: Number(sec.size), vars };
  });
  return new Btf(types, btf.strings, btf.littleEndian, btf.base);
}

export interface ArgCtxLoadReport {
  readonly native: boolean;
  readonly fallback: boolean;
  /** The LoadError message when the fallback refused before loading. */
  readonly refused?: string;
  readonly clones: number;
  readonly programs: Record<string, { loaded: boolean; verifiedInsns?: number; errno?: string; log?: string }>;
}

/** FUNCs in a BTF (the object's, or what the kernel holds after the load). */
function funcCount(btf: Btf): number {
  let n = 0;
  for (const t of btf.types) if (t.kind === 'FUNC') n++;
  return n;
}

/**
 * Loads every program of `obj` (except `skip`) through the product's pipeline (loadObject,
 * what `bpf-lens load --arg-ctx-fallback MODE` runs), one load for all; when a program is
 * rejected, each program alone, so that every program gets its own verdict. `clones` is
 * what the kernel got: FUNCs in the object's BTF as loaded minus those the compiler wrote.
 */
export function loadArgCtxObject(obj: BpfObject, mode: ArgCtxFallbackMode, skip: readonly string[] = []): ArgCtxLoadReport {
  const native = probeFeature('arg_ctx_tag').supported;
  const fallback = argCtxFallbackWanted(mode, native);
  const names = obj.programs.filter((p) => !skip.includes(p.name)).map((p) => p.name);
  const load = (only: readonly string[]): LoadResult => loadObject(obj, {
    kernel: localKernel, argCtxFallback: mode, noAutoload: obj.programs.map((p) => p.name).filter((n) => !only.includes(n)),
  });
  try {
    const r = load(names);
    try {
      const kernelBtf = parseBtf(btfInfo(r.btfFd!, true).data!, { file: 'kernel copy of the object BTF' });
      const programs: ArgCtxLoadReport['programs'] = {};
      for (const p of r.programs) programs[p.name] = { loaded: true, verifiedInsns: p.verifiedInsns };
      return { native, fallback, clones: funcCount(kernelBtf) - funcCount(obj.btf!), programs };
    } finally {
      r.close();
    }
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    // refused before anything reached the verifier (the fallback cannot serve a caller)
    if (e.stage !== 'programs') return { native, fallback, refused: e.message, clones: 0, programs: {} };
  }
  const programs: ArgCtxLoadReport['programs'] = {};
  for (const name of names) {
    try {
      const r = load([name]);
      programs[name] = { loaded: true, verifiedInsns: r.programs[0].verifiedInsns };
      r.close();
    } catch (e) {
      if (!(e instanceof LoadError) || e.stage !== 'programs') throw e;
      const cause = e.details.cause;
      programs[name] = { loaded: false, errno: isKernelError(cause) ? cause.errnoName : undefined, log: e.details.log };
    }
  }
  return { native, fallback, clones: 0, programs };
}

export const PROG_TYPE_IDS = BPF_PROG_TYPE;
