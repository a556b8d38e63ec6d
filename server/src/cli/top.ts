import { parseArgs } from './args';
import type { ProgRate } from '../observe/prog-rates';
import type { KernelTarget, ProgStatsResult } from '../targets/target';
import { type CliIo, type CommandRun, UsageError } from './command';
import { onTarget } from './on-target';

interface TopOptions {
  readonly target?: string;
  readonly sudo: boolean;
  readonly json: boolean;
  readonly intervalMs: number;
  /** Samples to print; undefined: until Ctrl-C. */
  readonly count?: number;
}

function parse(args: string[]): TopOptions {
  let v;
  try {
    v = parseArgs({
      args,
      options: {
        target: { type: 'string' },
        'no-sudo': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        interval: { type: 'string' },
        count: { type: 'string' },
      },
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const interval = v.interval === undefined ? 1 : Number(v.interval);
  if (!(interval >= 0.05 && interval <= 3600)) throw new UsageError(`--interval wants seconds (0.05 to 3600), not '${v.interval}'`);
  const count = v.count === undefined ? undefined : Number(v.count);
  if (count !== undefined && !(Number.isInteger(count) && count >= 1))
    throw new UsageError(`--count wants a positive integer, not '${v.count}'`);
  if (v['no-sudo'] && v.target === undefined) throw new UsageError('--no-sudo goes with --target');
  return { target: v.target, sudo: !v['no-sudo'], json: v.json ?? false, intervalMs: interval * 1000, count };
}

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

/** One sample as a JSON line: the state of statistics and each program's counters and rates. */
function jsonLine(cur: ProgStatsResult, rates: readonly ProgRate[]): string {
  const programs = rates.map((r) => ({
    id: r.id,
    type: r.type,
    name: r.name,
    tag: r.tag,
    run_cnt: r.runCnt,
    run_time_ns: r.runTimeNs,
    runs_per_sec: round(r.runsPerSec, 1),
    period_ns_per_run: round(r.periodNsPerRun),
    total_ns_per_run: round(r.totalNsPerRun),
    cpu_percent: round(r.cpuPercent, 3),
  }));
  return `${JSON.stringify({ time: new Date().toISOString(), stats: cur.stats, ...(cur.reason ? { reason: cur.reason } : {}), programs })}\n`;
}

/** One sample as a table, busiest first (as bpftop sorts), idle programs after by id. */
function table(label: string, cur: ProgStatsResult, rates: readonly ProgRate[]): string {
  const rows = [...rates].sort((a, b) => b.cpuPercent - a.cpuPercent || b.runsPerSec - a.runsPerSec || a.id - b.id);
  const head = ['ID', 'TYPE', 'NAME', 'RUNS/S', 'NS/RUN', 'TOTAL NS/RUN', 'CPU%'];
  const cells = rows.map((r) => [
    String(r.id),
    r.type,
    r.name || '-',
    round(r.runsPerSec, 1).toFixed(1),
    String(round(r.periodNsPerRun)),
    String(round(r.totalNsPerRun)),
    r.cpuPercent.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: readonly string[]) => c.map((x, i) => (i < 3 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  const state =
    cur.stats === 'off'
      ? `statistics are off${cur.reason ? ` (${cur.reason})` : ''}: counters do not move`
      : `statistics on (${cur.stats === 'fd' ? 'BPF_ENABLE_STATS' : 'kernel.bpf_stats_enabled'})`;
  return `${label}: ${rows.length} programs, ${state}\n${[head, ...cells].map(line).join('\n')}\n`;
}

interface Stop {
  ended: boolean;
  wake?: () => void;
}

/** Waits `ms`, or less when a signal ends the loop. */
const sleep = (ms: number, stop: Stop) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    stop.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });

async function sampleLoop(target: KernelTarget, o: TopOptions, io: CliIo): Promise<number> {
  let prev = await target.progStats({ enable: true });
  const stop: Stop = { ended: false };
  const onSignal = () => {
    stop.ended = true;
    stop.wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const tty = !o.json && process.stdout.isTTY;
  try {
    for (let n = 0; !stop.ended && (o.count === undefined || n < o.count); n++) {
      await sleep(o.intervalMs, stop);
      if (stop.ended) break;
      const cur = await target.progStats({});
      const { progRates } = await import('../observe/prog-rates');
      const rates = progRates(prev, cur);
      if (o.json) io.out(jsonLine(cur, rates));
      else io.out(`${tty ? '\x1b[H\x1b[2J' : n ? '\n' : ''}${table(target.label, cur, rates)}`);
      prev = cur;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return prev.stats === 'off' ? 1 : 0;
}

/**
 * `bpf-lens top`: every program on the target with its runs per second, average run time and
 * share of a CPU, refreshed each interval, as bpftop shows them. Statistics are turned on with
 * BPF_ENABLE_STATS for as long as it runs (nothing stays on when it exits).
 */
export const topCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const o = parse(args);
    return onTarget(o, io, async (target) => {
      const code = await sampleLoop(target, o, io);
      if (code) io.err('bpf-lens top: run statistics could not be turned on (BPF_ENABLE_STATS needs Linux 5.8 and CAP_SYS_ADMIN)\n');
      return code;
    });
  },
};
