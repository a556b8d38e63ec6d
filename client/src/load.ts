/**
 * Load Object to Kernel… and Unload: the load runs in the language server (its pipeline
 * calls bpf(2), or the selected target's agent does); this side picks the object, shows the
 * stages as a progress notification, writes the verifier log to the output channel and
 * refreshes the tree.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  ExplainVerificationRequest,
  type LoadedKernelObject,
  LoadedObjectsRequest,
  LoadObjectRequest,
  LoadProgressNotification,
  ObjectsRequest,
  UnloadObjectRequest,
} from '../../protocol/lsp';
import { openDocument } from './documents';
import type { MatrixPanels } from './matrix-panel';

export interface LoadDeps {
  readonly output: vscode.OutputChannel;
  client(): LanguageClient | undefined;
  /** The selected target (TargetPicker). */
  target(): string;
  refreshTree(): void;
}

let tokens = 0;

/** Loads the object at `path` (or one picked from the workspace's BPF objects) into the selected target's kernel. */
export async function loadObjectCommand(deps: LoadDeps, path: string | undefined): Promise<void> {
  const client = deps.client();
  if (!client) return void vscode.window.showErrorMessage('BPF Lens: the language server is not running.');
  const target = deps.target();
  path ??= await pickObject(client, target);
  if (!path) return;
  const logLevel = vscode.workspace.getConfiguration('bpfLens').get<number>('verifierLogLevel', 0);
  const token = `load-${++tokens}`;
  const name = path.split('/').pop();
  const r = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `BPF Lens: loading ${name}${target === 'local' ? '' : ` on ${target}`}` },
    async (progress) => {
      const sub = client.onNotification(LoadProgressNotification, (p) => {
        if (p.token === token) progress.report({ message: `${p.stage}${p.detail ? `: ${p.detail}` : ''}` });
      });
      try {
        return await client.sendRequest(LoadObjectRequest, { path, target, logLevel, token });
      } finally {
        sub.dispose();
      }
    },
  );
  const out = deps.output;
  out.appendLine(`load ${path} (target ${target}, ${r.ms.toFixed(0)} ms)`);
  for (const l of r.logs) {
    out.appendLine(`--- verifier log: ${l.program} ---`);
    out.appendLine(l.log.trimEnd());
  }
  if (!r.ok) {
    const e = r.error!;
    out.appendLine(`error (${e.code ?? e.stage}): ${e.message}`);
    if (e.source) out.appendLine(`  --> ${e.source.file}:${e.source.line + 1}:${e.source.column + 1}\n   | ${e.source.text.trim()}`);
    if (e.log) {
      out.appendLine(`--- verifier log${e.program ? `: ${e.program}` : ''} ---`);
      out.appendLine(e.log.trimEnd());
    }
    const actions = e.source ? ['Go to Source', 'Show Output'] : ['Show Output'];
    if (e.stage === 'target') actions.unshift('Pick Target');
    const pick = await vscode.window.showErrorMessage(
      `BPF Lens: ${e.stage === 'target' ? `target ${target}` : 'load failed'}: ${e.message.split('\n')[0]}`,
      ...actions,
    );
    if (pick === 'Pick Target') return void vscode.commands.executeCommand('bpfLens.pickTarget');
    if (pick === 'Show Output') out.show(true);
    else if (pick === 'Go to Source' && e.source) {
      const pos = new vscode.Position(e.source.line, e.source.column);
      await vscode.window.showTextDocument(vscode.Uri.file(e.source.file), { selection: new vscode.Range(pos, pos) });
    }
    return;
  }
  const l = r.loaded!;
  // the server formats them as `bpf-lens load` does
  for (const line of r.lines ?? []) out.appendLine(line);
  deps.refreshTree();
  const pick = await vscode.window.showInformationMessage(
    `BPF Lens: loaded ${name}${target === 'local' ? '' : ` on ${target}`}: ${l.programs.length} program(s), ${l.maps.length} map(s)`,
    'Unload',
    'Show Output',
  );
  if (pick === 'Unload') await unloadCommand(deps, l);
  else if (pick === 'Show Output') out.show(true);
}

