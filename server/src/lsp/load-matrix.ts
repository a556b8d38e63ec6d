/**
 * Load on All Targets: the object on `local` and every bpfLens.targets entry with a kernel
 * (SSH hosts, VMs) at once, through the connections the editor keeps. bpfLens/loadMatrix
 * answers with the programs × targets cells (the client's matrix view), each target's
 * `__arg_ctx` mode and the CO-RE relocations that do not resolve on its kernel; the `matrix`
 * side document is the same as text, as the CLI prints it, with one `SOURCE:LINE` line per
 * rejection (the client makes it a link to that line).
 */
import { promises as fsp, readFileSync } from 'fs';
import { basename } from 'path';
import {
  type LoadMatrixCell,
  type LoadMatrixCoreNote,
  LoadMatrixProgressNotification,
  type LoadMatrixProgressParams,
  type LoadMatrixResult,
  type LoadMatrixTarget,
} from '../../../protocol/lsp';
import { openObject } from '../object';
import { analyzeArgCtx } from '../object/arg-ctx';
import type { BpfProgram } from '../object/model';
import { requireLoad } from '../remote/agent-client';
import { coreSummary } from '../targets/core-notes';
import { fanout, type FanoutResult } from '../targets/fanout';
import { loadMatrixRow, type MatrixCell, type TargetMatrix } from '../targets/matrix';
import { formatMatrixText } from '../targets/matrix-format';
import { foldMatrix } from '../targets/matrix-fold';
import type { HelloResult } from '../targets/target';
import { coreAccessAt, splitLines } from './c-text';
import type { CoreCheck } from './core-checks';
import type { LoadedObject } from './loaded';
import type { Session } from './session';
import { targetFailure } from './targets';

/** One target's answer beside the load: its hello (arg:ctx) and the CO-RE check on its BTF. */
interface Extra {
  hello?: HelloResult;
  core?: CoreCheck;
  coreError?: string;
}

interface MatrixRun {
  readonly programs: readonly BpfProgram[];
  readonly tagged: boolean;
  readonly results: readonly FanoutResult<TargetMatrix>[];
  readonly extra: ReadonlyMap<string, Extra>;
  readonly object: LoadedObject;
  readonly ms: number;
}

type Stage = LoadMatrixProgressParams['stage'];

/** Loads the object on every target with a kernel (at most four at once), each unloaded at once. */
async function runMatrix(d: Session, path: string, progress: (target: string, stage: Stage) => void): Promise<MatrixRun> {
  const t0 = performance.now();
  const object = await d.index.open(path);
  const bytes = new Uint8Array(readFileSync(path));
  const obj = openObject(bytes, path);
  const names = obj.programs.map((p) => p.name);
  const tagged = analyzeArgCtx(obj).length > 0;
  const extra = new Map<string, Extra>();
  const failed =
    <T>(name: string) =>
    (e: unknown): T => {
      progress(name, 'failed');
      throw e;
    };
  const results = await fanout<TargetMatrix>(
    d.targets.kernelNames(),
    (name, signal) => {
      progress(name, 'connecting');
      // out of time while connecting: a VM's boot this started is given up (as the CLI's --timeout)
      return d.targets.kernelTarget(name, signal).catch(failed(name));
    },
    async (t, name) => {
      const x: Extra = {};
      extra.set(name, x);
      const row = await loadMatrixRow(
        t,
        { name: t.inProcess ? path : basename(path), object: bytes },
        names,
        async (k) => {
          const h = await (k.inProcess ? k.hello() : requireLoad(k));
          progress(name, 'loading');
          return h;
        },
        (h) => {
          x.hello = h;
          return [];
        },
      ).catch(failed<TargetMatrix>(name));
      // CO-RE against this kernel's BTF: what the diagnostics say when it is the selected target.
      await d.core.onTarget(object, name).then(
        (c) => (x.core = c),
        (e: unknown) => (x.coreError = `CO-RE not checked: ${(e as Error).message.split('\n')[0]}`),
      );
      progress(name, 'done');
      return row;
    },
    { timeoutMs: d.targets.timeoutMs, keepOpen: true, timeoutSetting: 'bpfLens.targetTimeout' },
  );
  return { programs: obj.programs, tagged, results, extra, object, ms: performance.now() - t0 };
}

const argCtxNote = (native: boolean) =>
  native ? '__arg_ctx: native' : '__arg_ctx: emulated (no native arg:ctx before 6.8: the tagged arguments were rewritten)';

