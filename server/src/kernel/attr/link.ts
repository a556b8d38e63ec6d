// bpf_attr for LINK_CREATE, PROG_ATTACH/DETACH, ITER_CREATE, LINK_DETACH, RAW_TRACEPOINT_OPEN and PROG_TEST_RUN.
import { defineLayout, encode } from './layout';

export const LINK_CREATE_LAYOUT = defineLayout('bpf_attr.link_create', 'union bpf_attr', 'link_create', [
  ['prog_fd', 'u32'],
  ['map_fd', 'u32', { at: 'prog_fd' }],
  ['target_fd', 'u32'],
  ['target_ifindex', 'u32', { at: 'target_fd' }],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
  // One union of per-type tails; only the members BPF Lens fills are listed.
  ['target_btf_id', 'u32'],
  ['iter_info', 'ptr', { at: 'target_btf_id' }],
  ['iter_info_len', 'u32'],
  ['perf_event.bpf_cookie', 'u64', { at: 'iter_info' }],
  ['kprobe_multi.flags', 'u32', { at: 'iter_info' }],
  ['kprobe_multi.cnt', 'u32'],
  ['kprobe_multi.syms', 'ptr'],
  ['kprobe_multi.addrs', 'ptr'],
  ['kprobe_multi.cookies', 'ptr'],
  ['tracing.target_btf_id', 'u32', { at: 'iter_info' }],
  ['tracing.cookie', 'u64'],
  ['tcx.relative_fd', 'u32', { at: 'iter_info' }],
  ['tcx.relative_id', 'u32', { at: 'tcx.relative_fd' }],
  ['tcx.expected_revision', 'u64'],
  ['uprobe_multi.path', 'ptr', { at: 'iter_info' }],
  ['uprobe_multi.offsets', 'ptr'],
  ['uprobe_multi.ref_ctr_offsets', 'ptr'],
  ['uprobe_multi.cookies', 'ptr'],
  ['uprobe_multi.cnt', 'u32'],
  ['uprobe_multi.flags', 'u32'],
  ['uprobe_multi.pid', 'u32'],
] as const);

type LinkCreateField = (typeof LINK_CREATE_LAYOUT.fields)[number]['name'];

/** BPF_LINK_CREATE's fields by their UAPI names, addresses already resolved (links.ts builds them). */
export type LinkCreateAttrRaw = { readonly prog_fd: number; readonly attach_type: number } & Partial<
  Record<LinkCreateField, number | bigint>
>;

export function encodeLinkCreate(a: LinkCreateAttrRaw): Buffer {
  if (a.target_fd !== undefined && a.target_ifindex !== undefined)
    throw new Error('LINK_CREATE: target_fd and target_ifindex share one field; give one');
  const { target_fd, target_ifindex, ...rest } = a;
  return encode(LINK_CREATE_LAYOUT, { ...rest, target_fd: target_fd ?? target_ifindex });
}

export const PROG_ATTACH_LAYOUT = defineLayout('bpf_attr.prog_attach', 'union bpf_attr', '', [
  ['target_fd', 'u32'],
  ['target_ifindex', 'u32', { at: 'target_fd' }],
  ['attach_bpf_fd', 'u32'],
  ['attach_type', 'u32'],
  ['attach_flags', 'u32'],
  ['replace_bpf_fd', 'u32'],
  ['relative_fd', 'u32'],
  ['relative_id', 'u32', { at: 'relative_fd' }],
  ['expected_revision', 'u64'],
] as const);

/** BPF_PROG_ATTACH / BPF_PROG_DETACH: a program on a cgroup, netns, sockmap or (legacy) interface. */
export interface ProgAttachAttr {
  readonly target_fd: number;
  readonly attach_bpf_fd: number;
  readonly attach_type: number;
  readonly attach_flags?: number;
  readonly replace_bpf_fd?: number;
}

export function encodeProgAttach(a: ProgAttachAttr): Buffer {
  return encode(PROG_ATTACH_LAYOUT, { ...a });
}

export const ITER_CREATE_LAYOUT = defineLayout('bpf_attr.iter_create', 'union bpf_attr', 'iter_create', [
  ['link_fd', 'u32'],
  ['flags', 'u32'],
] as const);

export const LINK_DETACH_LAYOUT = defineLayout('bpf_attr.link_detach', 'union bpf_attr', 'link_detach', [['link_fd', 'u32']] as const);

export const RAW_TRACEPOINT_LAYOUT = defineLayout('bpf_attr.raw_tracepoint', 'union bpf_attr', 'raw_tracepoint', [
  ['name', 'ptr'],
  ['prog_fd', 'u32'],
  ['cookie', 'u64'],
] as const);

export function encodeRawTracepoint(a: { readonly name: bigint; readonly prog_fd: number; readonly cookie?: bigint }): Buffer {
  return encode(RAW_TRACEPOINT_LAYOUT, { ...a });
}

export const TEST_RUN_LAYOUT = defineLayout('bpf_attr.test', 'union bpf_attr', 'test', [
  ['prog_fd', 'u32'],
  ['retval', 'u32'],
  ['data_size_in', 'u32'],
  ['data_size_out', 'u32'],
  ['data_in', 'ptr'],
  ['data_out', 'ptr'],
  ['repeat', 'u32'],
  ['duration', 'u32'],
  ['ctx_size_in', 'u32'],
  ['ctx_size_out', 'u32'],
  ['ctx_in', 'ptr'],
  ['ctx_out', 'ptr'],
  ['flags', 'u32'],
  ['cpu', 'u32'],
  ['batch_size', 'u32'],
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
