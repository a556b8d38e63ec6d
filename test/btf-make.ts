// Terse builders for hand-made BTF in the distill/relocate tests.
import { type BtfBuilder } from '../server/src/btf/write';
import { type BtfMember, type TypeId } from '../server/src/btf/types';

export const SIGNED = 1;

/** Adds types to a builder with short calls; every call returns the new id. */
export function maker(b: BtfBuilder) {
  const n = { nameOff: 0, kindFlag: false };
  const mem = (name: string, type: TypeId, bitsOffset = 0): BtfMember => ({ name, nameOff: 0, type, bitsOffset, bitfieldSize: 0 });
  return {
    mem,
    int: (name: string, size: number, encoding = 0) => b.add({ kind: 'INT', name, ...n, size, encoding, bitsOffset: 0, bits: size * 8 }),
    float: (name: string, size: number) => b.add({ kind: 'FLOAT', name, ...n, size }),
    struct: (name: string, size: number, members: BtfMember[] = [], kindFlag = false) =>
      b.add({ kind: 'STRUCT', name, ...n, kindFlag, size, members }),
    union: (name: string, size: number, members: BtfMember[] = [], kindFlag = false) =>
      b.add({ kind: 'UNION', name, ...n, kindFlag, size, members }),
    enum: (name: string, size: number, values: [string, number][] = []) =>
      b.add({ kind: 'ENUM', name, ...n, size, values: values.map(([vn, value]) => ({ name: vn, nameOff: 0, value })) }),
    enum64: (name: string, values: [string, bigint][] = []) =>
      b.add({ kind: 'ENUM64', name, ...n, size: 8, values: values.map(([vn, value]) => ({ name: vn, nameOff: 0, value })) }),
    fwd: (name: string, union = false) => b.add({ kind: 'FWD', name, ...n, kindFlag: union }),
    ptr: (type: TypeId) => b.add({ kind: 'PTR', name: '', ...n, type }),
    konst: (type: TypeId) => b.add({ kind: 'CONST', name: '', ...n, type }),
    volatile: (type: TypeId) => b.add({ kind: 'VOLATILE', name: '', ...n, type }),
    typedef: (name: string, type: TypeId) => b.add({ kind: 'TYPEDEF', name, ...n, type }),
    typeTag: (name: string, type: TypeId) => b.add({ kind: 'TYPE_TAG', name, ...n, type }),
    array: (type: TypeId, indexType: TypeId, nelems: number) => b.add({ kind: 'ARRAY', name: '', ...n, type, indexType, nelems }),
    proto: (ret: TypeId, params: TypeId[]) =>
      b.add({ kind: 'FUNC_PROTO', name: '', ...n, type: ret, params: params.map((type, i) => ({ name: `a${i}`, nameOff: 0, type })) }),
    func: (name: string, proto: TypeId) => b.add({ kind: 'FUNC', name, ...n, type: proto, linkage: 1 }),
    declTag: (name: string, type: TypeId, componentIdx = -1) => b.add({ kind: 'DECL_TAG', name, ...n, type, componentIdx }),
  };
}
