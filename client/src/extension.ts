/**
 * The BPF Lens extension: starts the language server, and shows what it answers in a tree,
 * virtual documents, an output channel and a status bar item. Everything clever lives in
 * the server (server/src/lsp); this side only asks.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { LanguageClient, type LanguageClientOptions, type ServerOptions, State, TransportKind } from 'vscode-languageclient/node';
import { type LoadedKernelObject, ObjectsChangedNotification, SCHEME } from '../../protocol/lsp';
import { registerCommands } from './commands';
import { readConfig, serverSettings } from './config';
import { BpfDocuments, SourceLinks } from './documents';
import { EventsPanels } from './events-panel';
import { registerMapViews } from './map-view-panel';
import { MatrixPanels } from './matrix-panel';
import { PRINTK_LANGUAGE, PrintkChannel } from './printk';
import { RunStats } from './run-stats';
import { TargetPicker } from './targets';
import { ObjectsTree } from './tree';

let client: LanguageClient | undefined;

/** What activate returns: lets an extension-host test reach the running client. */
export interface BpfLensApi {
  languageClient(): LanguageClient | undefined;
  target(): TargetPicker;
}

export async function activate(context: vscode.ExtensionContext): Promise<BpfLensApi> {
  const output = vscode.window.createOutputChannel('BPF Lens');
  const status = vscode.window.createStatusBarItem('bpfLens.status', vscode.StatusBarAlignment.Left, 10);
  status.name = 'BPF Lens';
  status.text = '$(sync~spin) BPF';
  status.tooltip = 'BPF Lens: starting — click to show the output';
  status.command = 'bpfLens.showOutput';
  status.show();
  context.subscriptions.push(output, status);

  const tree = new ObjectsTree(
    () => client,
    () => readConfig().btfPageSize,
  );
  const target = new TargetPicker(
    context.workspaceState,
    output,
    () => client,
    () => tree.refresh(),
  );
  context.subscriptions.push(target);

  const runStats = new RunStats(
    () => client,
    () => tree.loadedObjects,
    () => tree.redrawLoaded(),
  );
  tree.programNote = (t, id) => runStats.describe(t, id);
  context.subscriptions.push(
    runStats,
    vscode.commands.registerCommand('bpfLens.toggleRunStats', () => runStats.toggle()),
  );

  // ---- Events panels and the printk channel (issue 16) ----
  const printk = new PrintkChannel();
  const events = new EventsPanels(() => client, printk);
  context.subscriptions.push(
    printk,
    events,
    vscode.languages.registerDocumentLinkProvider({ language: PRINTK_LANGUAGE }, printk),
    vscode.commands.registerCommand('bpfLens.showEvents', (arg?: unknown) => events.showCommand(arg)),
    // Run Object's: observe a load just run (the panel opens when it has ring/perf buffers).
    vscode.commands.registerCommand('bpfLens.observeLoaded', (loaded: LoadedKernelObject) => events.observe(loaded, 'auto')),
  );
  // ---- end Events ----

  const mapViews = registerMapViews(context, () => client); // Show Map (issue 16)

  const docs = new BpfDocuments(() => client);
  context.subscriptions.push(
    vscode.window.createTreeView('bpfLens.objects', { treeDataProvider: tree, showCollapseAll: true }),
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, docs),
    vscode.languages.registerDocumentLinkProvider({ scheme: SCHEME }, new SourceLinks()),
    docs,
  );

  const start = async () => {
    client = createClient(context, output);
    client.onDidChangeState((e) => {
      status.text = e.newState === State.Running ? '$(check) BPF' : e.newState === State.Starting ? '$(sync~spin) BPF' : '$(error) BPF';
      status.tooltip = `BPF Lens language server: ${State[e.newState].toLowerCase()} — click to show the output`;
    });
    await client.start();
    events.listen(client);
    mapViews.closeAll();
    client.onNotification(ObjectsChangedNotification, (p) => {
      tree.refresh();
      docs.refresh(p.paths);
    });
    tree.refresh();
    // The server starts on `local`: tell it the remembered target (connecting may take seconds)
    // and show its kernel release.
    void target.apply();
  };
  const stop = async () => {
    const c = client;
    client = undefined;
    if (c) await c.stop();
  };

  // Load on All Targets' matrix panels (issue 18).
  const matrix = new MatrixPanels(() => client, output);
  context.subscriptions.push(matrix);

  registerCommands(context, {
    output,
    tree,
    target,
    matrix,
    client: () => client,
    restart: async () => {
      await stop();
      await start();
    },
  });
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('bpfLens.serverPath')) {
        await stop();
        await start();
      } else if (e.affectsConfiguration('bpfLens')) {
        tree.refresh();
        if (e.affectsConfiguration('bpfLens.targets') && client) void target.apply();
      }
    }),
    { dispose: () => void stop() },
  );
  try {
    await start();
  } catch (e) {
    output.appendLine(`BPF Lens: the language server did not start: ${(e as Error).message}`);
    const pick = await vscode.window.showErrorMessage('BPF Lens: the language server did not start.', 'Show Output');
    if (pick) output.show();
  }
  return { languageClient: () => client, target: () => target };
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}

function createClient(context: vscode.ExtensionContext, output: vscode.OutputChannel): LanguageClient {
  const cfg = readConfig();
  const module = cfg.serverPath || context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.stdio },
    debug: { module, transport: TransportKind.stdio, options: { execArgv: ['--nolazy', '--inspect=6010'] } },
  };
  const globs = cfg.objects.length ? cfg.objects : ['**/*.o'];
  const clientOptions: LanguageClientOptions = {
    // Only C sources on disk and our own documents: BPF Lens lives beside clangd.
    documentSelector: [
      { scheme: 'file', language: 'c' },
      { scheme: SCHEME, language: 'bpf-disasm' },
    ],
    synchronize: {
      configurationSection: 'bpfLens',
      fileEvents: [
        vscode.workspace.createFileSystemWatcher(`{${globs.join(',')}}`),
        vscode.workspace.createFileSystemWatcher('**/*.{c,h}'),
      ],
    },
    initializationOptions: serverSettings(cfg),
    outputChannel: output,
    traceOutputChannel: output,
  };
  return new LanguageClient('bpfLens', 'BPF Lens', serverOptions, clientOptions);
}
