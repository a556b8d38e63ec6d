// bpf_attr for BPF_BTF_LOAD.
import { defineLayout, encode } from './layout';

export const BTF_LOAD_LAYOUT = defineLayout('bpf_attr.btf_load', 'union bpf_attr', '', [
  ['btf', 'ptr'],
  ['btf_log_buf', 'ptr'],
  ['btf_size', 'u32'],
  ['btf_log_size', 'u32'],
  ['btf_log_level', 'u32'],
  ['btf_log_true_size', 'u32'],
  ['btf_flags', 'u32'],
  ['btf_token_fd', 's32'],
] as const);

export interface BtfLoadAttrRaw {
  readonly btf: bigint;
  readonly btf_size: number;
  readonly btf_log_buf?: bigint;
  readonly btf_log_size?: number;
  readonly btf_log_level?: number;
  readonly btf_flags?: number;
  readonly btf_token_fd?: number;
}

export function encodeBtfLoad(a: BtfLoadAttrRaw): Buffer {
  return encode(BTF_LOAD_LAYOUT, { ...a });
}

export const BTF_LOG_TRUE_SIZE = BTF_LOAD_LAYOUT.field('btf_log_true_size');
