/**
 * The BPF Lens language server: wires the LSP connection to the workspace index, hovers,
 * diagnostics and the custom requests of protocol.ts. Every handler is wrapped: a bad
 * object or a bug in one handler gives an error item or a logged message, never a crash.
 */
import { basename } from 'path';
import { fileURLToPath, pathToFileURL } from 'url';
import {
  Connection, DidChangeConfigurationNotification, Hover, InitializeParams, InitializeResult,
  MarkupKind, ResponseError, TextDocuments, TextDocumentSyncKind,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { configureArgCtx } from './arg-ctx';
import { coreHover } from './core-hover';
import { splitLines } from './c-text';
import { CoreCheckOf, sourceDiagnostics } from './diagnostics';
import { documentText } from './documents';
import { DumpPool } from './dump-pool';
import { hoverAt, hoverWord } from './hover';
import {
  BaseDiffRequest, BtfTypesRequest, DistillRequest, DocumentRequest, EXPERIMENTAL, LinkObjectsRequest, LoadedObjectsRequest, LoadObjectRequest, LoadProgressNotification,
  ObjectsChangedNotification, ObjectsRequest, parseDocumentQuery, ReindexRequest, SCHEME, UnloadObjectRequest,
} from '../../../protocol/lsp';
import { parseTargetSettings, Targets } from './targets';
import { CoreOnTarget, registerTargetRequests } from './target-requests';
import { KernelLoads } from './kernel-loads';
import { baseDiffDiagnostics, baseDiffText, ModuleDiffs } from './base-diff';
import type { BaseDiffParams } from '../../../protocol/lsp';
import { DEFAULT_SETTINGS, IndexSettings, WorkspaceIndex } from './workspace';
import { linkObjectsRequest, withResolvedExterns } from './link-objects';
import { distillRequest } from './distill';

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const index = new WorkspaceIndex([]);
  let settings: IndexSettings = DEFAULT_SETTINGS;
  let folders: string[] = [];
  let canConfigure = false;
  let hasFolderEvents = false;
  let ready: Promise<void> = Promise.resolve();
  const published = new Set<string>();
  const targets = new Targets();
  const loads = new KernelLoads(targets);
  const core = new CoreOnTarget(targets, (msg) => log(msg));
  const coreOf: CoreCheckOf = (o) => core.of(o);

  const log = (msg: string) => connection.console.log(msg);

  /** Runs a handler; failures are logged and answered with `fallback` (or a ResponseError). */
  function guard<P, R>(name: string, fn: (p: P) => Promise<R> | R, fallback?: R): (p: P) => Promise<R | ResponseError<void>> {
    return async (p: P) => {
      try {
        return await fn(p);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        connection.console.error(`${name}: ${msg}${process.env.BPF_LENS_DEBUG && e instanceof Error ? `\n${e.stack}` : ''}`);
        return fallback !== undefined ? fallback : new ResponseError<void>(-32603, `${name}: ${msg}`);
      }
    };
  }

  function toPath(uri: string): string | undefined {
    try {
      return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
    } catch {
      return undefined;
    }
  }

  async function readSettings(): Promise<void> {
    if (!canConfigure) return;
    try {
      const s = await connection.workspace.getConfiguration('bpfLens');
      applySettings(s);
    } catch (e) {
      log(`settings: ${(e as Error).message}`);
    }
  }

  function applySettings(raw: unknown): void {
    settings = normalizeSettings(raw);
    const r = (raw ?? {}) as Record<string, unknown>;
    const t = parseTargetSettings(r.targets);
    for (const p of t.problems) log(`settings: ${p}`);
    targets.configure(t.targets);
    core.enabled = r.coreDiagnostics !== false;
  }


  async function reindex(): Promise<string[]> {
    const t0 = Date.now();
    index.configure(folders, settings);
    const changed = await index.scan();
    log(`indexed ${index.all().length} objects in ${Date.now() - t0} ms (${changed.length} changed)`);
    await publishAll();
    if (changed.length) void connection.sendNotification(ObjectsChangedNotification, { paths: changed });
    return changed;
  }

  function startReindex(): Promise<void> {
    const run = ready.then(() => reindex()).then(() => undefined, (e) => log(`index: ${(e as Error).message}`));
    ready = run;
    return run;
  }

  async function publishAll(): Promise<void> {
    const sources = new Set([...index.sources(), ...loads.rejectedSources()]);
    for (const d of documents.all()) {
      const p = toPath(d.uri);
      if (p) sources.add(p);
    }
    const now = new Set<string>();
    // Where each object's link externs resolve among the workspace's objects.
    const resolved = new Map(withResolvedExterns(index.all().map((o) => o.summary)).map((s) => [s.path, new Map(s.externs.map((e) => [e.name, e.resolvedIn]))]));
    const definedIn = (o: { path: string }, name: string) => { const d = resolved.get(o.path)?.get(name); return d && basename(d); };
    for (const src of sources) {
      const uri = pathToFileURL(src).href;
      const diags = [...(await sourceDiagnostics(src, index.objectsFor(src), textOf(uri), coreOf, definedIn)), ...loads.diagnosticsFor(src)];
      if (diags.length || published.has(uri)) connection.sendDiagnostics({ uri, diagnostics: diags });
      if (diags.length) now.add(uri);
    }
    for (const uri of published) if (!now.has(uri) && !sources.has(toPath(uri) ?? '')) connection.sendDiagnostics({ uri, diagnostics: [] });
    published.clear();
    for (const u of now) published.add(u);
  }

  function textOf(uri: string): string | undefined {
    return documents.get(uri)?.getText();
  }

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    folders = (params.workspaceFolders ?? []).map((f) => toPath(f.uri)).filter((p): p is string => !!p);
    if (!folders.length && params.rootUri) {
      const p = toPath(params.rootUri);
      if (p) folders.push(p);
    }
    applySettings(params.initializationOptions ?? {});
    canConfigure = !!params.capabilities.workspace?.configuration;
    hasFolderEvents = !!params.capabilities.workspace?.workspaceFolders;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
        experimental: { bpfLens: EXPERIMENTAL },
      },
      serverInfo: { name: 'bpf-lens', version: '0.1.0' },
    };
  });

  connection.onInitialized(() => {
    if (canConfigure) void connection.client.register(DidChangeConfigurationNotification.type, undefined).catch(() => undefined);
    if (hasFolderEvents) {
      connection.workspace.onDidChangeWorkspaceFolders(guard('workspace folders', async (e) => {
        const gone = new Set(e.removed.map((f) => toPath(f.uri)));
        folders = [...folders.filter((f) => !gone.has(f)), ...e.added.map((f) => toPath(f.uri)).filter((p): p is string => !!p)];
        await startReindex();
      }, undefined));
    }
    void startReindex();
  });

  connection.onDidChangeConfiguration(guard('configuration', async (p: { settings?: unknown }) => {
    const s = (p.settings as { bpfLens?: unknown } | undefined)?.bpfLens;
    if (s) applySettings(s);
    else await readSettings();
    await startReindex();
  }, undefined));

  // File events run in order after the index work before them; requests wait for them.
  connection.onDidChangeWatchedFiles((p) => {
    ready = ready.then(guard('file events', async () => {
      const changed: string[] = [];
      for (const c of p.changes) {
        const file = toPath(c.uri);
        if (file && (await index.fileChanged(file))) changed.push(file);
      }
      await publishAll();
      if (changed.length) void connection.sendNotification(ObjectsChangedNotification, { paths: changed });
    }, undefined)).then(() => undefined);
  });

  documents.onDidOpen(guard('open', async () => { await ready; await publishAll(); }, undefined));
  documents.onDidSave(guard('save', async () => { await ready; await publishAll(); }, undefined));

  connection.onHover(guard('hover', async (p): Promise<Hover | null> => {
    await ready;
    const uri = p.textDocument.uri;
    const doc = documents.get(uri);
    if (!doc) return null;
    let md: string | undefined;
    if (uri.startsWith(`${SCHEME}:`)) {
      // A disassembly: map and function names in it are those of the object it shows.
      const q = uri.indexOf('?');
      const params = q < 0 ? undefined : parseDocumentQuery(decodeURIComponent(uri.slice(q + 1)));
      const o = params && index.get(params.path);
      md = o && hoverWord(o, doc.getText(), p.position.line, p.position.character);
    } else {
      const file = toPath(uri);
      if (!file) return null;
      const objects = index.objectsFor(file);
      md = hoverAt(objects, doc.getText(), p.position.line, p.position.character);
      // A field a CO-RE relocation reads: its value on the selected target.
      if (!md && objects.length) {
        const checks = (await Promise.all(objects.map(async (object) => { const c = await coreOf(object); return c && { object, ...c }; })))
          .filter((c): c is NonNullable<typeof c> => !!c);
        md = coreHover(splitLines(doc.getText()), p.position.line, p.position.character, checks, file);
      }
    }
    return md ? { contents: { kind: MarkupKind.Markdown, value: md } } : null;
  }, null));

  connection.onRequest(ObjectsRequest, guard('bpfLens/objects', async (p) => {
    await ready;
    if (p?.path) return { objects: withResolvedExterns([(await index.open(p.path)).summary], index.all().map((o) => o.summary)) };
    return { objects: withResolvedExterns(index.all().map((o) => o.summary)) };
  }));

  connection.onRequest(LinkObjectsRequest, guard('bpfLens/linkObjects', async (p) => linkObjectsRequest(p)));
  connection.onRequest(DistillRequest, guard('bpfLens/distill', async (p) => distillRequest(p)));

  connection.onRequest(ReindexRequest, guard('bpfLens/reindex', async () => {
    await startReindex();
    return { objects: index.all().map((o) => o.summary) };
  }));

  connection.onRequest(BtfTypesRequest, guard('bpfLens/btfTypes', async (p) => {
    await ready;
    const o = await index.open(p.path);
    const cat = o.catalog();
    if (!cat) throw new Error(o.error ?? `${p.path} has no BTF`);
    return cat.page(p);
  }));

  const diffs = new ModuleDiffs();
  /** Diffs a module's distilled base and publishes one diagnostic per type that would not relocate. */
  async function moduleDiff(p: BaseDiffParams) {
    // Without an explicit target file: the selected target's vmlinux BTF.
    const t = p.target ? undefined : await targets.btfFile(targets.selected);
    const r = await diffs.diff(t ? { ...p, target: t.file } : p);
    if (t) r.result = { ...r.result, target: t.label };
    void connection.sendDiagnostics({ uri: pathToFileURL(p.path).href, diagnostics: baseDiffDiagnostics(r.result) });
    log(`base diff ${p.path} vs ${r.result.target}: ${r.result.noBase ? 'no .BTF.base' : `${r.result.relocates ? 'relocates' : 'does not relocate'}`} (${r.result.ms.toFixed(0)} ms)`);
    return r;
  }
  connection.onRequest(BaseDiffRequest, guard('bpfLens/baseDiff', async (p) => {
    await ready;
    return (await moduleDiff(p)).result;
  }));

  const dumps = new DumpPool();
  connection.onRequest(DocumentRequest, guard('bpfLens/document', async (p) => {
    await ready;
    if (p.kind === 'baseDiff') {
      const r = await moduleDiff(p);
      return { text: baseDiffText(r.result, r.diff), languageId: 'plaintext' };
    }
    const o = await index.open(p.path);
    // Opening a module's summary also checks its distilled base against this kernel.
    if (p.kind === 'summary' && o.summary.module?.distilledBase) await moduleDiff({ path: p.path }).catch((e) => log(`base diff: ${(e as Error).message}`));
    // Whole-BTF dumps run in the worker: vmlinux's C dump takes about half a second.
    if ((p.kind === 'c' || p.kind === 'raw') && o.btf && dumps.available) {
      return { text: await dumps.dump({ path: o.path, kind: p.kind, basePath: o.btfBasePath }), languageId: p.kind === 'c' ? 'c' : 'plaintext' };
    }
    return documentText(o, p);
  }));
  connection.onExit(() => {
    dumps.dispose();
    void loads.dispose().then(() => targets.dispose());
  });
  connection.onShutdown(async () => {
    await loads.dispose();
    await targets.dispose();
  });

  connection.onRequest(LoadObjectRequest, guard('bpfLens/loadObject', async (p) => {
    await ready;
    const r = await loads.load(p, (stage, detail) => void connection.sendNotification(LoadProgressNotification, { token: p.token, stage, detail }),
      (name) => index.resolveSource(p.path, name));
    log(`load ${p.path}: ${r.ok ? `${r.loaded!.programs.length} programs, ${r.loaded!.maps.length} maps` : r.error!.message} (${r.ms.toFixed(0)} ms)`);
    await publishAll();
    return r;
  }));
  registerTargetRequests(connection, {
    targets, index, core, log, guard, publishAll, readSettings, whenReady: () => ready,
  });
  connection.onRequest(UnloadObjectRequest, guard('bpfLens/unloadObject', async (p) => {
    const r = await loads.unload(p.handle);
    await publishAll();
    return r;
  }));
  connection.onRequest(LoadedObjectsRequest, guard('bpfLens/loadedObjects', () => ({ loaded: loads.all() })));

  documents.listen(connection);
  connection.listen();
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
