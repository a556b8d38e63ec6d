/**
 * Objects the language server loaded into a kernel (bpfLens/loadObject), through the target's
 * KernelTarget (this machine's kernel in-process when it may use bpf(), else the target's
 * agent: an SSH host, or the local agent under sudo -n). It holds them until bpfLens/unloadObject or exit, and keeps the
 * rejected-source-line diagnostic of the last failed load of each object. The kernel and the
 * pipeline are imported lazily, so a server that never loads never touches koffi.
 */
import { readFileSync } from 'fs';
import { basename } from 'path';
import { pathToFileURL } from 'url';
import type { Diagnostic, DiagnosticRelatedInformation } from 'vscode-languageserver/node';
import type { RejectionExplanationData } from '../../../protocol/agent';
import { DiagnosticSeverity } from 'vscode-languageserver/node';
import { requireLoad } from '../remote/agent-client';
import type { KernelTarget, LoadFailure } from '../targets';
import { formatLoadLines } from '../targets/format';
import type {
  KernelAttachment,
  LoadedKernelObject,
  LoadObjectError,
  LoadObjectParams,
  LoadObjectResult,
  MapDeleteParams,
  MapElementsParams,
  MapElementsResult,
  MapUpdateParams,
  MapWriteResult,
  UnloadObjectResult,
} from '../../../protocol/lsp';
import { viewDelete, viewElements, viewUpdate } from './map-view';
import { LOCAL, targetFailure, Targets } from './targets';

interface Held {
  readonly info: Omit<LoadedKernelObject, 'attached'>;
  /** Where it is loaded: map reads for hovers, attach, detach and test runs go there. */
  readonly target: KernelTarget;
  /** The load's handle on its target. */
  readonly kernelHandle: number;
  /** Program → SEC() name (test-run verdict names depend on the attach type). */
  readonly sections: ReadonlyMap<string, string>;
  /** What is attached now, oldest first. */
  attached: KernelAttachment[];
  /** The object's bytes as loaded (the Events panel decodes records with its BTF). */
  readonly object: Uint8Array;
  /** Closes what the load holds; answers the pins it removed. */
  release(): Promise<string[]>;
}

/** A loaded map seen from a hover: how many elements, the first few as text. */
export interface MapPreview {
  readonly target: string;
  readonly id: number;
  readonly type: string;
  readonly count: number;
  readonly truncated: boolean;
  readonly elements: readonly { readonly key: string; readonly value: string }[];
  /** Why its elements could not be read (a queue, a ring buffer: no keys to walk). */
  readonly error?: string;
}

type SourceLine = NonNullable<LoadObjectError['source']>;

export type { Held as HeldLoad };

export class KernelLoads {
  private next = 1;
  private readonly held = new Map<number, Held>();
  private readonly releasing = new Map<number, Promise<string[]>>();
  /** Source file → diagnostics of rejected loads, by object path. */
  private readonly rejections = new Map<string, { object: string; diag: Diagnostic }[]>();

  constructor(private readonly targets: Targets = new Targets()) {}

  all(): LoadedKernelObject[] {
    return [...this.held.values()].map((h) => ({ ...h.info, attached: [...h.attached] }));
  }

  /** The load behind an editor handle (attach, detach and test runs go to its target). */
  get(handle: number): Held | undefined {
    return this.held.get(handle);
  }

  /**
   * Map `name` of every load of the objects at `paths`: its element count (up to `max`, then
   * `truncated`) and the first `preview` elements as C-like text, read on the load's target.
   */
  async mapPreviews(paths: readonly string[], name: string, max = 10_000, preview = 5): Promise<MapPreview[]> {
    const out: MapPreview[] = [];
    for (const h of this.held.values()) {
      if (!paths.includes(h.info.path)) continue;
      const m = h.info.maps.find((x) => x.name === name || x.kernelName === name);
      if (!m) continue;
      try {
        const r = await h.target.mapDump({ id: m.id, maxElements: max, preview, noText: true });
        out.push({
          target: h.info.target,
          id: m.id,
          type: m.type,
          count: r.elements,
          truncated: r.truncated,
          elements: r.preview ?? [],
          ...(r.error ? { error: r.error.message } : {}),
        });
      } catch (e) {
        out.push({ target: h.info.target, id: m.id, type: m.type, count: 0, truncated: false, elements: [], error: (e as Error).message });
      }
    }
    return out;
  }

  /** The elements of map `name` of load `handle`, as the map view lists them (filtered on key text). */
  mapElements(p: MapElementsParams): Promise<MapElementsResult> {
    return viewElements(this.held.get(p.handle), p);
  }

  /** The map view's edits: one element written or deleted from its C-like text. */
  mapUpdate(p: MapUpdateParams): Promise<MapWriteResult> {
    return viewUpdate(this.held.get(p.handle), p);
  }

