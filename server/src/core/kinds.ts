// CO-RE relocation kinds (enum bpf_core_relo_kind in the kernel's uapi/linux/bpf.h) and the
// three families libbpf sorts them into: field-, type- and enum-value-based.

export const BPF_CORE_FIELD_BYTE_OFFSET = 0;
export const BPF_CORE_FIELD_BYTE_SIZE = 1;
export const BPF_CORE_FIELD_EXISTS = 2;
export const BPF_CORE_FIELD_SIGNED = 3;
export const BPF_CORE_FIELD_LSHIFT_U64 = 4;
export const BPF_CORE_FIELD_RSHIFT_U64 = 5;
export const BPF_CORE_TYPE_ID_LOCAL = 6;
export const BPF_CORE_TYPE_ID_TARGET = 7;
export const BPF_CORE_TYPE_EXISTS = 8;
export const BPF_CORE_TYPE_SIZE = 9;
export const BPF_CORE_ENUMVAL_EXISTS = 10;
export const BPF_CORE_ENUMVAL_VALUE = 11;
export const BPF_CORE_TYPE_MATCHES = 12;

/** UAPI names without the BPF_CORE_ prefix, indexed by kind. */
export const CORE_KIND_NAMES = [
  'FIELD_BYTE_OFFSET',
  'FIELD_BYTE_SIZE',
  'FIELD_EXISTS',
  'FIELD_SIGNED',
  'FIELD_LSHIFT_U64',
  'FIELD_RSHIFT_U64',
  'TYPE_ID_LOCAL',
  'TYPE_ID_TARGET',
  'TYPE_EXISTS',
  'TYPE_SIZE',
  'ENUMVAL_EXISTS',
  'ENUMVAL_VALUE',
  'TYPE_MATCHES',
] as const;

export type CoreKindName = (typeof CORE_KIND_NAMES)[number];

/** The short names libbpf prints in its debug log (`<byte_off>`), indexed by kind. */
const LIBBPF_NAMES = [
  'byte_off',
  'byte_sz',
  'field_exists',
  'signed',
  'lshift_u64',
  'rshift_u64',
  'local_type_id',
  'target_type_id',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
];

export function coreKindName(kind: number): CoreKindName | `UNKNOWN(${number})` {
  return CORE_KIND_NAMES[kind] ?? `UNKNOWN(${kind})`;
}

export function libbpfKindName(kind: number): string {
  return LIBBPF_NAMES[kind] ?? 'unknown';
}

export function isFieldBased(kind: number): boolean {
  return kind >= BPF_CORE_FIELD_BYTE_OFFSET && kind <= BPF_CORE_FIELD_RSHIFT_U64;
}

export function isTypeBased(kind: number): boolean {
  return (kind >= BPF_CORE_TYPE_ID_LOCAL && kind <= BPF_CORE_TYPE_SIZE) || kind === BPF_CORE_TYPE_MATCHES;
}

export function isEnumvalBased(kind: number): boolean {
  return kind === BPF_CORE_ENUMVAL_EXISTS || kind === BPF_CORE_ENUMVAL_VALUE;
}
