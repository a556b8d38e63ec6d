// BTF types as the kernel's include/uapi/linux/btf.h defines them, as a discriminated
// union on `kind` (the BTF_KIND_* name without its prefix, as bpftool prints it).

export type TypeId = number;

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const BTF_HEADER_SIZE = 24;

export const BTF_KIND_UNKN = 0;
export const BTF_KIND_INT = 1;
export const BTF_KIND_PTR = 2;
export const BTF_KIND_ARRAY = 3;
export const BTF_KIND_STRUCT = 4;
export const BTF_KIND_UNION = 5;
export const BTF_KIND_ENUM = 6;
export const BTF_KIND_FWD = 7;
export const BTF_KIND_TYPEDEF = 8;
export const BTF_KIND_VOLATILE = 9;
export const BTF_KIND_CONST = 10;
export const BTF_KIND_RESTRICT = 11;
export const BTF_KIND_FUNC = 12;
export const BTF_KIND_FUNC_PROTO = 13;
export const BTF_KIND_VAR = 14;
export const BTF_KIND_DATASEC = 15;
export const BTF_KIND_FLOAT = 16;
export const BTF_KIND_DECL_TAG = 17;
export const BTF_KIND_TYPE_TAG = 18;
export const BTF_KIND_ENUM64 = 19;
export const BTF_KIND_MAX = BTF_KIND_ENUM64;

export const KIND_NAMES = [
  'UNKNOWN',
  'INT',
  'PTR',
  'ARRAY',
  'STRUCT',
  'UNION',
  'ENUM',
  'FWD',
  'TYPEDEF',
  'VOLATILE',
  'CONST',
  'RESTRICT',
  'FUNC',
  'FUNC_PROTO',
  'VAR',
  'DATASEC',
  'FLOAT',
  'DECL_TAG',
  'TYPE_TAG',
  'ENUM64',
] as const;

export type KindName = Exclude<(typeof KIND_NAMES)[number], 'UNKNOWN'>;

export function kindNumber(kind: KindName): number {
  return KIND_NAMES.indexOf(kind);
}

// BTF_INT_ENCODING bits
export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;

// BTF_FUNC_* linkage (FUNC vlen)
export const BTF_FUNC_STATIC = 0;
export const BTF_FUNC_GLOBAL = 1;
export const BTF_FUNC_EXTERN = 2;

// BTF_VAR_* linkage
export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

interface Named {
  readonly id: TypeId;
  /** '' for anonymous types. */
  readonly name: string;
  /** Offset of `name` in the string section (kept so parse → write is byte-identical). */
  readonly nameOff: number;
  /** The raw kind_flag bit; its meaning depends on the kind (see the fields below). */
  readonly kindFlag: boolean;
}

export interface BtfInt extends Named {
  readonly kind: 'INT';
  readonly size: number;
  /** BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL */
  readonly encoding: number;
  readonly bitsOffset: number;
  readonly bits: number;
}

export interface BtfPtr extends Named {
  readonly kind: 'PTR';
  readonly type: TypeId;
}
export interface BtfTypedef extends Named {
  readonly kind: 'TYPEDEF';
  readonly type: TypeId;
}
export interface BtfVolatile extends Named {
  readonly kind: 'VOLATILE';
  readonly type: TypeId;
}
export interface BtfConst extends Named {
  readonly kind: 'CONST';
  readonly type: TypeId;
}
export interface BtfRestrict extends Named {
  readonly kind: 'RESTRICT';
  readonly type: TypeId;
}
export interface BtfTypeTag extends Named {
  readonly kind: 'TYPE_TAG';
  readonly type: TypeId;
}

export interface BtfArray extends Named {
  readonly kind: 'ARRAY';
  readonly type: TypeId;
  readonly indexType: TypeId;
  readonly nelems: number;
}

export interface BtfMember {
  readonly name: string;
  readonly nameOff: number;
  readonly type: TypeId;
  /** Bit offset from the start of the struct. */
  readonly bitsOffset: number;
  /** Non-zero only for bitfields of a kind_flag struct/union. */
  readonly bitfieldSize: number;
}

/** kindFlag set: member offsets carry bitfield sizes in their top 8 bits. */
export interface BtfStruct extends Named {
  readonly kind: 'STRUCT';
  readonly size: number;
  readonly members: readonly BtfMember[];
}
export interface BtfUnion extends Named {
  readonly kind: 'UNION';
  readonly size: number;
  readonly members: readonly BtfMember[];
}

export interface BtfEnumValue {
  readonly name: string;
  readonly nameOff: number;
  readonly value: number;
}
export interface BtfEnum64Value {
  readonly name: string;
  readonly nameOff: number;
  readonly value: bigint;
}

