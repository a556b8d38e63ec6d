/**
 * Objects the language server loaded into a kernel (bpfLens/loadObject): into this machine's
 * in-process when it may use bpf(), else through the target's agent (an SSH host, or the local
 * agent under sudo -n). It holds them until bpfLens/unloadObject or exit, and keeps the
 * rejected-source-line diagnostic of the last failed load of each object. The kernel and the
 * pipeline are imported lazily, so a server that never loads never touches koffi.
 */
import { readFileSync, unlinkSync } from 'fs';
import { basename } from 'path';
import type { Diagnostic } from 'vscode-languageserver/node';
import { DiagnosticSeverity } from 'vscode-languageserver/node';
import { openObject } from '../object';
import type { LoadResult } from '../load';
import type { AgentLoadErrorData } from '../../../protocol/agent';
import type { LoadedKernelObject, LoadObjectError, LoadObjectParams, LoadObjectResult, UnloadObjectResult } from '../../../protocol/lsp';
import { LOCAL, targetFailure, Targets } from './targets';

interface Held {
  readonly info: LoadedKernelObject;
  /** Closes what the load holds; answers the pins it removed. */
  release(): Promise<string[]>;
}

type SourceLine = NonNullable<LoadObjectError['source']>;

export class KernelLoads {
  private next = 1;
  private readonly held = new Map<number, Held>();
  /** Source file → diagnostics of rejected loads, by object path. */
  private readonly rejections = new Map<string, { object: string; diag: Diagnostic }[]>();

  constructor(private readonly targets: Targets = new Targets()) {}

  all(): LoadedKernelObject[] {
    return [...this.held.values()].map((h) => h.info);
  }

  /** Diagnostics for a C source from the last rejected load of each object built from it. */
  diagnosticsFor(source: string): Diagnostic[] {
    return (this.rejections.get(source) ?? []).map((r) => r.diag);
  }

  rejectedSources(): string[] {
    return [...this.rejections.keys()];
  }

  async load(
    p: LoadObjectParams,
    progress: (stage: string, detail: string) => void,
    resolveSource: (name: string) => string | undefined = () => undefined,
  ): Promise<LoadObjectResult> {
    const t0 = performance.now();
    const target = p.target ?? LOCAL;
    this.clearRejection(p.path);
    const bytes = new Uint8Array(readFileSync(p.path));
    const out = this.targets.inProcess(target)
      ? await this.loadHere(p, bytes, progress, resolveSource)
      : await this.loadThere(p, target, bytes, progress, resolveSource);
    if (!out.ok) return { ok: false, error: out.error, logs: [], ms: performance.now() - t0 };
    const handle = this.next++;
    const info: LoadedKernelObject = { handle, path: p.path, target, ...out.loaded };
    this.held.set(handle, { info, release: out.release });
    return { ok: true, loaded: info, logs: out.logs, ms: performance.now() - t0 };
  }

  /** In this process, through the pipeline and koffi. */
  private async loadHere(p: LoadObjectParams, bytes: Uint8Array, progress: (stage: string, detail: string) => void, resolveSource: (name: string) => string | undefined): Promise<Outcome> {
    const kernel = await import('../kernel');
    const { loadObjectAsync, LoadError } = await import('../load');
    const obj = openObject(bytes, p.path);
    let result: LoadResult;
    try {
      // async: each stage's progress notification goes out while the load runs
      result = await loadObjectAsync(obj, { kernel: kernel.localKernel, logLevel: p.logLevel ?? 0, onProgress: progress });
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      return { ok: false, error: this.rejected(p.path, e.message, { stage: e.stage, ...e.details }, resolveSource) };
    }
    const maps = result.maps.map((m) => ({ name: m.name, kernelName: m.kernelName, id: m.id, type: m.type, ...(m.pinnedAt && !m.reused ? { pinnedAt: m.pinnedAt } : {}) }));
    return {
      ok: true,
      loaded: {
        programs: result.programs.map((x) => ({ name: x.name, id: x.id, type: x.type, verifiedInsns: x.verifiedInsns })),
        maps,
        warnings: result.warnings,
      },
      logs: result.programs.filter((x) => x.log).map((x) => ({ program: x.name, log: x.log!.replace(/\0+$/, '') })),
      release: async () => {
        result.close();
        const unpinned: string[] = [];
        for (const m of maps) {
          if (!m.pinnedAt) continue;
          try {
            unlinkSync(m.pinnedAt);
            unpinned.push(m.pinnedAt);
          } catch {
            // someone else removed it
          }
        }
        return unpinned;
      },
    };
  }

