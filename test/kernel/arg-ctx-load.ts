// Loads the __arg_ctx fixtures into whatever kernel this process runs on (the host, or a
// qemu guest), with or without the fallback, through the product's pipeline (loadObject),
// and reports each program's verdict. linkProgram/fixDatasecs stay for the unit tests of
// the fallback and the freplace guest, which build func_info and BTF by hand.
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { BPF_PROG_TYPE, btfInfo, isKernelError, localKernel, probeFeature } from '../../server/src/kernel';
import { loadObject } from '../../server/src/load';
import { type ArgCtxFallbackMode, type FuncInfoRecord, argCtxFallbackWanted } from '../../server/src/load/arg-ctx';
import { buildFuncInfo } from '../../server/src/load/ext-info';
import { linkProgram as linkSubprogs } from '../../server/src/load/link-subprogs';
import { fixupObjectBtf } from '../../server/src/load/sanitize-btf';
import { LoadError, type LoadResult } from '../../server/src/load/types';
import type { BpfObject, BpfProgram } from '../../server/src/object';

export interface LinkedProgram {
  readonly program: BpfProgram;
  readonly insns: Uint8Array;
  /** func_info with instruction indexes (not bytes). */
  readonly funcInfo: readonly FuncInfoRecord[];
}

/** The entry program and every subprogram it reaches, linked by the pipeline's own linker, with its func_info. */
export function linkProgram(obj: BpfObject, prog: BpfProgram): LinkedProgram {
  const linked = linkSubprogs(obj, prog, (i) => obj.elf.sections[i].data);
  return { program: prog, insns: linked.insns, funcInfo: buildFuncInfo(obj, linked) ?? [] };
}

/** DATASEC sizes and VAR offsets from the ELF, as the pipeline (and libbpf) fills them in before loading BTF. */
export function fixDatasecs(obj: BpfObject, btf: Btf): Btf {
  return fixupObjectBtf(obj, btf);
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
  const load = (only: readonly string[]): LoadResult =>
    loadObject(obj, {
      kernel: localKernel,
      argCtxFallback: mode,
      noAutoload: obj.programs.map((p) => p.name).filter((n) => !only.includes(n)),
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
