/**
 * What one object does on one target, per program: loaded (verified instructions), rejected
 * (the source line and the error's first line) or not attempted (why). The whole object is
 * loaded first, as libbpf does; when one program is rejected, each other program is loaded
 * alone so that every program gets its own answer.
 */
import { TargetError } from '../remote/errors';
import type { CoreSummary } from './core-notes';
import type { LoadTimings } from './format';
import type { HelloResult, KernelTarget, LoadFailure, LoadOutcome, LoadRequest } from './target';

export type MatrixCell =
  | { readonly program: string; readonly status: 'loaded'; readonly verifiedInsns: number }
  | {
      readonly program: string;
      readonly status: 'rejected';
      readonly error: string;
      readonly source?: { readonly file: string; readonly line: number; readonly column: number; readonly text: string };
    }
  | { readonly program: string; readonly status: 'not-attempted'; readonly why: string };

export interface TargetMatrix {
  readonly release: string;
  /** The whole object's load, as `load --json` prints it for one target. */
  readonly outcome: LoadOutcome;
  readonly cells: readonly MatrixCell[];
  /** What differs on this kernel without failing: load warnings, and notes from `notes` (e.g. arg:ctx emulated). */
  readonly notes: readonly string[];
  /** The object's CO-RE relocations against this kernel's BTF (those that do not resolve: notes). */
  readonly core?: CoreSummary;
  /** The whole object's load (ms, from sending to the answer). */
  readonly loadMs?: number;
  /** A remote target's times, as one target's `load --json` gives them (set by the CLI). */
  readonly timing?: LoadTimings;
}

const firstLine = (s: string) => s.split('\n').find((l) => l.trim() !== '') ?? s;

function rejected(program: string, e: LoadFailure): MatrixCell {
  return {
    program,
    status: 'rejected',
    error: firstLine(e.message),
    ...(e.source ? { source: { file: e.source.file, line: e.source.line, column: e.source.column, text: e.source.text.trim() } } : {}),
  };
}

/** A failure that names no program (BTF, maps, CO-RE of the object as a whole): nobody got to the verifier. */
const notAttempted = (program: string, why: string): MatrixCell => ({ program, status: 'not-attempted', why });

/** Loads and at once unloads: only the answer stays. No-BTF refusals are outcomes here, not target failures. */
async function tryLoad(target: KernelTarget, req: LoadRequest): Promise<LoadOutcome> {
  try {
    const r = await target.load(req);
    if (r.ok) await target.unload(r.loaded.handle, { unpinMaps: true }); // the maps it pinned by name too
    return r;
  } catch (e) {
    if (e instanceof TargetError && e.code === 'no-btf')
      return { ok: false, error: { message: e.message, stage: e.stage ?? 'target', code: e.code } };
    throw e;
  }
}

/**
 * The matrix row of one target. `programs`: the object's programs to load (without those
 * the user turned off); `hello`: what the target said (its release), asked before loading.
 */
export async function loadMatrixRow(
  target: KernelTarget,
  req: LoadRequest,
  programs: readonly string[],
  hello: (t: KernelTarget) => Promise<HelloResult>,
  notesFor: (h: HelloResult) => string[] = () => [],
): Promise<TargetMatrix> {
  const h = await hello(target);
  const t0 = performance.now();
  const outcome = await tryLoad(target, req);
  const loadMs = performance.now() - t0;
  const row = await cellsOf(target, req, programs, outcome);
  const notes = [...notesFor(h), ...(outcome.ok ? outcome.loaded.warnings : [])];
  return { release: h.release, outcome, cells: row, notes, loadMs };
}

async function cellsOf(target: KernelTarget, req: LoadRequest, programs: readonly string[], outcome: LoadOutcome): Promise<MatrixCell[]> {
  if (outcome.ok) {
    const cells = programs.map((p): MatrixCell => {
      const x = outcome.loaded.programs.find((q) => q.name === p);
      return x ? { program: p, status: 'loaded', verifiedInsns: x.verifiedInsns } : notAttempted(p, 'not loaded');
    });
    return cells;
  }
  const failed = outcome.error.program;
  if (failed === undefined || !programs.includes(failed)) {
    const why = `${outcome.error.stage}: ${firstLine(outcome.error.message)}`;
    return programs.map((p) => notAttempted(p, why));
  }
  const cells: MatrixCell[] = [];
  for (const p of programs) {
    if (p === failed) {
      cells.push(rejected(p, outcome.error));
      continue;
    }
    const alone = await tryLoad(target, { ...req, noAutoload: [...(req.noAutoload ?? []), ...programs.filter((x) => x !== p)] });
    if (alone.ok)
      cells.push({ program: p, status: 'loaded', verifiedInsns: alone.loaded.programs.find((q) => q.name === p)?.verifiedInsns ?? 0 });
    else if (alone.error.program === p) cells.push(rejected(p, alone.error));
    else cells.push(notAttempted(p, `${alone.error.stage}: ${firstLine(alone.error.message)}`));
  }
  return cells;
}