/** Closes a load's FDs (and removes pins it made): the given one, or one picked from what is loaded. */
export async function unloadCommand(deps: LoadDeps, loaded: LoadedKernelObject | undefined): Promise<void> {
  const client = deps.client();
  if (!client) return;
  if (!loaded) {
    const all = (await client.sendRequest(LoadedObjectsRequest)).loaded;
    if (!all.length) return void vscode.window.showInformationMessage('BPF Lens: nothing is loaded.');
    const pick = await vscode.window.showQuickPick(
      all.map((o) => ({
        label: o.path.split('/').pop()!,
        description: `${o.target} · prog ids ${o.programs.map((p) => p.id).join(', ')}`,
        o,
      })),
      { placeHolder: 'Unload' },
    );
    loaded = pick?.o;
    if (!loaded) return;
  }
  const r = await client.sendRequest(UnloadObjectRequest, { handle: loaded.handle });
  deps.output.appendLine(
    `unload ${loaded.path}: ${r.closed ? 'closed' : 'was not loaded'}${r.unpinned.length ? `, unpinned ${r.unpinned.join(' ')}` : ''}`,
  );
  deps.refreshTree();
}

/**
 * Explain Verification: a throwaway load at verifier log level 2; afterwards hovering a source
 * line of the object's programs shows the verifier's state there (registers and stack, across paths).
 */
export async function explainVerificationCommand(deps: LoadDeps, path: string | undefined): Promise<void> {
  const client = deps.client();
  if (!client) return void vscode.window.showErrorMessage('BPF Lens: the language server is not running.');
  const target = deps.target();
  path ??= await pickObject(client, target);
  if (!path) return;
  const name = path.split('/').pop();
  const r = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `BPF Lens: verifying ${name} at log level 2` },
    () => client.sendRequest(ExplainVerificationRequest, { path: path, target }),
  );
  deps.output.appendLine(
    `explain verification ${path}: ${r.ok ? r.programs.map((p) => `${p.name} ${p.lines} lines${p.rejected ? ' (rejected)' : ''}`).join(', ') : r.message}`,
  );
  if (!r.ok) return void vscode.window.showErrorMessage(`BPF Lens: ${r.message}`);
  void vscode.window.showInformationMessage(
    `BPF Lens: verifier states for ${r.programs.reduce((n, p) => n + p.lines, 0)} source lines of ${name}; hover a line to see them.`,
  );
  // The walk beside the source: the rejected program's, else every program's.
  const program = r.programs.find((p) => p.rejected)?.name;
  await openDocument(
    { path, kind: 'verifier', ...(program ? { program } : {}) },
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
  );
}

/** Load on All Targets…: the object on local and every target with a kernel, as a programs × targets matrix beside the source. */
export async function loadOnAllTargetsCommand(deps: LoadDeps, matrix: MatrixPanels, path: string | undefined): Promise<void> {
  const client = deps.client();
  if (!client) return void vscode.window.showErrorMessage('BPF Lens: the language server is not running.');
  path ??= await pickObject(client, 'every target');
  if (path) await matrix.show(path);
}

export async function pickObject(client: LanguageClient, target: string): Promise<string | undefined> {
  const objs = (await client.sendRequest(ObjectsRequest, {})).objects.filter((o) => !o.error && o.programs.length);
  if (!objs.length) {
    void vscode.window.showInformationMessage('BPF Lens: no BPF objects with programs in this workspace (setting bpfLens.objects).');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    objs.map((o) => ({ label: o.name, description: o.path, detail: `${o.programs.length} programs, ${o.maps.length} maps` })),
    { placeHolder: `Object to load into the kernel of ${target}` },
  );
  return pick?.description;
}
