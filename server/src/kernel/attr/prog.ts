// bpf_attr for BPF_PROG_LOAD.
import { defineLayout, encode } from './layout';

export const PROG_LOAD_LAYOUT = defineLayout('bpf_attr.prog_load', 'union bpf_attr', '', [
  ['prog_type', 'u32'],
  ['insn_cnt', 'u32'],
  ['insns', 'ptr'],
  ['license', 'ptr'],
  ['log_level', 'u32'],
  ['log_size', 'u32'],
  ['log_buf', 'ptr'],
  ['kern_version', 'u32'],
  ['prog_flags', 'u32'],
  ['prog_name', 'char[16]'],
  ['prog_ifindex', 'u32'],
  ['expected_attach_type', 'u32'],
  ['prog_btf_fd', 'u32'],
  ['func_info_rec_size', 'u32'],
  ['func_info', 'ptr'],
  ['func_info_cnt', 'u32'],
  ['line_info_rec_size', 'u32'],
  ['line_info', 'ptr'],
  ['line_info_cnt', 'u32'],
  ['attach_btf_id', 'u32'],
  ['attach_prog_fd', 'u32'],
  ['attach_btf_obj_fd', 'u32', { at: 'attach_prog_fd' }],
  ['core_relo_cnt', 'u32'],
  ['fd_array', 'ptr'],
  ['core_relos', 'ptr'],
  ['core_relo_rec_size', 'u32'],
  ['log_true_size', 'u32'],
  ['prog_token_fd', 's32'],
  ['fd_array_cnt', 'u32'],
] as const);

/** BPF_PROG_LOAD's fields with addresses already resolved (see prog.ts for the friendly form). */
export interface ProgLoadAttrRaw {
  readonly prog_type: number;
  readonly insn_cnt: number;
  readonly insns: bigint;
  readonly license: bigint;
  readonly log_level?: number;
  readonly log_size?: number;
  readonly log_buf?: bigint;
  readonly kern_version?: number;
  readonly prog_flags?: number;
  readonly prog_name?: string;
  readonly prog_ifindex?: number;
  readonly expected_attach_type?: number;
  readonly prog_btf_fd?: number;
  readonly func_info_rec_size?: number;
  readonly func_info?: bigint;
  readonly func_info_cnt?: number;
  readonly line_info_rec_size?: number;
  readonly line_info?: bigint;
  readonly line_info_cnt?: number;
  readonly attach_btf_id?: number;
  readonly attach_prog_fd?: number;
  readonly attach_btf_obj_fd?: number;
  readonly fd_array?: bigint;
  readonly fd_array_cnt?: number;
  readonly prog_token_fd?: number;
}

export function encodeProgLoad(a: ProgLoadAttrRaw): Buffer {
  if (a.attach_prog_fd && a.attach_btf_obj_fd) throw new Error('PROG_LOAD: attach_prog_fd and attach_btf_obj_fd share one field; give one');
  return encode(PROG_LOAD_LAYOUT, { ...a });
}

/** Offset of log_true_size: the kernel writes the full log length there (6.4+). */
export const LOG_TRUE_SIZE = PROG_LOAD_LAYOUT.field('log_true_size');

export const PROG_BIND_MAP_LAYOUT = defineLayout('bpf_attr.prog_bind_map', 'union bpf_attr', 'prog_bind_map', [
  ['prog_fd', 'u32'],
  ['map_fd', 'u32'],
  ['flags', 'u32'],
] as const);

export function encodeProgBindMap(a: { prog_fd: number; map_fd: number }): Buffer {
  return encode(PROG_BIND_MAP_LAYOUT, { ...a });
}
