// struct perf_event_attr (include/uapi/linux/perf_event.h) up to PERF_ATTR_SIZE_VER5, as
// libbpf fills it for tracepoint, kprobe/uprobe PMU and sampling events.
import { defineLayout, encode, writeField } from './layout';

export const PERF_EVENT_ATTR_LAYOUT = defineLayout('perf_event_attr', 'struct perf_event_attr', '', [
  ['type', 'u32'],
  ['size', 'u32'],
  ['config', 'u64'],
  ['sample_period', 'u64'],
  ['sample_freq', 'u64', { at: 'sample_period' }],
  ['sample_type', 'u64'],
  ['read_format', 'u64'],
  // The word of single-bit flags (disabled:1, inherit:1, ... freq:1 ...): no offsetof for bitfields.
  ['flags_word', 'u64'],
  ['wakeup_events', 'u32'],
  ['wakeup_watermark', 'u32', { at: 'wakeup_events' }],
  ['bp_type', 'u32'],
  ['config1', 'u64'],
  ['uprobe_path', 'u64', { at: 'config1' }],
  ['kprobe_func', 'u64', { at: 'config1' }],
  ['config2', 'u64'],
  ['probe_offset', 'u64', { at: 'config2' }],
  ['kprobe_addr', 'u64', { at: 'config2' }],
  ['branch_sample_type', 'u64'],
  ['sample_regs_user', 'u64'],
  ['sample_stack_user', 'u32'],
  ['clockid', 's32'],
  ['sample_regs_intr', 'u64'],
  ['aux_watermark', 'u32'],
] as const);

/** PERF_ATTR_SIZE_VER5: what BPF Lens passes as attr.size (every kernel since 4.1 takes it). */
export const PERF_ATTR_SIZE = 112;

/** Bits of flags_word (the order of the bitfields in the UAPI struct). */
export const PERF_ATTR_FLAG = {
  disabled: 1n << 0n,
  inherit: 1n << 1n,
  exclude_kernel: 1n << 5n,
  freq: 1n << 10n,
  use_clockid: 1n << 25n,
} as const;

export interface PerfEventAttrRaw {
  readonly type: number;
  readonly config?: bigint;
  readonly sample_period?: bigint;
  readonly sample_freq?: bigint;
  readonly sample_type?: bigint;
  readonly flags_word?: bigint;
  readonly wakeup_events?: number;
  readonly config1?: bigint;
  readonly config2?: bigint;
  readonly clockid?: number;
}

export function encodePerfEventAttr(a: PerfEventAttrRaw): Buffer {
  if (a.sample_period !== undefined && a.sample_freq !== undefined)
    throw new Error('perf_event_attr: sample_period and sample_freq share one field; give one');
  const buf = Buffer.alloc(PERF_ATTR_SIZE);
  buf.set(encode(PERF_EVENT_ATTR_LAYOUT, { ...a }));
  writeField(buf, PERF_EVENT_ATTR_LAYOUT.field('size'), PERF_ATTR_SIZE);
  return buf;
}
