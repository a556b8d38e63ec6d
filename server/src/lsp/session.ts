/**
 * What every handler of the language server shares: the connection, the open documents, the
 * workspace index, the targets and loads, the settings, and the queue that orders index work
 * before the requests that read it. Feature modules take a Session and give back handlers;
 * server.ts only wires them to the connection.
 */
import { basename } from 'path';
import { fileURLToPath, pathToFileURL } from 'url';
import { type Connection, ResponseError, TextDocuments } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { ObjectsChangedNotification } from '../../../protocol/lsp';
import { badTargetTimeout, TARGET_TIMEOUT_DEFAULT_S } from '../../../protocol/target-spec';
import { configureArgCtx } from './arg-ctx';
import { CoreOnTarget } from './core-checks';
import { type CoreCheckOf, sourceDiagnostics } from './diagnostics';
import { KernelLoads } from './kernel-loads';
import { VerifierStates } from './verifier-states';
import { withResolvedExterns } from './link-objects';
import { parseTargetSettings, Targets } from './targets';
import { DEFAULT_SETTINGS, type IndexSettings, WorkspaceIndex } from './workspace';
import type { Cancel } from './dump-pool';
import { WorkerPool } from './worker-pool';

/** Reading one object takes milliseconds; this is for a hostile one that would take forever. */
const READ_TIMEOUT_MS = 30_000;

export function toPath(uri: string): string | undefined {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
  } catch {
    return undefined;
  }
}

export class Session {
  readonly documents = new TextDocuments(TextDocument);
  /**
   * Threads that read the workspace's objects: one, on the second core (the first answers
   * requests), at a lower priority (a hover during the index takes a core back at once).
   */
  private readonly readers = new WorkerPool({ lanes: 1, depth: 4, timeoutMs: READ_TIMEOUT_MS, background: true });
  readonly index = new WorkspaceIndex([], DEFAULT_SETTINGS, this.readers);
  readonly targets = new Targets();
  readonly loads = new KernelLoads(this.targets);
  /** Explain Verification's states per source line, for hovers. */
  readonly verifierStates = new VerifierStates();
  readonly core = new CoreOnTarget(this.targets, (msg) => this.log(msg), this.readers);
  readonly coreOf: CoreCheckOf = (o) => this.core.of(o);
  folders: string[] = [];
  canConfigure = false;
  hasFolderEvents = false;
  private settings: IndexSettings = DEFAULT_SETTINGS;
  private ready: Promise<void> = Promise.resolve();
  /** Index work queued or running. */
  private queued = 0;
  private publishing: Promise<void> = Promise.resolve();
  private readonly published = new Set<string>();

  constructor(readonly connection: Connection) {}

  log(msg: string): void {
    this.connection.console.log(msg);
  }

  /** Runs a handler; failures are logged and answered with `fallback` (or a ResponseError). */
  guard<P, R>(
    name: string,
    fn: (p: P, cancel?: Cancel) => Promise<R> | R,
    fallback?: R,
  ): (p: P, cancel?: Cancel) => Promise<R | ResponseError<void>> {
    return async (p: P, cancel?: Cancel) => {
      try {
        return await fn(p, cancel);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        this.connection.console.error(`${name}: ${msg}${process.env.BPF_LENS_DEBUG && e instanceof Error ? `\n${e.stack}` : ''}`);
        return fallback !== undefined ? fallback : new ResponseError<void>(-32603, `${name}: ${msg}`);
      }
    };
  }

  /** Resolves when the index work queued so far is done. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Starts the threads that read objects (before the first scan needs them). */
  startReaders(): void {
    this.readers.warm();
  }

  /** Is index work queued or running (requests that wait for it would wait now)? */
  get indexing(): boolean {
    return this.queued > 0;
  }

  /** Queues work after the index work before it (file events); requests wait for it. */
  enqueue(work: () => Promise<void>): void {
    const guarded = this.guard('file events', work, undefined);
    void this.queue(() => guarded(undefined));
  }

  private queue(work: () => Promise<unknown>): Promise<void> {
    this.queued++;
    const run = this.ready.then(work).then(
      () => void this.queued--,
      (e) => {
        this.queued--;
        this.log(`index: ${(e as Error).message}`);
      },
    );
    this.ready = run;
    return run;
  }

  textOf(uri: string): string | undefined {
    return this.documents.get(uri)?.getText();
  }

  async readSettings(): Promise<void> {
    if (!this.canConfigure) return;
    try {
      this.applySettings(await this.connection.workspace.getConfiguration('bpfLens'));
    } catch (e) {
      this.log(`settings: ${(e as Error).message}`);
    }
  }

