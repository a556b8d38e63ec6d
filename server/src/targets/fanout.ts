/**
 * One job on many targets at once: each target opened, used and closed on its own, at most
 * `parallel` at a time, each within its own time limit. A target that cannot be used, or
 * runs out of time, is that target's result; the others go on.
 */
import { mapLimit } from '../common/map-limit';
import { TargetError } from '../remote/errors';
import type { KernelTarget } from './target';

export interface FanoutOptions {
  /** At most this many targets open at once (default 4). */
  readonly parallel?: number;
  /** Per target, from opening to the end of the job (ms). */
  readonly timeoutMs: number;
  /** Leave each target open (the editor keeps its connections); a target that timed out is still not waited for. */
  readonly keepOpen?: boolean;
  /** What sets the time limit, named in a timeout's message (default `--timeout`). */
  readonly timeoutSetting?: string;
}

export type FanoutResult<R> =
  | { readonly target: string; readonly ok: true; readonly value: R; readonly ms: number }
  | { readonly target: string; readonly ok: false; readonly error: TargetError | Error; readonly ms: number };

/** Runs `job` on each target in `specs` (order kept in the result). */
export async function fanout<R>(
  specs: readonly string[],
  open: (spec: string, signal: AbortSignal) => Promise<KernelTarget>,
  job: (target: KernelTarget, spec: string) => Promise<R>,
  o: FanoutOptions,
): Promise<FanoutResult<R>[]> {
  return mapLimit(specs, o.parallel ?? 4, (spec) => one(spec, open, job, o));
}

async function one<R>(
  spec: string,
  open: (spec: string, signal: AbortSignal) => Promise<KernelTarget>,
  job: (target: KernelTarget, spec: string) => Promise<R>,
  o: FanoutOptions,
): Promise<FanoutResult<R>> {
  const { timeoutMs, keepOpen = false, timeoutSetting = '--timeout' } = o;
  const t0 = performance.now();
  const held: { target?: KernelTarget } = {};
  let timedOut = false;
  // Out of time while still opening: what the opening runs (ssh) is given up.
  const abort = new AbortController();
  const opened = open(spec, abort.signal);
  // A target opened after its time ran out is closed as soon as it is there.
  opened.then((t) => timedOut && !keepOpen && void t.close().catch(() => undefined)).catch(() => undefined);
  const work = (async () => {
    held.target = await opened;
    return job(held.target, spec);
  })();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
      reject(new TargetError('timeout', `${spec} did not finish within ${Math.round(timeoutMs / 1000)} s (${timeoutSetting})`));
    }, timeoutMs);
  });
  try {
    const value = await Promise.race([work, limit]);
    return { target: spec, ok: true, value, ms: performance.now() - t0 };
  } catch (e) {
    let error = e instanceof Error ? e : new Error(String(e));
    // Out of time while opening: the opening, given up, says where it was (a VM's console).
    if (timedOut && !held.target) error = withOpeningDetail(error, await settled(opened, 2_000));
    return { target: spec, ok: false, error, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
    if (!keepOpen) await held.target?.close().catch(() => undefined);
  }
}

/** How `p` failed, waiting at most `ms` (undefined: it did not fail in time, or it opened). */
async function settled(p: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([
      p.then(
        () => undefined,
        (e: unknown) => e ?? new Error('failed'),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The timeout, with what the given-up opening said (its message and detail) as its detail. */
function withOpeningDetail(timeout: Error, why: unknown): Error {
  if (!(timeout instanceof TargetError) || !(why instanceof TargetError) || why === timeout) return timeout;
  const detail = [why.message, why.detail].filter(Boolean).join('\n');
  return new TargetError(timeout.code, timeout.message, timeout.detail ? `${timeout.detail}\n${detail}` : detail);
}
