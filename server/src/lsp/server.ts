/**
 * The BPF Lens language server: wires the LSP connection to the session (index, targets,
 * loads) and to the handlers of the feature modules. The custom requests are one table; the
 * server registers each handler and advertises exactly their methods. Every handler is
 * wrapped: a bad object or a bug in one handler gives an error or a logged message, never a crash.
 */
import {
  type Connection,
  DidChangeConfigurationNotification,
  type HoverParams,
  type InitializeParams,
  type InitializeResult,
  type RequestType,
  TextDocumentSyncKind,
} from 'vscode-languageserver/node';
import type { ExperimentalCapabilities } from '../../../protocol/lsp';
import { documentRequests } from './document-requests';
import { type Cancel, DumpPool } from './dump-pool';
import type { RequestHandler } from './handlers';
import { hover } from './hover-request';
import { attachRequests } from './attach-requests';
import { eventRequests } from './event-requests';
import { loadRequests } from './load-requests';
import { programStatsRequests } from './program-stats';
import { verifierRequests } from './verifier-states';
import { objectRequests } from './object-requests';
import { Session, toPath } from './session';
import { targetRequests } from './target-requests';

export { normalizeSettings } from './session';

export function startServer(connection: Connection): void {
  const d = new Session(connection);
  const dumps = new DumpPool();
  const requests = requestHandlers(d, dumps);
  for (const r of requests)
    connection.onRequest(
      r.type as RequestType<unknown, unknown, void>,
      d.guard(r.type.method, (p: unknown, cancel?: Cancel) => r.handle(p, cancel)),
    );
  const experimental: ExperimentalCapabilities = { version: 1, requests: requests.map((r) => r.type.method) };

  connection.onInitialize((params) => {
    d.startReaders(); // they start while the client finishes the handshake
    return initialize(d, params, experimental);
  });
  connection.onInitialized(() => initialized(d));
  // guard() never rejects: it logs and answers the fallback.
  const onConfiguration = d.guard(
    'configuration',
    async (p: { settings?: unknown }) => {
      const s = (p.settings as { bpfLens?: unknown } | undefined)?.bpfLens;
      if (s) d.applySettings(s);
      else await d.readSettings();
      await d.startReindex();
    },
    undefined,
  );
  connection.onDidChangeConfiguration((p) => void onConfiguration(p));
  // File events run in order after the index work before them; requests wait for them.
  connection.onDidChangeWatchedFiles((p) =>
    d.enqueue(async () => {
      const changed: string[] = [];
      for (const c of p.changes) {
        const file = toPath(c.uri);
        if (file && (await d.index.fileChanged(file))) changed.push(file);
      }
      await d.publishAll();
      d.objectsChanged(changed);
    }),
  );
  const republish = async () => {
    await d.whenReady();
    await d.publishAll();
  };
  d.documents.onDidOpen(d.guard('open', republish, undefined));
  d.documents.onDidSave(d.guard('save', republish, undefined));
  connection.onHover(d.guard('hover', (p: HoverParams) => hover(d, p), null));

  connection.onExit(() => {
    dumps.dispose();
    void d.dispose();
  });
  connection.onShutdown(() => d.dispose());
  d.documents.listen(connection);
  connection.listen();
}

/** The custom requests, one handler each, from the feature modules. */
export function requestHandlers(d: Session, dumps: DumpPool): RequestHandler[] {
  return [
    ...objectRequests(d),
    ...documentRequests(d, dumps),
    ...loadRequests(d),
    ...attachRequests(d),
    ...eventRequests(d),
    ...targetRequests(d),
    ...verifierRequests(d),
    ...programStatsRequests(d),
  ];
}

function initialize(d: Session, params: InitializeParams, experimental: ExperimentalCapabilities): InitializeResult {
  d.folders = (params.workspaceFolders ?? []).map((f) => toPath(f.uri)).filter((p): p is string => !!p);
  if (!d.folders.length && params.rootUri) {
    const p = toPath(params.rootUri);
    if (p) d.folders.push(p);
  }
  d.applySettings(params.initializationOptions ?? {});
  d.canConfigure = !!params.capabilities.workspace?.configuration;
  d.hasFolderEvents = !!params.capabilities.workspace?.workspaceFolders;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      experimental: { bpfLens: experimental },
    },
    serverInfo: { name: 'bpf-lens', version: '0.1.0' },
  };
}

function initialized(d: Session): void {
  const { connection } = d;
  if (d.canConfigure) void connection.client.register(DidChangeConfigurationNotification.type, undefined).catch(() => undefined);
  if (d.hasFolderEvents) {
    connection.workspace.onDidChangeWorkspaceFolders(
      d.guard(
        'workspace folders',
        async (e) => {
          const gone = new Set(e.removed.map((f) => toPath(f.uri)));
          d.folders = [...d.folders.filter((f) => !gone.has(f)), ...e.added.map((f) => toPath(f.uri)).filter((p): p is string => !!p)];
          await d.startReindex();
        },
        undefined,
      ),
    );
  }
  void d.startReindex();
}
