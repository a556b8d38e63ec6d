/**
 * bpfLens/programStats: run statistics for the BPF view, as `bpf-lens top` computes them,
 * through the same KernelTarget as loads. The first request on a target turns statistics on
 * (they cost every program a little); `stop` turns them off again.
 */
import { type ProgramStatsResult, ProgramStatsRequest } from '../../../protocol/lsp';
import { progRates } from '../observe/prog-rates';
import type { ProgStatsResult } from '../targets/target';
import { handler, type RequestHandler } from './handlers';
import type { Session } from './session';

export function programStatsRequests(d: Session): RequestHandler[] {
  const last = new Map<string, ProgStatsResult>();
  return [
    handler(ProgramStatsRequest, async (p): Promise<ProgramStatsResult> => {
      const target = await d.targets.kernelTarget(p.target);
      if (p.stop) {
        last.delete(p.target);
        const r = await target.progStats({ disable: true });
        return { stats: r.stats, programs: [] };
      }
      const cur = await target.progStats({ enable: true });
      const prev = last.get(p.target);
      last.set(p.target, cur);
      const programs = prev
        ? progRates(prev, cur).map((r) => ({
            id: r.id,
            runCnt: r.runCnt,
            runsPerSec: r.runsPerSec,
            periodNsPerRun: r.periodNsPerRun,
            cpuPercent: r.cpuPercent,
          }))
        : [];
      return { stats: cur.stats, ...(cur.reason ? { reason: cur.reason } : {}), programs };
    }),
  ];
}