/** The `matrix` document: the table and notes as the CLI prints them, then one `SOURCE:LINE` line per rejection. */
export async function loadMatrixDocument(d: Session, path: string): Promise<string> {
  const run = await runMatrix(d, path, () => undefined);
  const results = run.results.map((r) => {
    const x = run.extra.get(r.target);
    if (!r.ok || !x) return r;
    const h = run.tagged ? x.hello : undefined;
    const notes = [...(h ? [argCtxNote(!!h.features.arg_ctx_tag)] : []), ...r.value.notes, ...(x.coreError ? [x.coreError] : [])];
    return { ...r, value: { ...r.value, notes, ...(x.core ? { core: coreSummary(run.programs, x.core.relocations) } : {}) } };
  });
  const text = formatMatrixText(
    basename(path),
    results,
    run.programs.map((p) => p.name),
  );
  const links: string[] = [];
  for (const r of results) {
    if (!r.ok) continue;
    for (const c of r.value.cells)
      if (c.status === 'rejected' && c.source)
        links.push(
          `${d.index.resolveSource(path, c.source.file) ?? c.source.file}:${c.source.line}  ${r.target}: ${c.program} rejected: ${c.error}`,
        );
  }
  return `${text}${links.length ? `\nRejected lines (open one to see it):\n${links.join('\n')}\n` : ''}\n(${results.length} targets in ${(run.ms / 1000).toFixed(1)} s)\n`;
}

/** bpfLens/loadMatrix: the same run, structured for the matrix view. */
export async function loadMatrix(d: Session, path: string, token?: string): Promise<LoadMatrixResult> {
  const run = await runMatrix(d, path, (target, stage) => {
    if (token) void d.connection.sendNotification(LoadMatrixProgressNotification, { token, target, stage });
  });
  const kinds = new Map(d.targets.list().map((t) => [t.name, t.kind]));
  const lines = new SourceLines();
  const targets: LoadMatrixTarget[] = [];
  for (const r of run.results) {
    const kind = kinds.get(r.target);
    const base = { name: r.target, kind: kind === 'ssh' || kind === 'vm' ? kind : 'local', ms: Math.round(r.ms) } as const;
    if (!r.ok) {
      targets.push({ ...base, answered: false, loadedAll: false, error: targetFailure(r.error), cells: [], notes: [] });
      continue;
    }
    const x = run.extra.get(r.target) ?? {};
    targets.push({
      ...base,
      answered: true,
      loadedAll: r.value.cells.every((c) => c.status === 'loaded'),
      release: r.value.release,
      cells: r.value.cells.map((c) => cell(d, path, c)),
      ...(run.tagged && x.hello ? { argCtx: x.hello.features.arg_ctx_tag ? 'native' : 'emulated' } : {}),
      ...(x.core ? { core: await coreNotes(d, run, x.core, lines) } : {}),
      notes: [...r.value.notes, ...(x.coreError ? [x.coreError] : [])],
    });
  }
  const summary = new Map(run.object.summary.programs.map((p) => [p.name, p]));
  const programs = run.programs.map((p) => {
    const s = summary.get(p.name)?.source;
    return { name: p.name, section: p.section, ...(s ? { source: s } : {}) };
  });
  d.log(
    `load on all targets ${path}: ${targets.map((t) => `${t.name} ${t.answered ? t.cells.filter((c) => c.status === 'loaded').length : 'failed'}`).join(', ')} (${run.ms.toFixed(0)} ms)`,
  );
  const fold = foldMatrix(
    programs.map((p) => p.name),
    targets,
  );
  return { path, programs, targets, ms: Math.round(run.ms), ...(fold ? { fold } : {}) };
}

/** A cell for the client: the rejection's source resolved to a file on disk, lines 0-based. */
function cell(d: Session, path: string, c: MatrixCell): LoadMatrixCell {
  if (c.status !== 'rejected' || !c.source) return c;
  const s = c.source;
  const file = d.index.resolveSource(path, s.file) ?? s.file;
  return { ...c, source: { file, line: Math.max(0, s.line - 1), column: Math.max(0, s.column - 1), text: s.text } };
}

/** Source files read once per request (the CO-RE access is placed on the line naming it). */
class SourceLines {
  private readonly texts = new Map<string, Promise<string[] | undefined>>();
  of(file: string): Promise<string[] | undefined> {
    if (!this.texts.has(file))
      this.texts.set(
        file,
        fsp.readFile(file, 'latin1').then(splitLines, () => undefined),
      );
    return this.texts.get(file)!;
  }
}

/** The relocations that do not resolve on this kernel (as the CLI lists them), placed on the source line naming each. */
async function coreNotes(d: Session, run: MatrixRun, c: CoreCheck, lines: SourceLines): Promise<LoadMatrixTarget['core']> {
  const sum = coreSummary(run.programs, c.relocations);
  const problems: LoadMatrixCoreNote[] = [];
  for (const { report: r, ...p } of sum.problems) {
    let source;
    if (r.source) {
      const file = d.index.resolveSource(run.object.path, r.source.file) ?? r.source.file;
      const text = await lines.of(file);
      source = { file, line: text ? coreAccessAt(text, r.source.line - 1, r.access).line : r.source.line - 1 };
    }
    problems.push({ ...p, ...(source ? { source } : {}) });
  }
  return { relocations: sum.relocations, problems };
}
