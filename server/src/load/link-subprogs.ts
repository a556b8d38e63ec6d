/**
 * Per-entry-program linking, as libbpf's bpf_object__reloc_code: the entry program's own
 * instructions, then every subprogram it reaches (BPF-to-BPF calls and callback addresses
 * through `ld_imm64 src=BPF_PSEUDO_FUNC`) appended depth first, as the scan meets them, then the
 * exception callback named by a `exception_callback:<func>` decl tag. Call offsets are fixed
 * for the new layout. Pure: section bytes in (already CO-RE relocated), linked bytes out.
 */
import type { Btf } from '../btf/btf';
import type { BpfFunction, BpfObject, BpfProgram, BpfReloc } from '../object/model';
import { BPF_PSEUDO_FUNC, decodeInsn, encodeInsnInto, isPseudoFunc, isSubprogCall } from '../object/insn';
import { LoadError } from './types';

/** One function placed in a linked program. */
export interface LinkedPart {
  readonly fn: BpfFunction;
  /** Index of the function's first instruction in the linked program. */
  readonly start: number;
}

/** A relocation of the linked program (`insn` is the linked index). */
export interface LinkedReloc extends BpfReloc {
  /** The function it came from. */
  readonly fn: BpfFunction;
}

export interface LinkedProgram {
  readonly program: BpfProgram;
  /** Instructions in the object's byte order. */
  readonly insns: Uint8Array;
  /** Entry function first, then appended subprograms (and the exception callback). */
  readonly parts: readonly LinkedPart[];
  /** Non-call relocations (map, data, extern_*), in linked instruction indexes. */
  readonly relocs: readonly LinkedReloc[];
}

/** The function that holds section instruction `insn` of section `sec`. */
function functionAt(obj: BpfObject, sec: number, insn: number): BpfFunction | undefined {
  return obj.functions.find((f) => f.sectionIndex === sec && insn >= f.insnOffset && insn < f.insnOffset + f.insnCount);
}

/** The exception callback an entry FUNC names through `exception_callback:<name>` (libbpf's __exception_cb). */
export function exceptionCallback(btf: Btf | undefined, funcId: number | undefined): string | undefined {
  if (!btf || !funcId) return undefined;
  for (let id = btf.startId; id < btf.length; id++) {
    const t = btf.get(id);
    if (t?.kind === 'DECL_TAG' && t.type === funcId && t.componentIdx === -1 && t.name.startsWith('exception_callback:')) {
      return t.name.slice('exception_callback:'.length);
    }
  }
  return undefined;
}

/**
 * Links one entry program. `sectionBytes(i)` gives section i's (CO-RE relocated) bytes.
 * Throws LoadError (stage 'relocate') for a call that lands outside every function.
 */
export function linkProgram(obj: BpfObject, prog: BpfProgram, sectionBytes: (index: number) => Uint8Array): LinkedProgram {
  const le = obj.littleEndian;
  const entry = obj.functions.find((f) => f.isEntry && f.name === prog.name && f.sectionIndex === prog.sectionIndex);
  if (!entry)
    throw new LoadError(`program '${prog.name}': no function symbol for it in section '${prog.section}'`, 'relocate', {
      program: prog.name,
    });
  const parts: LinkedPart[] = [];
  const startOf = new Map<BpfFunction, number>();
  let total = 0;
  const chunks: Uint8Array[] = [];
  // libbpf's bpf_object__reloc_code: a callee is appended when first met and scanned at once,
  // before the rest of its caller (depth first), which fixes the call offsets and so the tag
  const place = (fn: BpfFunction): void => {
    if (startOf.has(fn)) return;
    const data = sectionBytes(fn.sectionIndex);
    const part = { fn, start: total };
    chunks.push(data.subarray(fn.insnOffset * 8, (fn.insnOffset + fn.insnCount) * 8));
    parts.push(part);
    startOf.set(fn, part.start);
    total += fn.insnCount;
    scan(part);
  };
  // Calls are fixed once every callee is placed; first collect what each part calls.
  const fixes: { at: number; target: BpfFunction; targetInsn: number; addr: boolean }[] = [];
  const relocs: LinkedReloc[] = [];
  function scan(part: LinkedPart): void {
    const fn = part.fn;
    const data = sectionBytes(fn.sectionIndex);
    for (const r of fn.relocs) {
      if (r.kind !== 'call' && r.kind !== 'func_addr') relocs.push({ ...r, insn: part.start + r.insn, fn });
    }
    for (let i = 0; i < fn.insnCount; i++) {
      const insn = decodeInsn(data, fn.insnOffset + i, le);
      const call = isSubprogCall(insn);
      const r = fn.relocs.find((x) => x.insn === i && (x.kind === 'call' || x.kind === 'func_addr'));
      if (!call && !isPseudoFunc(insn) && r?.kind !== 'func_addr') continue;
      const sec = r?.targetSection ?? fn.sectionIndex;
      const targetInsn = r?.targetInsn ?? fn.insnOffset + i + insn.imm + 1;
      const target = functionAt(obj, sec, targetInsn);
      if (!target) {
        const what = call ? 'calls' : 'takes the address of';
        throw new LoadError(
          `function '${fn.name}' ${what} instruction ${targetInsn} of section '${obj.elf.sections[sec]?.name ?? sec}', which is in no function`,
          'relocate',
          { program: prog.name },
        );
      }
      place(target);
      fixes.push({ at: part.start + i, target, targetInsn, addr: !call });
    }
  }
  place(entry);
  const cb = exceptionCallback(obj.btf, entry.btfFuncId);
  if (cb !== undefined) {
    const fn = obj.functions.find((f) => f.name === cb && !f.isEntry);
    if (!fn)
      throw new LoadError(`program '${prog.name}': exception callback '${cb}' is not a subprogram of the object`, 'relocate', {
        program: prog.name,
      });
    place(fn);
  }
  const out = new Uint8Array(total * 8);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  for (const f of fixes) {
    const insn = decodeInsn(out, f.at, le);
    const dest = startOf.get(f.target)! + (f.targetInsn - f.target.insnOffset);
    // a callback's address is an ld_imm64 the kernel knows by src_reg BPF_PSEUDO_FUNC
    encodeInsnInto(out, f.at, { ...insn, imm: dest - f.at - 1, ...(f.addr ? { src: BPF_PSEUDO_FUNC } : {}) }, le);
  }
  relocs.sort((a, b) => a.insn - b.insn);
  return { program: prog, insns: out, parts, relocs };
}