  /** Through the target's agent: the object's bytes go there, the pipeline runs on its kernel. */
  private async loadThere(p: LoadObjectParams, target: string, bytes: Uint8Array, progress: (stage: string, detail: string) => void, resolveSource: (name: string) => string | undefined): Promise<Outcome> {
    const { isLoadError, requireLoad } = await import('../remote');
    let client;
    try {
      progress('connect', target);
      client = await this.targets.client(target);
      await requireLoad(client); // bpf-not-permitted, saying why, before the object travels
    } catch (e) {
      const f = targetFailure(e);
      return { ok: false, error: { message: f.message, stage: 'target', code: f.code, ...(f.detail ? { log: f.detail } : {}) } };
    }
    let r;
    try {
      r = await client.load({ name: basename(p.path), object: Buffer.from(bytes).toString('base64'), logLevel: p.logLevel ?? 0 }, progress);
    } catch (e) {
      if (isLoadError(e)) return { ok: false, error: this.rejected(p.path, e.message, e.data!, resolveSource) };
      const f = targetFailure(e);
      return { ok: false, error: { message: f.message, stage: 'target', code: f.code, ...(f.detail ? { log: f.detail } : {}) } };
    }
    const handle = r.handle;
    return {
      ok: true,
      loaded: {
        programs: r.programs.map((x) => ({ name: x.name, id: x.id, type: x.type, verifiedInsns: x.verifiedInsns })),
        maps: r.maps.map((m) => ({ name: m.name, kernelName: m.kernelName, id: m.id, type: m.type })),
        warnings: r.warnings,
      },
      logs: r.programs.filter((x) => x.log).map((x) => ({ program: x.name, log: x.log!.replace(/\0+$/, '') })),
      release: async () => {
        await client.unload(handle).catch(() => false); // an agent that ended took the load with it
        return [];
      },
    };
  }

  /** A rejected load: the error for the client, and a diagnostic on the rejected source line. */
  private rejected(object: string, message: string, d: Omit<AgentLoadErrorData, 'kind'>, resolveSource: (name: string) => string | undefined): LoadObjectError {
    const source: SourceLine | undefined = d.source && { file: resolveSource(d.source.file) ?? d.source.file, line: Math.max(0, d.source.line - 1), column: Math.max(0, d.source.column - 1), text: d.source.text };
    if (source) this.addRejection(object, source.file, {
      range: { start: { line: source.line, character: source.column }, end: { line: source.line, character: Math.max(source.column + 1, source.text.length) } },
      severity: DiagnosticSeverity.Error,
      source: 'bpf-lens',
      code: 'verifier',
      message: `${d.program ? `${d.program}: ` : ''}${message}`,
    });
    return { message, stage: d.stage, program: d.program, insn: d.insn, source, log: d.log?.replace(/\0+$/, '') };
  }

  /** Closes the load's FDs and removes the pins it made (not the pinned maps it reused). */
  async unload(handle: number): Promise<UnloadObjectResult> {
    const h = this.held.get(handle);
    if (!h) return { closed: false, unpinned: [] };
    this.held.delete(handle);
    return { closed: true, unpinned: await h.release() };
  }

  async dispose(): Promise<void> {
    for (const h of [...this.held.keys()]) await this.unload(h);
  }

  private clearRejection(object: string): void {
    for (const [file, list] of this.rejections) {
      const rest = list.filter((r) => r.object !== object);
      if (rest.length) this.rejections.set(file, rest);
      else this.rejections.set(file, []);
    }
  }

  private addRejection(object: string, file: string, diag: Diagnostic): void {
    this.rejections.set(file, [...(this.rejections.get(file) ?? []), { object, diag }]);
  }
}

type Outcome =
  | { ok: false; error: LoadObjectError }
  | { ok: true; loaded: Pick<LoadedKernelObject, 'programs' | 'maps' | 'warnings'>; logs: { program: string; log: string }[]; release(): Promise<string[]> };
