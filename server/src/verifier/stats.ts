/**
 * Verification statistics per program, with veristat's meanings: instructions processed (prog
 * info's verified_insns when it loaded, else the log's `processed N insns`), total and peak
 * states, max states per instruction, verification time and stack depth (BPF_LOG_STATS lines;
 * the stack depth summed over subprograms as veristat does), and the verdict.
 */
import { type VerifierLog, parseVerifierLog } from './log';

export interface ProgramStats {
  name: string;
  verdict: 'success' | 'failure';
  verified_insns: number | null;
  total_states: number | null;
  peak_states: number | null;
  max_states_per_insn: number | null;
  duration_us: number | null;
  stack_depth: number | null;
  /** The verifier's reason, for a failure. */
  error?: string;
}

/** BPF_LOG_STATS: the log level bit that makes the kernel print the statistics lines. */
export const BPF_LOG_STATS = 4;

export function programStats(name: string, log: string | VerifierLog, loaded: { verifiedInsns: number } | undefined): ProgramStats {
  const m = typeof log === 'string' ? parseVerifierLog(log) : log;
  const s = m.stats;
  return {
    name,
    verdict: loaded ? 'success' : 'failure',
    verified_insns: loaded ? loaded.verifiedInsns : (s?.processed ?? null),
    total_states: s?.totalStates ?? null,
    peak_states: s?.peakStates ?? null,
    max_states_per_insn: s?.maxStatesPerInsn ?? null,
    duration_us: m.verificationTimeUsec ?? null,
    stack_depth: m.stackDepth ? m.stackDepth.reduce((a, b) => a + b, 0) : null,
    ...(!loaded && m.errors.length ? { error: m.errors[0] } : {}),
  };
}

/** The numeric columns, in veristat's order. */
export const STAT_COLUMNS = [
  ['duration_us', 'Duration (us)'],
  ['verified_insns', 'Insns'],
  ['total_states', 'States'],
  ['peak_states', 'Peak states'],
  ['max_states_per_insn', 'Max states/insn'],
  ['stack_depth', 'Stack depth'],
] as const;

/** The difference of two programs' numbers (other minus base); null where one is unknown. */
export function statsDiff(base: ProgramStats, other: ProgramStats): Record<string, number | null> {
  const d: Record<string, number | null> = {};
  for (const [k] of STAT_COLUMNS) d[k] = base[k] !== null && other[k] !== null ? other[k] - base[k] : null;
  return d;
}