/** kindFlag set: values are signed. */
export interface BtfEnum extends Named {
  readonly kind: 'ENUM';
  readonly size: number;
  readonly values: readonly BtfEnumValue[];
}
export interface BtfEnum64 extends Named {
  readonly kind: 'ENUM64';
  readonly size: number;
  readonly values: readonly BtfEnum64Value[];
}

/** kindFlag set: forward declaration of a union (else of a struct). */
export interface BtfFwd extends Named {
  readonly kind: 'FWD';
}

export interface BtfFunc extends Named {
  readonly kind: 'FUNC';
  readonly type: TypeId;
  readonly linkage: number;
}

export interface BtfParam {
  readonly name: string;
  readonly nameOff: number;
  readonly type: TypeId;
}
export interface BtfFuncProto extends Named {
  readonly kind: 'FUNC_PROTO';
  /** Return type (0 = void). */
  readonly type: TypeId;
  readonly params: readonly BtfParam[];
}

export interface BtfVar extends Named {
  readonly kind: 'VAR';
  readonly type: TypeId;
  readonly linkage: number;
}

export interface BtfVarSecinfo {
  readonly type: TypeId;
  readonly offset: number;
  readonly size: number;
}
export interface BtfDatasec extends Named {
  readonly kind: 'DATASEC';
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}

export interface BtfFloat extends Named {
  readonly kind: 'FLOAT';
  readonly size: number;
}

/** componentIdx -1: the tag applies to the type itself, else to member/param `componentIdx`. */
export interface BtfDeclTag extends Named {
  readonly kind: 'DECL_TAG';
  readonly type: TypeId;
  readonly componentIdx: number;
}

export type BtfType =
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfStruct
  | BtfUnion
  | BtfEnum
  | BtfFwd
  | BtfTypedef
  | BtfVolatile
  | BtfConst
  | BtfRestrict
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag
  | BtfTypeTag
  | BtfEnum64;

export type BtfComposite = BtfStruct | BtfUnion;

/** A type without its id, as given to BtfBuilder. */
export type NewType = BtfType extends infer T ? (T extends BtfType ? Omit<T, 'id'> : never) : never;

/** Kinds whose `type` field is a plain reference. */
export type BtfRefType = BtfPtr | BtfTypedef | BtfVolatile | BtfConst | BtfRestrict | BtfTypeTag;

export function isModifier(t: BtfType): t is BtfVolatile | BtfConst | BtfRestrict | BtfTypeTag {
  return t.kind === 'VOLATILE' || t.kind === 'CONST' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG';
}

export function isComposite(t: BtfType): t is BtfComposite {
  return t.kind === 'STRUCT' || t.kind === 'UNION';
}

export function isEnum(t: BtfType): t is BtfEnum | BtfEnum64 {
  return t.kind === 'ENUM' || t.kind === 'ENUM64';
}

/** Every type id a type refers to (for validation, closure walks and id remapping). */
export function referencedIds(t: BtfType): TypeId[] {
  switch (t.kind) {
    case 'PTR':
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT':
    case 'TYPE_TAG':
    case 'FUNC':
    case 'VAR':
    case 'DECL_TAG':
      return [t.type];
    case 'ARRAY':
      return [t.type, t.indexType];
    case 'STRUCT':
    case 'UNION':
      return t.members.map((m) => m.type);
    case 'FUNC_PROTO':
      return [t.type, ...t.params.map((p) => p.type)];
    case 'DATASEC':
      return t.vars.map((v) => v.type);
    default:
      return [];
  }
}

/** A copy of `t` with every type reference passed through `map`. */
export function mapTypeIds<T extends BtfType | NewType>(t: T, map: (id: TypeId) => TypeId): T {
  const u = t as BtfType;
  switch (u.kind) {
    case 'PTR':
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT':
    case 'TYPE_TAG':
    case 'FUNC':
    case 'VAR':
    case 'DECL_TAG':
      return { ...t, type: map(u.type) };
    case 'ARRAY':
      return { ...t, type: map(u.type), indexType: map(u.indexType) };
    case 'STRUCT':
    case 'UNION':
      return { ...t, members: u.members.map((m) => ({ ...m, type: map(m.type) })) };
    case 'FUNC_PROTO':
      return { ...t, type: map(u.type), params: u.params.map((p) => ({ ...p, type: map(p.type) })) };
    case 'DATASEC':
      return { ...t, vars: u.vars.map((v) => ({ ...v, type: map(v.type) })) };
    default:
      return t;
  }
}
