// bpf_attr for the map commands: MAP_CREATE, and the element commands
// (MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM, MAP_GET_NEXT_KEY, MAP_FREEZE).
import { defineLayout, encode } from './layout';

export const MAP_CREATE_LAYOUT = defineLayout('bpf_attr.map_create', 'union bpf_attr', '', [
  ['map_type', 'u32'],
  ['key_size', 'u32'],
  ['value_size', 'u32'],
  ['max_entries', 'u32'],
  ['map_flags', 'u32'],
  ['inner_map_fd', 'u32'],
  ['numa_node', 'u32'],
  ['map_name', 'char[16]'],
  ['map_ifindex', 'u32'],
  ['btf_fd', 'u32'],
  ['btf_key_type_id', 'u32'],
  ['btf_value_type_id', 'u32'],
  ['btf_vmlinux_value_type_id', 'u32'],
  ['map_extra', 'u64'],
  ['value_type_btf_obj_fd', 's32'],
  ['map_token_fd', 's32'],
] as const);

/** What BPF_MAP_CREATE takes; absent fields are zero. */
export interface MapCreateAttr {
  readonly map_type: number;
  readonly key_size: number;
  readonly value_size: number;
  readonly max_entries: number;
  readonly map_flags?: number;
  /** For *_OF_MAPS: an FD of a map shaped like the inner maps. */
  readonly inner_map_fd?: number;
  /** Used only with BPF_F_NUMA_NODE in map_flags. */
  readonly numa_node?: number;
  /** Up to 15 characters of [A-Za-z0-9_.]. */
  readonly map_name?: string;
  readonly map_ifindex?: number;
  readonly btf_fd?: number;
  readonly btf_key_type_id?: number;
  readonly btf_value_type_id?: number;
  /** STRUCT_OPS: the kernel's `bpf_struct_ops_<name>` type id in vmlinux or a module. */
  readonly btf_vmlinux_value_type_id?: number;
  readonly map_extra?: bigint;
  /** STRUCT_OPS of a module type: that module's BTF FD (with BPF_F_VTYPE_BTF_OBJ_FD). */
  readonly value_type_btf_obj_fd?: number;
  readonly map_token_fd?: number;
}

export function encodeMapCreate(a: MapCreateAttr): Buffer {
  return encode(MAP_CREATE_LAYOUT, { ...a });
}

export const MAP_ELEM_LAYOUT = defineLayout('bpf_attr.map_elem', 'union bpf_attr', '', [
  ['map_fd', 'u32'],
  ['key', 'ptr'],
  ['value', 'ptr'],
  ['next_key', 'ptr', { at: 'value' }],
  ['flags', 'u64'],
] as const);

/** Element commands: addresses of the key and value (or next key) buffers. */
export interface MapElemAttr {
  readonly map_fd: number;
  readonly key?: bigint;
  readonly value?: bigint;
  readonly next_key?: bigint;
  readonly flags?: number | bigint;
}

export function encodeMapElem(a: MapElemAttr): Buffer {
  return encode(MAP_ELEM_LAYOUT, { ...a });
}

export const MAP_BATCH_LAYOUT = defineLayout('bpf_attr.batch', 'union bpf_attr', 'batch', [
  ['in_batch', 'ptr'],
  ['out_batch', 'ptr'],
  ['keys', 'ptr'],
  ['values', 'ptr'],
  ['count', 'u32'],
  ['map_fd', 'u32'],
  ['elem_flags', 'u64'],
  ['flags', 'u64'],
] as const);

/** BPF_MAP_*_BATCH: the batch cursor buffers, key/value arrays and how many elements fit. */
export interface MapBatchAttr {
  readonly in_batch?: bigint;
  readonly out_batch: bigint;
  readonly keys: bigint;
  readonly values: bigint;
  readonly count: number;
  readonly map_fd: number;
  readonly elem_flags?: number | bigint;
}

export function encodeMapBatch(a: MapBatchAttr): Buffer {
  return encode(MAP_BATCH_LAYOUT, { ...a });
}
