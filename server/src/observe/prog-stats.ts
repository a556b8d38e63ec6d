// Per-program run statistics as bpftop shows them: every program's run_cnt and run_time_ns
// read by id, and the rates between two readings. The counters move only while statistics
// are on (`enableRunStats`), so a reader holds the BPF_ENABLE_STATS FD for as long as it reads.
import { progTypeName } from '../object/uapi-names';
import { isKernelError, type KernelOps } from '../kernel';
import type { ProgStat, ProgStatsResult, StatsState } from '../../../protocol/agent';

type StatsKernel = Pick<KernelOps, 'listIds' | 'getFdById' | 'progInfo' | 'closeFd'>;

/** Every program on the kernel now, with its counters (programs gone between calls are skipped). */
export function readProgStats(k: StatsKernel): ProgStat[] {
  const out: ProgStat[] = [];
  for (const id of k.listIds('prog')) {
    let fd: number;
    try {
      fd = k.getFdById('prog', id);
    } catch (e) {
      if (isKernelError(e) && e.errnoName === 'ENOENT') continue;
      throw e;
    }
    try {
      const i = k.progInfo(fd);
      // u64 counters as numbers: exact below 2^53 (104 days of run time), as JSON carries them.
      out.push({ id, type: progTypeName(i.type), name: i.name, tag: i.tag, runCnt: Number(i.runCnt), runTimeNs: Number(i.runTimeNs) });
    } finally {
      k.closeFd(fd);
    }
  }
  return out;
}

export interface RunStats {
  readonly state: StatsState;
  /** Why statistics are off, when they are. */
  readonly reason?: string;
  /** Ends what this reader turned on (the sysctl, if that was on already, stays). */
  close(): void;
}

/** Turns statistics on for as long as the result is open: BPF_ENABLE_STATS, else the sysctl if it is on. */
export function enableRunStats(k: Pick<KernelOps, 'enableStats' | 'statsSysctlEnabled' | 'closeFd'>): RunStats {
  try {
    const fd = k.enableStats();
    return { state: 'fd', close: () => k.closeFd(fd) };
  } catch (e) {
    if (!isKernelError(e)) throw e;
    if (k.statsSysctlEnabled()) return { state: 'sysctl', close: () => undefined };
    return { state: 'off', reason: `BPF_ENABLE_STATS: ${e.errnoName} and kernel.bpf_stats_enabled is 0`, close: () => undefined };
  }
}

export function progStatsNow(k: StatsKernel, stats: Pick<RunStats, 'state' | 'reason'>): ProgStatsResult {
  return {
    stats: stats.state,
    ...(stats.reason ? { reason: stats.reason } : {}),
    timeNs: Number(process.hrtime.bigint()),
    programs: readProgStats(k),
  };
}
