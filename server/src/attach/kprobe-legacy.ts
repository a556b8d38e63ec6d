/**
 * kprobes where the kernel has no kprobe PMU (or a test forces it): what libbpf's
 * perf_event_kprobe_open_legacy does. A uniquely named tracefs kprobe_events entry
 * (`bpflens_<pid>_<func>_0x<off>_<n>`, libbpf's form with our prefix), its tracepoint id, a
 * perf event on it; undone in the reverse order (the perf event closed before the entry goes:
 * the kernel refuses to remove a probe in use).
 */
import { PERF_TYPE, isKernelError, type Fd, type KernelOps } from '../kernel';
import type { AttachPlan } from './plan';

let index = 0;

/** libbpf's gen_kprobe_legacy_event_name, prefixed bpflens_: what is not alphanumeric becomes '_'. */
export function legacyKprobeName(func: string, offset: bigint, pid = process.pid, n = index++): string {
  return `bpflens_${pid}_${func}_0x${offset.toString(16)}_${n}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 63);
}

/** Creates the probe and opens its perf event (on CPU 0 for every process); undo steps via `undo`. */
export function legacyKprobeOpen(
  k: KernelOps,
  undo: (f: () => void) => void,
  plan: Extract<AttachPlan, { kind: 'kprobe' }>,
  what: string,
): Fd {
  const name = legacyKprobeName(plan.func, plan.offset);
  try {
    k.kprobeEventAdd(name, plan.func, plan.offset, plan.retprobe, what);
  } catch (e) {
    if (isKernelError(e, 'ENOENT') && /no tracefs kprobe_events/.test(e.message))
      throw new Error(
        `${what}: this kernel has no kprobe PMU (/sys/bus/event_source/devices/kprobe) nor tracefs kprobe_events: kprobes are off here (CONFIG_KPROBE_EVENTS, or lockdown)`,
        { cause: e },
      );
    throw e;
  }
  undo(() => k.kprobeEventRemove(name, plan.retprobe, what));
  const id = k.tracepointId(plan.retprobe ? 'kretprobes' : 'kprobes', name);
  const fd = k.perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: BigInt(id) }, -1, 0, what);
  undo(() => k.closeFd(fd));
  return fd;
}
