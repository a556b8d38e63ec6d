/**
 * Objects the language server loaded into the kernel (bpfLens/loadObject): it holds their
 * FDs until bpfLens/unloadObject or exit, and keeps the rejected-source-line diagnostic of
 * the last failed load of each object. The kernel and the pipeline are imported lazily, so
 * a server that never loads never touches koffi.
 */
import { readFileSync, unlinkSync } from 'fs';
import type { Diagnostic } from 'vscode-languageserver/node';
import { DiagnosticSeverity } from 'vscode-languageserver/node';
import { openObject } from '../object';
import type { LoadResult } from '../load';
import type { LoadedKernelObject, LoadObjectParams, LoadObjectResult, UnloadObjectResult } from './protocol';

interface Held {
  readonly info: LoadedKernelObject;
  readonly result: LoadResult;
}

export class KernelLoads {
  private next = 1;
  private readonly held = new Map<number, Held>();
  /** Source file → diagnostics of rejected loads, by object path. */
  private readonly rejections = new Map<string, { object: string; diag: Diagnostic }[]>();

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
    const target = p.target ?? 'local';
    if (target !== 'local') throw new Error(`target '${target}': only the local kernel is supported here`);
    const kernel = await import('../kernel');
    const { loadObjectAsync, LoadError } = await import('../load');
    this.clearRejection(p.path);
    const obj = openObject(new Uint8Array(readFileSync(p.path)), p.path);
    let result: LoadResult;
    try {
      // async: each stage's progress notification goes out while the load runs
      result = await loadObjectAsync(obj, { kernel: kernel.localKernel, logLevel: p.logLevel ?? 0, onProgress: progress });
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      const d = e.details;
      const source = d.source && { file: resolveSource(d.source.file) ?? d.source.file, line: Math.max(0, d.source.line - 1), column: Math.max(0, d.source.column - 1), text: d.source.text };
      if (source) this.addRejection(p.path, source.file, {
        range: { start: { line: source.line, character: source.column }, end: { line: source.line, character: Math.max(source.column + 1, source.text.length) } },
        severity: DiagnosticSeverity.Error,
        source: 'bpf-lens',
        code: 'verifier',
        message: `${d.program ? `${d.program}: ` : ''}${e.message}`,
      });
      return {
        ok: false,
        error: { message: e.message, stage: e.stage, program: d.program, insn: d.insn, source, log: d.log?.replace(/\0+$/, '') },
        logs: [],
        ms: performance.now() - t0,
      };
    }
    const handle = this.next++;
    const info: LoadedKernelObject = {
      handle,
      path: p.path,
      target,
      programs: result.programs.map((x) => ({ name: x.name, id: x.id, type: x.type, verifiedInsns: x.verifiedInsns })),
      maps: result.maps.map((m) => ({ name: m.name, kernelName: m.kernelName, id: m.id, type: m.type, ...(m.pinnedAt && !m.reused ? { pinnedAt: m.pinnedAt } : {}) })),
      warnings: result.warnings,
    };
    this.held.set(handle, { info, result });
    return {
      ok: true,
      loaded: info,
      logs: result.programs.filter((x) => x.log).map((x) => ({ program: x.name, log: x.log!.replace(/\0+$/, '') })),
      ms: performance.now() - t0,
    };
  }

  /** Closes the load's FDs and removes the pins it made (not the pinned maps it reused). */
  unload(handle: number): UnloadObjectResult {
    const h = this.held.get(handle);
    if (!h) return { closed: false, unpinned: [] };
    this.held.delete(handle);
    h.result.close();
    const unpinned: string[] = [];
    for (const m of h.info.maps) {
      if (!m.pinnedAt) continue;
      try {
        unlinkSync(m.pinnedAt);
        unpinned.push(m.pinnedAt);
      } catch {
        // someone else removed it
      }
    }
    return { closed: true, unpinned };
  }

  dispose(): void {
    for (const h of [...this.held.keys()]) this.unload(h);
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
