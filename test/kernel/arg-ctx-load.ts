// Loads the __arg_ctx fixtures into whatever kernel this process runs on (the host, or a
// qemu guest), with or without the fallback. Until the load pipeline can do it, this does
// the minimum such objects need: each entry program followed by the subprograms it reaches,
// calls re-aimed, func_info per program (run through the fallback), one BTF for all.
import { Btf } from '../../server/src/btf/btf';
import type { BtfType } from '../../server/src/btf/types';
import { writeBtf } from '../../server/src/btf/write';
import { BPF_PROG_TYPE, KernelBtf, KernelError, btfLoad, closeFd, isKernelError, probeFeature, progInfo, progLoad } from '../../server/src/kernel';
import { ArgCtxFallbackMode, ArgCtxFixup, FuncInfoRecord, applyArgCtxFallback, argCtxFallbackWanted } from '../../server/src/load/arg-ctx';
import { LoadError } from '../../server/src/load/types';
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

function funcInfoBytes(recs: readonly FuncInfoRecord[]): { recSize: number; count: number; bytes: Uint8Array } {
  const b = Buffer.alloc(8 * recs.length);
  recs.forEach((r, i) => { b.writeUInt32LE(r.insnOff, 8 * i); b.writeUInt32LE(r.typeId, 8 * i + 4); });
  return { recSize: 8, count: recs.length, bytes: b };
}

/** Loads every program of `obj` (except `skip`) with the fallback decided by `mode` and the kernel's probe. */
export function loadArgCtxObject(obj: BpfObject, mode: ArgCtxFallbackMode, skip: readonly string[] = []): ArgCtxLoadReport {
  const native = probeFeature('arg_ctx_tag').supported;
  const fallback = argCtxFallbackWanted(mode, native);
  const linked = obj.programs.filter((p) => !skip.includes(p.name)).map((p) => linkProgram(obj, p));
  let fix: ArgCtxFixup | undefined;
  if (fallback) {
    try {
      fix = applyArgCtxFallback(obj.btf!, linked.map((l) => ({ name: l.program.name, progType: l.program.progType, funcInfo: l.funcInfo })),
        native ? '--arg-ctx-fallback always' : 'the kernel lacks native __arg_ctx support');
    } catch (e) {
      if (e instanceof LoadError) return { native, fallback, refused: e.message, clones: 0, programs: {} };
      throw e;
    }
  }
  // fentry & co. attach to a vmlinux function: its BTF id (the kernel's, looked up once).
  let kbtf: KernelBtf | undefined;
  const attachBtfId = (p: BpfProgram): number | undefined => {
    if (p.progType !== 'tracing' || !p.attachTo) return undefined;
    kbtf ??= KernelBtf.open();
    return kbtf.vmlinux.find('FUNC', p.attachTo)?.id;
  };
  const btf = btfLoad(writeBtf(fixDatasecs(obj, fix?.btf ?? obj.btf!))).fd;
  const programs: ArgCtxLoadReport['programs'] = {};
  try {
    for (const l of linked) {
      const p = l.program;
      try {
        const loaded = progLoad({
          progType: p.progTypeId, expectedAttachType: p.expectedAttachTypeId, insns: l.insns, license: obj.license, name: p.name,
          attachBtfId: attachBtfId(p), progBtfFd: btf, funcInfo: funcInfoBytes(fix?.funcInfo.get(p.name) ?? l.funcInfo), log: { level: 0 }, context: `program "${p.name}"`,
        });
        try {
          programs[p.name] = { loaded: true, verifiedInsns: progInfo(loaded.fd).verifiedInsns };
        } finally {
          closeFd(loaded.fd);
        }
      } catch (e) {
        if (!isKernelError(e)) throw e;
        const k = e as KernelError;
        programs[p.name] = { loaded: false, errno: k.errnoName, log: k.log };
      }
    }
  } finally {
    closeFd(btf);
    kbtf?.close();
  }
  return { native, fallback, clones: fix?.clones.length ?? 0, programs };
}

export const PROG_TYPE_IDS = BPF_PROG_TYPE;
