// bpf_attr for pinning (OBJ_PIN, OBJ_GET) and for walking kernel objects by id
// (*_GET_NEXT_ID, *_GET_FD_BY_ID), plus OBJ_GET_INFO_BY_FD's small header.
import { defineLayout, encode } from './layout';

export const OBJ_LAYOUT = defineLayout('bpf_attr.obj', 'union bpf_attr', '', [
  ['pathname', 'ptr'],
  ['bpf_fd', 'u32'],
  ['file_flags', 'u32'],
  ['path_fd', 's32'],
] as const);

export interface ObjAttrRaw {
  readonly pathname: bigint;
  readonly bpf_fd?: number;
  readonly file_flags?: number;
  readonly path_fd?: number;
}

export function encodeObj(a: ObjAttrRaw): Buffer {
  return encode(OBJ_LAYOUT, { ...a });
}

export const GET_ID_LAYOUT = defineLayout('bpf_attr.get_id', 'union bpf_attr', '', [
  ['start_id', 'u32'],
  ['prog_id', 'u32', { at: 'start_id' }],
  ['map_id', 'u32', { at: 'start_id' }],
  ['btf_id', 'u32', { at: 'start_id' }],
  ['link_id', 'u32', { at: 'start_id' }],
  ['next_id', 'u32'],
  ['open_flags', 'u32'],
  ['fd_by_id_token_fd', 's32'],
] as const);

/** *_GET_NEXT_ID (start_id) and *_GET_FD_BY_ID (the id, in the same field). */
export function encodeGetId(a: { readonly start_id: number; readonly open_flags?: number }): Buffer {
  return encode(GET_ID_LAYOUT, { ...a });
}

export const INFO_ATTR_LAYOUT = defineLayout('bpf_attr.info', 'union bpf_attr', 'info', [
  ['bpf_fd', 'u32'],
  ['info_len', 'u32'],
  ['info', 'ptr'],
] as const);

export function encodeInfoAttr(a: { readonly bpf_fd: number; readonly info_len: number; readonly info: bigint }): Buffer {
  return encode(INFO_ATTR_LAYOUT, { ...a });
}

export const ENABLE_STATS_LAYOUT = defineLayout('bpf_attr.enable_stats', 'union bpf_attr', 'enable_stats', [['type', 'u32']] as const);

export function encodeEnableStats(type: number): Buffer {
  return encode(ENABLE_STATS_LAYOUT, { type });
}
