/**
 * The selected target in the language server: CO-RE checks of objects against its BTF (for
 * diagnostics, hovers and the tree), and the requests about targets — select one, list them,
 * read one's vmlinux BTF, list an object's CO-RE relocations on it.
 */
import { promises as fsp } from 'fs';
import type { Connection, ResponseError } from 'vscode-languageserver/node';
import { selectArgCtxTarget } from './arg-ctx';
import { coreAccessAt, splitLines } from './c-text';
import { CoreCheck, CoreChecks } from './core-checks';
import type { LoadedObject } from './loaded';
import {
  CoreRelocationItem, CoreRelocationsRequest, SelectTargetRequest, SelectTargetResult, TargetBtfRequest, TargetInfo, TargetsRequest,
} from '../../../protocol/lsp';
import { targetFailure, Targets } from './targets';
import type { WorkspaceIndex } from './workspace';
import { reloReason } from '../core/relocate';

/** CO-RE checks of objects against the selected target's BTF (bpfLens.coreDiagnostics). */
export class CoreOnTarget {
  enabled = true;
  private readonly checks = new CoreChecks();
  /** Failures already logged: a kernel without BTF would say so for every object on every publish. */
  private readonly logged = new Set<string>();

  constructor(private readonly targets: Targets, private readonly log: (msg: string) => void) {}

  /** The check of one object (undefined: disabled, not a BPF object, or the target's BTF cannot be had). */
  async of(o: LoadedObject): Promise<{ target: string; check: CoreCheck } | undefined> {
    if (!this.enabled || o.error || !o.summary.programs.length) return undefined; // CO-RE lives in BPF objects only
    const name = this.targets.selected;
    try {
      const btfs = await this.targets.targetBtfs(name);
      const info = this.targets.known(name);
      return { target: info ? `${name} (${info.release})` : name, check: await this.checks.check(o.path, o.mtimeMs, btfs) };
    } catch (e) {
      const msg = `CO-RE check on ${name}: ${(e as Error).message}`;
      if (!this.logged.has(msg)) this.log(`${msg} (${o.path})`);
      this.logged.add(msg);
      return undefined;
    }
  }
}

export interface TargetRequestDeps {
  readonly targets: Targets;
  readonly index: WorkspaceIndex;
  readonly core: CoreOnTarget;
  log(msg: string): void;
  guard<P, R>(name: string, fn: (p: P) => Promise<R> | R, fallback?: R): (p: P) => Promise<R | ResponseError<void>>;
  publishAll(): Promise<void>;
  readSettings(): Promise<void>;
  /** Resolves when the index work queued so far is done. */
  whenReady(): Promise<void>;
}

export function registerTargetRequests(connection: Connection, d: TargetRequestDeps): void {
  const { targets, index, core, guard } = d;

  connection.onRequest(SelectTargetRequest, guard('bpfLens/selectTarget', async (p): Promise<SelectTargetResult> => {
    await d.whenReady();
    // A target just added to the settings may reach us before the settings do.
    if (!targets.names().includes(p.name)) await d.readSettings();
    let info: TargetInfo;
    try {
      info = await targets.info(p.name);
    } catch (e) {
      return { ok: false, error: targetFailure(e) };
    }
    targets.selected = p.name;
    // __arg_ctx notes follow the target: native support as its agent probed it.
    selectArgCtxTarget(info.kind === 'local' && targets.inProcess(p.name) ? undefined
      : info.kind === 'btf' ? { name: p.name, reason: `${info.release} is a BTF file: it cannot be probed` }
        : 'arg_ctx_tag' in info.features ? { name: p.name, release: info.release, native: info.features.arg_ctx_tag }
          : { name: p.name, release: info.release, reason: `the agent could not probe (${info.errno ?? 'bpf() not permitted'})` });
    // The CO-RE check of every indexed object against the new target's BTF, then diagnostics.
    let summary: SelectTargetResult['core'];
    if (core.enabled && info.hasBtf) {
      const t0 = performance.now();
      let relocations = 0;
      let problems = 0;
      let objects = 0;
      for (const o of index.all()) {
        const c = await core.of(o);
        if (!c?.check.relocations.length) continue;
        objects++;
        relocations += c.check.relocations.length;
        problems += c.check.relocations.filter((f) => f.report.status !== 'ok').length;
      }
      summary = { objects, relocations, problems, ms: performance.now() - t0 };
    }
    d.log(`target ${p.name}: ${info.release}${info.arch ? ` ${info.arch}` : ''}, ${info.canLoad ? 'can load' : 'cannot load'} (${info.ms.toFixed(0)} ms)${summary ? `; CO-RE: ${summary.relocations} relocations in ${summary.objects} objects, ${summary.problems} do not resolve (${summary.ms.toFixed(0)} ms)` : ''}`);
    await d.publishAll();
    return { ok: true, info, ...(summary ? { core: summary } : {}) };
  }));

  connection.onRequest(CoreRelocationsRequest, guard('bpfLens/coreRelocations', async (p) => {
    await d.whenReady();
    const o = await index.open(p.path);
    const c = await core.of(o);
    if (!c) return { target: targets.selected, items: [] };
    const texts = new Map<string, Promise<string[] | undefined>>();
    const linesOf = (file: string) => {
      if (!texts.has(file)) texts.set(file, fsp.readFile(file, 'latin1').then(splitLines, () => undefined));
      return texts.get(file)!;
    };
    const items: CoreRelocationItem[] = [];
    for (const { section, report: r } of c.check.relocations) {
      let source;
      if (r.source) {
        const file = index.resolveSource(o.path, r.source.file) ?? r.source.file;
        const lines = await linesOf(file);
        source = { file, line: lines ? coreAccessAt(lines, r.source.line - 1, r.access).line : r.source.line - 1 };
      }
      const why = reloReason(r);
      items.push({
        section, index: r.index, kind: r.kindName, access: r.access, status: r.status,
        ...(r.localValue !== undefined ? { compiled: String(r.localValue) } : {}), ...(r.targetValue !== undefined ? { onTarget: String(r.targetValue) } : {}),
        ...(why ? { message: why } : {}), ...(source ? { source } : {}),
      });
    }
    return { target: c.target, items };
  }));

  connection.onRequest(TargetsRequest, guard('bpfLens/targets', () => ({ selected: targets.selected, targets: targets.list() })));

  connection.onRequest(TargetBtfRequest, guard('bpfLens/targetBtf', async (p) => {
    const b = await targets.btfFile(p.name);
    return { path: b.file, label: b.label };
  }));
}
