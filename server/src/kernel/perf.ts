// perf events for attaching: perf_event_open(2) for tracepoints, kprobe/uprobe PMU events and
// sampling events, and the ioctls that enable one or hand it a BPF program (libbpf's
// perf_event_open_tracepoint / perf_event_open_probe / bpf_program__attach_perf_event).
import { PERF_ATTR_FLAG, encodePerfEventAttr } from './attr/perf';
import { type Fd, addressOf, sysCall } from './sys';

export const PERF_TYPE = { HARDWARE: 0, SOFTWARE: 1, TRACEPOINT: 2, HW_CACHE: 3, RAW: 4, BREAKPOINT: 5 } as const;
export const PERF_COUNT_HW = {
  CPU_CYCLES: 0,
  INSTRUCTIONS: 1,
  CACHE_REFERENCES: 2,
  CACHE_MISSES: 3,
  BRANCH_INSTRUCTIONS: 4,
  BRANCH_MISSES: 5,
} as const;
export const PERF_COUNT_SW = {
  CPU_CLOCK: 0,
  TASK_CLOCK: 1,
  PAGE_FAULTS: 2,
  CONTEXT_SWITCHES: 3,
  CPU_MIGRATIONS: 4,
  BPF_OUTPUT: 10,
} as const;
/** PERF_SAMPLE_RAW: a sample carries the raw bytes bpf_perf_event_output gave. */
export const PERF_SAMPLE_RAW = 1n << 10n;
/** PERF_SAMPLE_TIME: a sample carries the event's time (u64 ns, before the raw bytes), on `clockid`'s clock when one is given. */
export const PERF_SAMPLE_TIME = 1n << 2n;
/** Clocks for `clockid` (use_clockid): CLOCK_REALTIME stamps in ns since the epoch. */
export const CLOCK_REALTIME = 0;

const PERF_FLAG_FD_CLOEXEC = 8;
/** _IO('$', 0), _IO('$', 1), _IOW('$', 8, __u32). */
export const PERF_EVENT_IOC = { ENABLE: 0x2400, DISABLE: 0x2401, SET_BPF: 0x40042408 } as const;
export type PerfIoctl = keyof typeof PERF_EVENT_IOC;

/** What to open: a PMU type and config, plus what each kind needs. */
export interface PerfEventSpec {
  readonly type: number;
  readonly config?: bigint;
  /** Sampling: every N events, or N times a second (`sampleFreq`). */
  readonly samplePeriod?: bigint;
  readonly sampleFreq?: bigint;
  /** kprobe/uprobe PMU: the kernel function name or the binary's path (config1). */
  readonly probeName?: string;
  /** kprobe/uprobe PMU: offset in the function or the file (config2). */
  readonly probeOffset?: bigint;
  /** What each sample record carries (PERF_SAMPLE_*). */
  readonly sampleType?: bigint;
  /** Wake a reader (poll/epoll) after this many samples. */
  readonly wakeupEvents?: number;
  /** Open disabled (enable with the ENABLE ioctl). */
  readonly disabled?: boolean;
  /** The clock of PERF_SAMPLE_TIME (use_clockid; the kernel takes CLOCK_REALTIME only for software events). */
  readonly clockid?: number;
}

/**
 * perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC). Tracepoint and probe events are
 * opened for every process on CPU 0 (pid -1, cpu 0) as libbpf does; sampling events per CPU.
 */
export function perfEventOpen(spec: PerfEventSpec, pid = -1, cpu = 0, context = ''): Fd {
  const name = spec.probeName !== undefined ? Buffer.from(`${spec.probeName}\0`) : undefined;
  let flags = 0n;
  if (spec.disabled) flags |= PERF_ATTR_FLAG.disabled;
  if (spec.sampleFreq !== undefined) flags |= PERF_ATTR_FLAG.freq;
  if (spec.clockid !== undefined) flags |= PERF_ATTR_FLAG.use_clockid;
  const attr = encodePerfEventAttr({
    type: spec.type,
    config: spec.config,
    sample_period: spec.samplePeriod,
    sample_freq: spec.sampleFreq,
    sample_type: spec.sampleType,
    flags_word: flags,
    config1: name ? addressOf(name) : undefined,
    config2: spec.probeOffset,
    clockid: spec.clockid,
    // Tracepoints: one sample per hit, as libbpf asks.
    wakeup_events: spec.wakeupEvents ?? (spec.type === PERF_TYPE.TRACEPOINT ? 1 : undefined),
  });
  const fd = sysCall('perf_event_open', 'perf_event_open', [attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC], true, context);
  void name; // keep the name's bytes alive until the call returned
  return fd;
}

/** PERF_EVENT_IOC_ENABLE / DISABLE / SET_BPF (arg: the program FD) on a perf event FD. */
export function perfEventIoctl(fd: Fd, op: PerfIoctl, arg = 0, context = ''): void {
  sysCall('ioctl', `ioctl(PERF_EVENT_IOC_${op})`, [fd, PERF_EVENT_IOC[op], arg], false, context);
}