  mapDelete(p: MapDeleteParams): Promise<MapWriteResult> {
    return viewDelete(this.held.get(p.handle), p);
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
    const name = p.target ?? LOCAL;
    this.clearRejection(p.path);
    const bytes = new Uint8Array(readFileSync(p.path));
    const done = (error: LoadObjectError): LoadObjectResult => ({ ok: false, error, logs: [], ms: performance.now() - t0 });
    const failed = (e: unknown) => {
      const f = targetFailure(e);
      return done({ message: f.message, stage: 'target', code: f.code, ...(f.detail ? { log: f.detail } : {}) });
    };
    let target: KernelTarget;
    try {
      if (!this.targets.inProcess(name)) progress('connect', name);
      target = await this.targets.kernelTarget(name);
      // bpf-not-permitted, saying why, before the object travels
      if (!target.inProcess) await requireLoad(target);
    } catch (e) {
      return failed(e);
    }
    let r;
    try {
      // async: each stage's progress notification goes out while the load runs
      r = await target.load({ name: target.inProcess ? p.path : basename(p.path), object: bytes, logLevel: p.logLevel ?? 0 }, progress);
    } catch (e) {
      return failed(e);
    }
    if (!r.ok) return done(this.rejected(p.path, r.error, resolveSource));
    const l = r.loaded;
    const info: Omit<LoadedKernelObject, 'attached'> = {
      handle: this.next++,
      path: p.path,
      target: name,
      programs: l.programs.map((x) => ({ name: x.name, id: x.id, type: x.type, verifiedInsns: x.verifiedInsns })),
      maps: l.maps.map((m) => ({
        name: m.name,
        kernelName: m.kernelName,
        id: m.id,
        type: m.type,
        ...(m.pinnedAt && !m.reused ? { pinnedAt: m.pinnedAt } : {}),
      })),
      warnings: l.warnings,
    };
    this.held.set(info.handle, {
      info,
      target,
      kernelHandle: l.handle,
      sections: new Map(l.programs.map((x) => [x.name, x.section])),
      attached: [],
      object: bytes,
      // an agent that ended took the load with it
      release: async () => [...(await target.unload(l.handle, { unpinMaps: true }).catch(() => ({ unpinned: [] }))).unpinned],
    });
    const logs = l.programs.filter((x) => x.log).map((x) => ({ program: x.name, log: x.log! }));
    return {
      ok: true,
      loaded: { ...info, attached: [] },
      logs,
      lines: formatLoadLines({ ...l, programs: l.programs.map(({ log: _log, ...x }) => x) }),
      ms: performance.now() - t0,
    };
  }

  /** A rejected load: the error for the client, and a diagnostic on the rejected source line. */
  private rejected(object: string, d: LoadFailure, resolveSource: (name: string) => string | undefined): LoadObjectError {
    const message = d.message;
    const source: SourceLine | undefined = d.source && {
      file: resolveSource(d.source.file) ?? d.source.file,
      line: Math.max(0, d.source.line - 1),
      column: Math.max(0, d.source.column - 1),
      text: d.source.text,
    };
    if (source)
      this.addRejection(object, source.file, {
        range: {
          start: { line: source.line, character: source.column },
          end: { line: source.line, character: Math.max(source.column + 1, source.text.length) },
        },
        severity: DiagnosticSeverity.Error,
        source: 'bpf-lens',
        code: 'verifier',
        message: `${d.program ? `${d.program}: ` : ''}${message}${d.explanation ? `\n${d.explanation.explanation}\nHint: ${d.explanation.hint}` : ''}`,
        ...(d.explanation ? { relatedInformation: relatedInformation(d.explanation, resolveSource) } : {}),
      });
    return { message, stage: d.stage, program: d.program, insn: d.insn, source, log: d.log };
  }

  /** Closes the load's FDs and removes the pins it made (not the pinned maps it reused). */
  async unload(handle: number): Promise<UnloadObjectResult> {
    const h = this.held.get(handle);
    if (!h) return { closed: false, unpinned: [] };
    this.held.delete(handle);
    const r = h.release();
    this.releasing.set(handle, r);
    try {
      return { closed: true, unpinned: await r };
    } finally {
      this.releasing.delete(handle);
    }
  }

  /** Settles once an unload under way has finished (the target sent its last events by then); undefined when none is. */
  released(handle: number): Promise<unknown> | undefined {
    return this.releasing.get(handle)?.catch(() => undefined);
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

/** The verifier rejection's related locations (origin of the offending state first) as the Problems view shows them. */
function relatedInformation(
  x: RejectionExplanationData,
  resolveSource: (name: string) => string | undefined,
): DiagnosticRelatedInformation[] {
  return x.related
    .filter((r) => r.file && r.line)
    .map((r) => {
      const line = Math.max(0, r.line! - 1);
      return {
        location: {
          uri: pathToFileURL(resolveSource(r.file!) ?? r.file!).href,
          range: { start: { line, character: 0 }, end: { line, character: Math.max(1, r.text?.length ?? 1) } },
        },
        message: r.why,
      };
    });
}
