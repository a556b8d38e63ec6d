// The numbers a relocation patches in: computed once from the local spec (what the compiler
// assumed) and once from a target spec (what the target has), as libbpf's bpf_core_calc_relo.
import { type Btf } from '../btf/btf';
import { BTF_INT_SIGNED, type BtfComposite, type TypeId, isEnum } from '../btf/types';
import { CoreReloError, resolveSize, skipToType, typeAt } from './btf-util';
import {
  BPF_CORE_ENUMVAL_EXISTS,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_BYTE_SIZE,
  BPF_CORE_FIELD_EXISTS,
  BPF_CORE_FIELD_LSHIFT_U64,
  BPF_CORE_FIELD_RSHIFT_U64,
  BPF_CORE_FIELD_SIGNED,
  BPF_CORE_TYPE_EXISTS,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_MATCHES,
  BPF_CORE_TYPE_SIZE,
  coreKindName,
  isEnumvalBased,
  isFieldBased,
  isTypeBased,
} from './kinds';
import { type CoreSpec } from './spec';

/** What to patch, as libbpf's bpf_core_relo_res. */
export interface CoreReloResult {
  /** Value the compiler put in the instruction (from the local BTF). */
  origVal: bigint;
  /** Value for the target. */
  newVal: bigint;
  /** The instruction must become the "bad relo" call. */
  poison: boolean;
  /** Check that the instruction holds origVal before patching. */
  validate: boolean;
  /** A load/store would have to change size in a way that changes the value read. */
  failMemszAdjust: boolean;
  /** Memory access sizes (0 unless a plain field offset) and their field types. */
  origSz: number;
  newSz: number;
  origTypeId: TypeId;
  newTypeId: TypeId;
}

/** Thrown inside the calculation to request poisoning (libbpf's -EUCLEAN). */
class Poison extends Error {}

interface FieldValue {
  val: bigint;
  fieldSz: number;
  typeId: TypeId;
  validate: boolean;
}

function calcField(kind: number, spec: CoreSpec | undefined, littleEndian: boolean): FieldValue {
  if (kind === BPF_CORE_FIELD_EXISTS) return { val: spec ? 1n : 0n, fieldSz: 0, typeId: 0, validate: true };
  if (!spec) throw new Poison();
  const btf = spec.btf;
  const acc = spec.access[spec.access.length - 1];
  if (!acc.name) {
    // the access ends at an array element or the root: `a[n]` / `&p[n]`
    const sz = resolveSize(btf, acc.typeId);
    if (kind === BPF_CORE_FIELD_BYTE_OFFSET)
      return { val: BigInt(Math.floor(spec.bitOffset / 8)), fieldSz: sz, typeId: acc.typeId, validate: true };
    if (kind === BPF_CORE_FIELD_BYTE_SIZE) return { val: BigInt(sz), fieldSz: 0, typeId: 0, validate: true };
    throw new CoreReloError(`${coreKindName(kind)} cannot be applied to an array element access`);
  }
  const m = (btf.type(acc.typeId) as BtfComposite).members[acc.idx];
  const fieldTypeId = skipToType(btf, m.type);
  const mt = btf.get(fieldTypeId);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = mt && 'size' in mt ? mt.size : 0;
    if (!byteSz) throw new CoreReloError(`bitfield '${m.name}' has a type without a size`);
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    // the smallest load that holds the whole bitfield
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw new CoreReloError(`bitfield '${m.name}' cannot be read with one 64-bit load`);
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = resolveSize(btf, fieldTypeId);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  // for bitfields the compiler's own choice of load may differ from ours: do not validate
  let validate = !bitfield;
  let val: bigint;
  let fieldSz = 0;
  let typeId = 0;
  switch (kind) {
    case BPF_CORE_FIELD_BYTE_OFFSET:
      val = BigInt(byteOff);
      if (!bitfield) {
        fieldSz = byteSz;
        typeId = fieldTypeId;
      }
      break;
    case BPF_CORE_FIELD_BYTE_SIZE:
      val = BigInt(byteSz);
      break;
    case BPF_CORE_FIELD_SIGNED:
      val = (mt && isEnum(mt) && mt.kindFlag) || (mt?.kind === 'INT' && (mt.encoding & BTF_INT_SIGNED) !== 0) ? 1n : 0n;
      validate = true;
      break;
    case BPF_CORE_FIELD_LSHIFT_U64:
      val = BigInt(littleEndian ? 64 - (bitOff + bitSz - byteOff * 8) : (8 - byteSz) * 8 + (bitOff - byteOff * 8));
      break;
    case BPF_CORE_FIELD_RSHIFT_U64:
      val = BigInt(64 - bitSz);
      validate = true;
      break;
    default:
      throw new CoreReloError(`unknown field relocation kind ${kind}`);
  }
  return { val, fieldSz, typeId, validate };
}

