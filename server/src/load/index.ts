/**
 * The load pipeline: a BpfObject and a target in, created maps and loaded programs out —
 * libbpf's bpf_object__load, in its order since "stable map FDs":
 *
 *   probe → CO-RE (per section) → link each entry program (subprograms, exception callback)
 *   → resolve externs → placeholder FDs → map/data/extern relocations → func_info/line_info
 *   (ARG-CTX hook) → fix up, sanitise and load BTF → create maps (dup3 onto placeholders),
 *   fill and freeze data maps → load programs → prog-array / map-in-map slots → pin →
 *   struct_ops registered (and freplace attached).
 *
 * loadSteps below is that list; each stage is a named function over one LoadContext
 * (context.ts) in stages-prepare.ts (nothing in the kernel yet) or stages-kernel.ts (BTF, maps,
 * programs, pins, registration). Pure steps live in their own files (link-subprogs,
 * relocate-data, externs, sanitize-btf, ext-info, struct-ops, rodata-set); the kernel is
 * reached only through `opts.kernel`. On any failure every FD opened is closed and every pin
 * made is removed before the LoadError leaves.
 */
import { isKernelError } from '../kernel';
import type { BpfObject } from '../object/model';
import { LoadContext } from './context';
import {
  buildExtInfo,
  checkObject,
  planStructOpsMaps,
  relocateAndLink,
  relocateOntoPlaceholders,
  resolveExternsAndSets,
} from './stages-prepare';
import {
  attachObjects,
  commitPins,
  createMaps,
  fillSlots,
  loadObjectBtf,
  loadPrograms,
  loadResult,
  pinObjects,
  sweepPinDirs,
} from './stages-kernel';
import { LoadError, type LoadOptions, type LoadResult, type LoadStage } from './types';

export * from './types';
export { openReplaceTarget } from './attach';

function asLoadError(e: unknown, stage: LoadStage): LoadError {
  if (e instanceof LoadError) return e;
  if (isKernelError(e)) {
    const hint =
      e.errnoName === 'EPERM' && !e.hint && process.getuid?.() !== 0
        ? ' — loading BPF needs root, or CAP_BPF with CAP_PERFMON (tracing) / CAP_NET_ADMIN (networking)'
        : '';
    return new LoadError(`${e.message}${hint}`, stage, { cause: e, log: e.log });
  }
  return new LoadError(e instanceof Error ? e.message : String(e), stage, { cause: e });
}

/**
 * Loads `obj` into the target. Synchronous (bpf(2) through koffi is). Throws LoadError; by
 * then nothing this load made is left open or pinned.
 */
export function loadObject(obj: BpfObject, opts: LoadOptions): LoadResult {
  const steps = loadSteps(obj, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

let asyncQueue: Promise<unknown> = Promise.resolve();

/** Signals whose default action ends the process: a load they interrupt is rolled back first. */
const ROLLBACK_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Thrown into the pipeline at its next turn when a signal came: the load rolls back. */
class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}: everything the load made was removed`);
  }
}

/**
 * loadObject that gives the event loop a turn after each stage (and each program), so a
 * language server's progress notifications reach the editor while the load runs rather than
 * all at its end. Async loads of one process run one after another.
 *
 * SIGINT, SIGTERM and SIGHUP during the load are caught: at its next turn the load rolls
 * back (FDs closed, temporary pins removed), then — when nothing else listens for the
 * signal — it is raised again so the process ends as it would have.
 */
export function loadObjectAsync(obj: BpfObject, opts: LoadOptions): Promise<LoadResult> {
  const run = async (): Promise<LoadResult> => {
    let caught: NodeJS.Signals | undefined;
    const onSignal = (s: NodeJS.Signals) => {
      caught ??= s;
    };
    for (const s of ROLLBACK_SIGNALS) process.on(s, onSignal);
    try {
      const steps = loadSteps(obj, opts);
      for (let r = steps.next(); ; r = caught ? steps.throw(new Interrupted(caught)) : steps.next()) {
        if (r.done) return r.value;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      // a signal that came during the last synchronous stretch is handled on this turn
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (const s of ROLLBACK_SIGNALS) process.off(s, onSignal);
      if (caught && process.listenerCount(caught) === 0) process.kill(process.pid, caught);
    }
  };
  const p = asyncQueue.then(run, run);
  asyncQueue = p.catch(() => undefined);
  return p;
}

/** The pipeline, one call per stage in libbpf's order; it yields after each progress report (loadObject runs it straight through). */
function* loadSteps(obj: BpfObject, opts: LoadOptions): Generator<void, LoadResult, void> {
  const cx = new LoadContext(obj, opts);
  try {
    yield* cx.enter('probe', obj.file);
    sweepPinDirs(cx);
    checkObject(cx);
    yield* cx.enter('relocate', 'CO-RE');
    relocateAndLink(cx);
    resolveExternsAndSets(cx);
    planStructOpsMaps(cx);
    relocateOntoPlaceholders(cx);
    buildExtInfo(cx);
    yield* cx.enter('btf', 'sanitise and load');
    loadObjectBtf(cx);
    yield* cx.enter('maps', `${obj.maps.length} maps`);
    createMaps(cx);
    yield* cx.enter('programs', `${cx.planned.length} programs`);
    yield* loadPrograms(cx);
    fillSlots(cx);
    yield* cx.enter('pin', '');
    pinObjects(cx);
    attachObjects(cx);
    commitPins(cx);
    const result = loadResult(cx);
    cx.done();
    return result;
  } catch (e) {
    cx.rollback();
    throw asLoadError(e, cx.stage);
  }
}
