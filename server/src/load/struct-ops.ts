/**
 * struct_ops maps: the kernel's `bpf_struct_ops_<name>` value type found in vmlinux or in the
 * module BTF that defines it, the object's initial value rewritten into the kernel's layout
 * member by member (libbpf's bpf_map__init_kern_struct_ops), and the program slots that take
 * program FDs once the programs are loaded. Pure: BTF in, bytes and slots out.
 */
import type { Btf } from '../btf/btf';
import type { BtfMember, BtfType, TypeId } from '../btf/types';
import { sizeOf } from '../btf/layout';
import { essentialName } from '../core';
import type { BpfMap, BpfObject } from '../object/model';
import { skipModsAndTypedefs } from '../btf/skip-mods';
import { LoadError } from './types';

/** The kernel side of a struct_ops type. */
export interface StructOpsKernelType {
  /** 'vmlinux' or the module whose BTF has it. */
  readonly btfName: string;
  readonly btf: Btf;
  /** `struct <name>` id: programs' attach_btf_id. */
  readonly typeId: TypeId;
  /** `struct bpf_struct_ops_<name>` id: the map's btf_vmlinux_value_type_id. */
  readonly valueTypeId: TypeId;
  readonly valueSize: number;
  /** Offset of the `data` member (the ops struct) inside the value. */
  readonly dataOffset: number;
}

/** A program slot of a struct_ops value. */
export interface StructOpsSlot {
  readonly member: string;
  readonly program: string;
  /** Index of the member in the kernel struct: the program's expected_attach_type. */
  readonly memberIndex: number;
  /** Byte offset in the map value where the program FD goes. */
  readonly valueOffset: number;
}

export interface StructOpsPlan {
  readonly map: BpfMap;
  readonly kernel: StructOpsKernelType;
  /** The value with every non-program member filled in. */
  readonly value: Uint8Array;
  readonly slots: readonly StructOpsSlot[];
}

function structOf(btf: Btf, id: TypeId): (BtfType & { kind: 'STRUCT' }) | undefined {
  const [, t] = skipModsAndTypedefs(btf, id);
  return t?.kind === 'STRUCT' ? t : undefined;
}

function isFuncPtr(btf: Btf, id: TypeId): boolean {
  const [, t] = skipModsAndTypedefs(btf, id);
  if (t?.kind !== 'PTR') return false;
  const [, f] = skipModsAndTypedefs(btf, t.type);
  return f?.kind === 'FUNC_PROTO';
}

/** Finds `bpf_struct_ops_<name>` (flavour suffix dropped) in vmlinux, then in each module. */
export function findStructOpsType(btfs: readonly { name: string; btf: Btf }[], localName: string): StructOpsKernelType | undefined {
  const name = essentialName(localName);
  for (const { name: btfName, btf } of btfs) {
    const own = (id: TypeId) => id >= btf.startId;
    const valueId = btf.byName(`bpf_struct_ops_${name}`).find((id) => own(id) && btf.get(id)?.kind === 'STRUCT');
    if (valueId === undefined) continue;
    const typeId = btf.byName(name).find((id) => btf.get(id)?.kind === 'STRUCT');
    const value = btf.get(valueId);
    if (typeId === undefined || value?.kind !== 'STRUCT') continue;
    const data = value.members.find((m) => m.name === 'data');
    if (!data) continue;
    return { btfName, btf, typeId, valueTypeId: valueId, valueSize: value.size, dataOffset: data.bitsOffset / 8 };
  }
  return undefined;
}

/**
 * Why no kernel type was found for a struct_ops map, naming the type and what was searched (and a
 * BTF that has the ops struct without registering it, which is the usual near miss).
 */
export function structOpsTypeMissing(map: BpfMap, btfs: readonly { name: string; btf: Btf }[]): LoadError {
  const local = map.structOpsType ?? '?';
  const name = essentialName(local);
  const modules = btfs.filter((b) => b.name !== 'vmlinux').length;
  const near = btfs.find(({ btf }) => btf.byName(name).some((id) => id >= btf.startId && btf.get(id)?.kind === 'STRUCT'));
  const hint = near
    ? `; ${near.name} has struct ${name} but does not register it as a struct_ops type`
    : '; load the module that registers it (struct_ops types from modules need Linux 6.9+)';
  return new LoadError(
    `struct_ops map '${map.name}' is of type struct ${local}, and no kernel BTF has it: neither vmlinux nor any of the ${modules} modules with BTF ` +
      `defines struct bpf_struct_ops_${name} (the value type the kernel makes for each struct_ops type it registers)${hint}`,
    'relocate',
  );
}

function memberSize(btf: Btf, m: BtfMember): number {
  try {
    return sizeOf(btf, m.type);
  } catch {
    return 0;
  }
}

/** The kernel value of a struct_ops map and its program slots. */
export function planStructOps(obj: BpfObject, map: BpfMap, kernel: StructOpsKernelType): StructOpsPlan {
  const btf = obj.btf;
  const fail = (why: string): never => {
    throw new LoadError(`struct_ops map '${map.name}': ${why}`, 'maps');
  };
  if (!btf || map.valueTypeId === undefined) return fail('needs BTF');
  const local = structOf(btf, map.valueTypeId);
  const kern = structOf(kernel.btf, kernel.typeId);
  if (!local || !kern) return fail('its type is not a struct');
  const data = map.initialData ?? new Uint8Array(local.size);
  const value = new Uint8Array(kernel.valueSize);
  const slots: StructOpsSlot[] = [];
  const progs = new Map((map.structOpsProgs ?? []).map((p) => [p.member, p.program]));
  for (const m of local.members) {
    const off = m.bitsOffset / 8;
    const size = memberSize(btf, m);
    const ki = kern.members.findIndex((k) => k.name === m.name);
    const prog = progs.get(m.name);
    const zero = data.subarray(off, off + size).every((b) => b === 0);
    if (ki < 0) {
      if (prog || !zero) fail(`member '${m.name}' is not in the kernel's struct ${kern.name} (${kernel.btfName})`);
      continue;
    }
    const km = kern.members[ki];
    const koff = kernel.dataOffset + km.bitsOffset / 8;
    if (isFuncPtr(btf, m.type)) {
      if (!prog) continue;
      if (!isFuncPtr(kernel.btf, km.type))
        fail(`member '${m.name}' is a function pointer here but not in the kernel's struct ${kern.name}`);
      slots.push({ member: m.name, program: prog, memberIndex: ki, valueOffset: koff });
      continue;
    }
    const ksize = memberSize(kernel.btf, km);
    if (ksize !== size) fail(`member '${m.name}' is ${size} bytes here but ${ksize} in the kernel's struct ${kern.name}`);
    if (m.bitfieldSize || km.bitfieldSize) {
      if (!zero) fail(`member '${m.name}' is a bitfield, which struct_ops values cannot set`);
      continue;
    }
    value.set(data.subarray(off, off + size), koff);
  }
  return { map, kernel, value, slots };
}