function calcType(kind: number, spec: CoreSpec | undefined): { val: bigint; validate: boolean } {
  if (!spec) return { val: 0n, validate: true };
  switch (kind) {
    // type ids change during static linking: never validate them
    case BPF_CORE_TYPE_ID_TARGET:
      return { val: BigInt(spec.rootId), validate: false };
    case BPF_CORE_TYPE_EXISTS:
    case BPF_CORE_TYPE_MATCHES:
      return { val: 1n, validate: true };
    case BPF_CORE_TYPE_SIZE:
      return { val: BigInt(resolveSize(spec.btf, spec.rootId)), validate: true };
    default:
      throw new CoreReloError(`unknown type relocation kind ${kind}`);
  }
}

function calcEnumval(kind: number, spec: CoreSpec | undefined): bigint {
  if (kind === BPF_CORE_ENUMVAL_EXISTS) return spec ? 1n : 0n;
  if (kind !== BPF_CORE_ENUMVAL_VALUE) throw new CoreReloError(`unknown enum value relocation kind ${kind}`);
  if (!spec) throw new Poison();
  const t = spec.btf.get(spec.access[0].typeId);
  if (t?.kind === 'ENUM') return BigInt.asUintN(64, BigInt(t.values[spec.access[0].idx].value | 0)); // s32, sign-extended as libbpf
  if (t?.kind === 'ENUM64') return BigInt.asUintN(64, t.values[spec.access[0].idx].value);
  throw new CoreReloError('enum value relocation resolved to a non-enum');
}

function isPtr(btf: Btf, id: TypeId): boolean {
  return typeAt(btf, id)?.kind === 'PTR';
}

function isUnsignedInt(btf: Btf, id: TypeId): boolean {
  const t = typeAt(btf, id);
  return t?.kind === 'INT' && t.encoding !== BTF_INT_SIGNED;
}

/** Local and target values for one relocation; `target` undefined = no candidate matched. */
export function calcRelo(kind: number, local: CoreSpec, target: CoreSpec | undefined): CoreReloResult {
  const res: CoreReloResult = {
    origVal: 0n,
    newVal: 0n,
    poison: false,
    validate: true,
    failMemszAdjust: false,
    origSz: 0,
    newSz: 0,
    origTypeId: 0,
    newTypeId: 0,
  };
  try {
    if (isFieldBased(kind)) {
      const le = local.btf.littleEndian;
      const o = calcField(kind, local, le);
      Object.assign(res, { origVal: o.val, origSz: o.fieldSz, origTypeId: o.typeId, validate: o.validate });
      const n = calcField(kind, target, le);
      Object.assign(res, { newVal: n.val, newSz: n.fieldSz, newTypeId: n.typeId });
      // a load may change size only for pointers (32-bit kernels) and unsigned ints, whose
      // zero extension keeps the value right
      if (res.origSz !== res.newSz && target) {
        const ok =
          (isPtr(local.btf, res.origTypeId) && isPtr(target.btf, res.newTypeId)) ||
          (isUnsignedInt(local.btf, res.origTypeId) && isUnsignedInt(target.btf, res.newTypeId));
        res.failMemszAdjust = !ok;
      }
    } else if (isTypeBased(kind)) {
      const o = calcType(kind, local);
      res.origVal = o.val;
      res.validate = o.validate;
      res.newVal = calcType(kind, target).val;
    } else if (isEnumvalBased(kind)) {
      res.origVal = calcEnumval(kind, local);
      res.newVal = calcEnumval(kind, target);
    } else {
      throw new CoreReloError(`unknown CO-RE relocation kind ${kind}`);
    }
  } catch (e) {
    if (!(e instanceof Poison)) throw e;
    res.poison = true;
  }
  return res;
}
