/**
 * Map, global-data and extern relocations of a linked program, as libbpf's
 * bpf_object__relocate_data: ld_imm64 of a map gets the map's (placeholder) FD, global data
 * becomes BPF_PSEUDO_MAP_VALUE + offset, kconfig externs point into the `.kconfig` map,
 * ksyms become BTF ids (or addresses), kfunc calls get their BTF id and fd_array index, and an
 * unresolved weak kfunc call is poisoned. Pure: the FDs are numbers given by the caller.
 */
import { POISON_CALL_KFUNC_BASE } from '../core';
import type { BpfObject } from '../object/model';
import {
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  decodeInsn,
  encodeInsnInto,
} from '../object/insn';
import type { ExternValues } from './externs';
import type { LinkedProgram } from './link-subprogs';
import { LoadError } from './types';

/** Patches `linked.insns` in place. `mapFd(i)` is the FD of obj.maps[i] (undefined: not created). */
export function relocateData(obj: BpfObject, linked: LinkedProgram, mapFd: (index: number) => number | undefined, ext: ExternValues): void {
  const le = obj.littleEndian;
  const buf = linked.insns;
  const prog = linked.program.name;
  const fail = (msg: string): never => {
    throw new LoadError(`program '${prog}': ${msg}`, 'relocate', { program: prog });
  };
  for (const r of linked.relocs) {
    const i0 = decodeInsn(buf, r.insn, le);
    const set0 = (p: Partial<typeof i0>) => encodeInsnInto(buf, r.insn, { ...i0, ...p }, le);
    const setImm1 = (imm: number) => encodeInsnInto(buf, r.insn + 1, { ...decodeInsn(buf, r.insn + 1, le), imm: imm | 0 }, le);
    switch (r.kind) {
      case 'map':
      case 'data': {
        const fd = r.mapIndex !== undefined ? mapFd(r.mapIndex) : undefined;
        if (fd === undefined) fail(`refers to map '${r.name}', which this load does not create`);
        if (r.kind === 'map') {
          set0({ src: BPF_PSEUDO_MAP_FD, imm: fd! });
        } else {
          set0({ src: BPF_PSEUDO_MAP_VALUE, imm: fd! });
          setImm1(r.offset ?? 0);
        }
        break;
      }
      case 'extern_ld64': {
        const e = ext.byName.get(r.name);
        if (!e) fail(`refers to extern '${r.name}', which was not resolved`);
        if (e!.kind === 'kconfig') {
          const fd = ext.kconfigMapIndex !== undefined ? mapFd(ext.kconfigMapIndex) : undefined;
          if (fd === undefined) fail(`kconfig extern '${r.name}' has no .kconfig map`);
          set0({ src: BPF_PSEUDO_MAP_VALUE, imm: fd! });
          setImm1(e!.offset);
        } else if (e!.btfId) {
          set0({ src: BPF_PSEUDO_BTF_ID, imm: e!.btfId });
          setImm1(e!.btfObjFd);
        } else {
          // typeless ksym (or a missing weak one): its address, 0 when absent
          set0({ src: 0, imm: Number(BigInt.asIntN(32, e!.addr)) });
          setImm1(Number(BigInt.asIntN(32, e!.addr >> 32n)));
        }
        break;
      }
      case 'extern_call': {
        const e = ext.byName.get(r.name);
        if (!e) fail(`calls kfunc '${r.name}', which was not resolved`);
        if (e!.btfId) {
          set0({ src: BPF_PSEUDO_KFUNC_CALL, imm: e!.btfId, off: e!.fdIndex });
        } else {
          // unresolved weak kfunc: the verifier drops it when guarded by bpf_ksym_exists()
          set0({ src: 0, dst: 0, off: 0, imm: POISON_CALL_KFUNC_BASE + e!.index });
        }
        break;
      }
      default:
        break;
    }
  }
}
