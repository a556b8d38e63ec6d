// bpf_attr for LINK_CREATE, RAW_TRACEPOINT_OPEN and PROG_TEST_RUN.
import { defineLayout, encode } from './layout';

export const LINK_CREATE_LAYOUT = defineLayout('bpf_attr.link_create', 'union bpf_attr', 'link_create', [
  ['prog_fd', 'u32'], ['map_fd', 'u32', { at: 'prog_fd' }],
  ['target_fd', 'u32'], ['target_ifindex', 'u32', { at: 'target_fd' }],
  ['attach_type', 'u32'], ['flags', 'u32'],
  // One union of per-type tails; only the members BPF Lens fills are listed.
  ['target_btf_id', 'u32'], ['iter_info', 'ptr', { at: 'target_btf_id' }], ['iter_info_len', 'u32'],
  ['perf_event.bpf_cookie', 'u64', { at: 'iter_info' }],
  ['tracing.target_btf_id', 'u32', { at: 'iter_info' }], ['tracing.cookie', 'u64'],
] as const);

export interface LinkCreateAttr {
  /** The program (or, for struct_ops links, the map) to attach. */
  readonly prog_fd: number;
  /** Cgroup/netns/prog FD, or ifindex for XDP/tcx. */
  readonly target_fd?: number;
  readonly target_ifindex?: number;
  readonly attach_type: number;
  readonly flags?: number;
  /** freplace: the BTF FUNC id of the replaced function in the target program. */
  readonly target_btf_id?: number;
  readonly iter_info?: bigint;
  readonly iter_info_len?: number;
  readonly 'perf_event.bpf_cookie'?: bigint;
  readonly 'tracing.cookie'?: bigint;
}

export function encodeLinkCreate(a: LinkCreateAttr): Buffer {
  if (a.target_fd !== undefined && a.target_ifindex !== undefined) throw new Error('LINK_CREATE: target_fd and target_ifindex share one field; give one');
  const { target_fd, target_ifindex, ...rest } = a;
  return encode(LINK_CREATE_LAYOUT, { ...rest, target_fd: target_fd ?? target_ifindex });
}

export const RAW_TRACEPOINT_LAYOUT = defineLayout('bpf_attr.raw_tracepoint', 'union bpf_attr', 'raw_tracepoint', [
  ['name', 'ptr'], ['prog_fd', 'u32'], ['cookie', 'u64'],
] as const);

export function encodeRawTracepoint(a: { readonly name: bigint; readonly prog_fd: number; readonly cookie?: bigint }): Buffer {
  return encode(RAW_TRACEPOINT_LAYOUT, { ...a });
}

export const TEST_RUN_LAYOUT = defineLayout('bpf_attr.test', 'union bpf_attr', 'test', [
  ['prog_fd', 'u32'], ['retval', 'u32'], ['data_size_in', 'u32'], ['data_size_out', 'u32'],
  ['data_in', 'ptr'], ['data_out', 'ptr'], ['repeat', 'u32'], ['duration', 'u32'],
  ['ctx_size_in', 'u32'], ['ctx_size_out', 'u32'], ['ctx_in', 'ptr'], ['ctx_out', 'ptr'],
  ['flags', 'u32'], ['cpu', 'u32'], ['batch_size', 'u32'],
] as const);

export interface TestRunAttrRaw {
  readonly prog_fd: number;
  readonly data_size_in?: number;
  readonly data_size_out?: number;
  readonly data_in?: bigint;
  readonly data_out?: bigint;
  readonly repeat?: number;
  readonly ctx_size_in?: number;
  readonly ctx_size_out?: number;
  readonly ctx_in?: bigint;
  readonly ctx_out?: bigint;
  readonly flags?: number;
  readonly cpu?: number;
  readonly batch_size?: number;
}

export function encodeTestRun(a: TestRunAttrRaw): Buffer {
  return encode(TEST_RUN_LAYOUT, { ...a });
}
