// What moved between two readings of the run statistics, as bpftop computes it: runs per
// second, average run time over the period and overall, and the share of one CPU spent.
import type { ProgStat, ProgStatsResult } from '../../../protocol/agent';

export interface ProgRate extends ProgStat {
  readonly runsPerSec: number;
  /** Average ns per run over the period (0 when it did not run). */
  readonly periodNsPerRun: number;
  /** Average ns per run since statistics began counting for it. */
  readonly totalNsPerRun: number;
  /** Run time over wall time in the period, in percent of one CPU. */
  readonly cpuPercent: number;
}

/**
 * The rates from `prev` to `cur`. A program absent from `prev` was loaded during the period
 * and counts from zero; counters that went down (a reused id) count from zero too.
 */
export function progRates(prev: ProgStatsResult, cur: ProgStatsResult): ProgRate[] {
  const before = new Map(prev.programs.map((p) => [p.id, p]));
  const seconds = Math.max(cur.timeNs - prev.timeNs, 1) / 1e9;
  return cur.programs.map((p) => {
    const b = before.get(p.id);
    const fresh = !b || b.tag !== p.tag || b.runCnt > p.runCnt;
    const runs = p.runCnt - (fresh ? 0 : b.runCnt);
    const ns = p.runTimeNs - (fresh ? 0 : b.runTimeNs);
    return {
      ...p,
      runsPerSec: runs / seconds,
      periodNsPerRun: runs > 0 ? ns / runs : 0,
      totalNsPerRun: p.runCnt > 0 ? p.runTimeNs / p.runCnt : 0,
      cpuPercent: (ns / 1e9 / seconds) * 100,
    };
  });
}