  applySettings(raw: unknown): void {
    this.settings = normalizeSettings(raw);
    const r = (raw ?? {}) as Record<string, unknown>;
    const t = parseTargetSettings(r.targets);
    for (const p of t.problems) this.log(`settings: ${p}`);
    this.targets.configure(t.targets);
    const bad = r.targetTimeout === undefined ? undefined : badTargetTimeout(r.targetTimeout);
    if (bad) this.log(`settings: bpfLens.targetTimeout ${bad}: ${TARGET_TIMEOUT_DEFAULT_S} s it is`);
    this.targets.timeoutMs = (r.targetTimeout === undefined || bad ? TARGET_TIMEOUT_DEFAULT_S : (r.targetTimeout as number)) * 1000;
    this.core.enabled = r.coreDiagnostics !== false;
  }

  /**
   * Scans the workspace. Requests wait for the scan only: the diagnostics it leads to are
   * published after, in the background (each publish in turn, see publishAll).
   */
  async reindex(): Promise<string[]> {
    const t0 = Date.now();
    this.index.configure(this.folders, this.settings);
    const changed = await this.index.scan(() => this.openSources());
    this.log(`indexed ${this.index.all().length} objects in ${Date.now() - t0} ms (${changed.length} changed)`);
    void this.publishAll().catch((e: Error) => this.log(`diagnostics: ${e.message}`));
    this.objectsChanged(changed);
    return changed;
  }

  /** The files open in the editor (C sources, mostly). */
  private openSources(): string[] {
    return this.documents
      .all()
      .map((doc) => toPath(doc.uri))
      .filter((p): p is string => !!p);
  }

  startReindex(): Promise<void> {
    return this.queue(() => this.reindex());
  }

  objectsChanged(paths: string[]): void {
    if (paths.length) void this.connection.sendNotification(ObjectsChangedNotification, { paths });
  }

  /**
   * Diagnostics of every source the index, a failed load or an open editor knows of; clears the
   * ones gone. One publish at a time, each on the index as it is when it starts.
   */
  publishAll(): Promise<void> {
    const run = this.publishing.then(() => this.publishNow());
    this.publishing = run.catch(() => undefined);
    return run;
  }

  private async publishNow(): Promise<void> {
    const { index, loads } = this;
    const sources = new Set([...index.sources(), ...loads.rejectedSources()]);
    for (const d of this.documents.all()) {
      const p = toPath(d.uri);
      if (p) sources.add(p);
    }
    const now = new Set<string>();
    // Where each object's link externs resolve among the workspace's objects.
    const resolved = new Map(
      withResolvedExterns(index.all().map((o) => o.summary)).map((s) => [s.path, new Map(s.externs.map((e) => [e.name, e.resolvedIn]))]),
    );
    const definedIn = (o: { path: string }, name: string) => {
      const d = resolved.get(o.path)?.get(name);
      return d && basename(d);
    };
    for (const src of sources) {
      const uri = pathToFileURL(src).href;
      const diags = [
        ...(await sourceDiagnostics(src, index.objectsFor(src), this.textOf(uri), this.coreOf, definedIn)),
        ...loads.diagnosticsFor(src),
      ];
      if (diags.length || this.published.has(uri)) await this.connection.sendDiagnostics({ uri, diagnostics: diags });
      if (diags.length) now.add(uri);
    }
    for (const uri of this.published)
      if (!now.has(uri) && !sources.has(toPath(uri) ?? '')) await this.connection.sendDiagnostics({ uri, diagnostics: [] });
    this.published.clear();
    for (const u of now) this.published.add(u);
  }

  async dispose(): Promise<void> {
    this.readers.dispose();
    await this.loads.dispose();
    await this.targets.dispose();
  }
}

/** Settings from initializationOptions or workspace/configuration, with defaults for what is missing. */
export function normalizeSettings(raw: unknown): IndexSettings {
  const s = (raw ?? {}) as Record<string, unknown>;
  const list = (v: unknown, d: readonly string[]) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : d);
  configureArgCtx(s.argCtxFallback); // bpfLens.argCtxFallback: what hovers and diagnostics assume for __arg_ctx
  return {
    objects: list(s.objects, DEFAULT_SETTINGS.objects),
    exclude: list(s.exclude, DEFAULT_SETTINGS.exclude),
    maxObjectSize: typeof s.maxObjectSize === 'number' && s.maxObjectSize > 0 ? s.maxObjectSize : DEFAULT_SETTINGS.maxObjectSize,
  };
}
