/** Every `bpfLens.*` command, in one place (ids as in package.json). */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  BaseDiffRequest,
  DistillRequest,
  type DocumentKind,
  LinkObjectsRequest,
  ObjectListRequest,
  ReindexRequest,
} from '../../protocol/lsp';
import { openDocument } from './documents';
import { attachCommand, detachCommand, runObjectCommand, testRunCommand } from './attach';
import { explainVerificationCommand, loadObjectCommand, loadOnAllTargetsCommand, unloadCommand } from './load';
import type { MatrixPanels } from './matrix-panel';
import type { TargetPicker } from './targets';
import { type Node, type ObjectsTree } from './tree';

interface Deps {
  readonly output: vscode.OutputChannel;
  readonly tree: ObjectsTree;
  readonly target: TargetPicker;
  readonly client: () => LanguageClient | undefined;
  readonly restart: () => Promise<void>;
  /** Load on All Targets' panels. */
  readonly matrix: MatrixPanels;
}

/** An object path from a tree node, an explorer Uri, a path string, the active editor, or a pick. */
async function objectPath(deps: Deps, arg: unknown): Promise<string | undefined> {
  if (arg && typeof arg === 'object' && 'object' in arg) return (arg as Extract<Node, { object: unknown }>).object.path;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (typeof arg === 'string') return arg;
  const client = deps.client();
  if (!client) return undefined;
  const r = await client.sendRequest(ObjectListRequest);
  if (!r.objects.length) {
    void vscode.window.showInformationMessage('BPF Lens: no BPF objects in this workspace (setting bpfLens.objects).');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    r.objects.map((o) => ({
      label: o.name,
      description: o.path,
      detail: o.error ?? `${o.programCount} programs, ${o.mapCount} maps`,
    })),
    { placeHolder: 'BPF object' },
  );
  return pick?.description;
}

export function registerCommands(context: vscode.ExtensionContext, deps: Deps): void {
  const open = (kind: DocumentKind) => async (arg?: unknown) => {
    const path = await objectPath(deps, arg);
    if (!path) return;
    const program =
      arg && typeof arg === 'object' && (arg as Node).type === 'program'
        ? (arg as Extract<Node, { type: 'program' }>).program.name
        : undefined;
    await openDocument({ path, kind, program });
  };
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg('bpfLens.showOutput', () => deps.output.show());
  reg('bpfLens.restartServer', () => deps.restart());
  reg('bpfLens.pickTarget', (arg?: unknown) => (typeof arg === 'string' ? deps.target.select(arg) : deps.target.pick()));
  reg('bpfLens.refresh', () =>
    vscode.window.withProgress({ location: { viewId: 'bpfLens.objects' }, title: 'Indexing BPF objects' }, async () => {
      await deps.client()?.sendRequest(ReindexRequest);
      deps.tree.refresh();
    }),
  );
  reg('bpfLens.openSummary', open('summary'));
  reg('bpfLens.openCDump', open('c'));
  reg('bpfLens.openRawDump', open('raw'));
  reg('bpfLens.openDisassembly', open('disasm'));
  reg('bpfLens.openType', async (arg?: unknown) => {
    const n = arg as Extract<Node, { type: 'btfType' }> | undefined;
    if (n?.type === 'btfType') await openDocument({ path: n.object.path, kind: 'type', typeId: n.item.id });
  });
  reg('bpfLens.loadMore', (arg?: unknown) => deps.tree.loadMore(arg as Extract<Node, { type: 'more' }>));
  reg('bpfLens.linkObjects', () => linkObjectsCommand(deps));
  reg('bpfLens.distillBase', (arg?: unknown) => distillCommand(deps, arg));
  reg('bpfLens.openBaseDiff', async (arg?: unknown) => {
    const path = await objectPath(deps, arg);
    if (path) await openBaseDiff(deps, path);
  });
  const loadDeps = { output: deps.output, client: deps.client, target: () => deps.target.selected, refreshTree: () => deps.tree.refresh() };
  reg('bpfLens.loadObject', async (arg?: unknown) =>
    loadObjectCommand(loadDeps, arg === undefined ? undefined : await objectPath(deps, arg)),
  );
  reg('bpfLens.loadOnAllTargets', async (arg?: unknown) =>
    loadOnAllTargetsCommand(loadDeps, deps.matrix, arg === undefined ? undefined : await objectPath(deps, arg)),
  );
  reg('bpfLens.runObject', async (arg?: unknown) =>
    runObjectCommand(loadDeps, arg === undefined ? undefined : await objectPath(deps, arg)),
  );
  reg('bpfLens.attach', (arg?: unknown) => attachCommand(loadDeps, arg));
  reg('bpfLens.detach', (arg?: unknown) => detachCommand(loadDeps, arg));
  reg('bpfLens.testRun', (arg?: unknown) => testRunCommand(loadDeps, arg));
  reg('bpfLens.explainVerification', async (arg?: unknown) =>
    explainVerificationCommand(loadDeps, arg === undefined ? undefined : await objectPath(deps, arg)),
  );
  reg('bpfLens.unloadObject', (arg?: unknown) =>
    unloadCommand(loadDeps, (arg as Node | undefined)?.type === 'loaded' ? (arg as Extract<Node, { type: 'loaded' }>).loaded : undefined),
  );
  reg('bpfLens.searchBtfTypes', async (arg?: unknown) => {
    const path = await objectPath(deps, arg);
    if (!path) return;
    const search = await vscode.window.showInputBox({
      prompt: 'Show BTF types whose name contains (empty: all); #123 finds id 123',
      value: deps.tree.searches.get(path) ?? '',
    });
    if (search === undefined) return;
    if (search) deps.tree.searches.set(path, search);
    else deps.tree.searches.delete(path);
    deps.tree.refresh();
  });
}

/** Link Objects…: pick the objects (the workspace's, or files), an output path, link in the server. */
async function linkObjectsCommand(deps: Deps): Promise<void> {
  const client = deps.client();
  if (!client) return;
  const known = (await client.sendRequest(ObjectListRequest)).objects.filter((o) => !o.error);
  const BROWSE = 'Other files…';
  let inputs: string[] = [];
  if (known.length) {
    const picks = await vscode.window.showQuickPick(
      [...known.map((o) => ({ label: o.name, description: o.path, picked: false })), { label: BROWSE, description: '' }],
      { canPickMany: true, placeHolder: 'Objects to link, in link order' },
    );
    if (!picks) return;
    inputs = picks.filter((p) => p.label !== BROWSE).map((p) => p.description);
    if (!picks.some((p) => p.label === BROWSE) && inputs.length === 0) return;
  }
  if (!known.length || inputs.length === 0) {
    const uris = await vscode.window.showOpenDialog({ canSelectMany: true, filters: { 'BPF objects': ['o'] }, openLabel: 'Link' });
    if (!uris?.length) return;
    inputs.push(...uris.map((u) => u.fsPath));
  }
  const first = vscode.Uri.file(inputs[0]);
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.joinPath(first, '..', 'linked.bpf.o'),
    filters: { 'BPF objects': ['o'] },
    saveLabel: 'Link',
  });
  if (!target) return;
  const r = await client.sendRequest(LinkObjectsRequest, { inputs, output: target.fsPath });
  deps.output.appendLine(`link ${inputs.join(' ')} -o ${target.fsPath}`);
  for (const l of r.lines) deps.output.appendLine(`  ${l}`);
  if (!r.ok) {
    const show = await vscode.window.showErrorMessage(
      `BPF Lens: link failed: ${r.lines[0]}${r.lines.length > 1 ? ` (+${r.lines.length - 1} more)` : ''}`,
      'Show Output',
    );
    if (show) deps.output.show();
    return;
  }
  await client.sendRequest(ReindexRequest);
  deps.tree.refresh();
  const open = await vscode.window.showInformationMessage(`BPF Lens: ${r.lines[0]}`, 'Open Summary', 'Show Output');
  if (open === 'Open Summary') await openDocument({ path: target.fsPath, kind: 'summary' });
  else if (open === 'Show Output') deps.output.show();
}

/** A module's base diff document; without .BTF.base, offers to distill on the original base the user names. */
async function openBaseDiff(deps: Deps, path: string): Promise<void> {
  const client = deps.client();
  if (!client) return;
  const r = await client.sendRequest(BaseDiffRequest, { path });
  if (!r.noBase) return openDocument({ path, kind: 'baseDiff' });
  const CHOOSE = 'Choose Original Base…';
  const pick = await vscode.window.showInformationMessage(`BPF Lens: ${r.message}.`, CHOOSE);
  if (pick !== CHOOSE) return;
  const uris = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel: 'Distill on this base',
    title: 'The vmlinux (or raw BTF) this module was built for',
  });
  if (uris?.length) await openDocument({ path, kind: 'baseDiff', origBase: uris[0].fsPath });
}

/**
 * "Distill Base BTF…": a module (from the tree, or picked among the workspace's modules without
 * .BTF.base), the vmlinux BTF it was built for, and where to write the copy with .BTF.base.
 */
async function distillCommand(deps: Deps, arg: unknown): Promise<void> {
  const client = deps.client();
  if (!client) return;
  let path =
    arg && typeof arg === 'object' && 'object' in arg
      ? (arg as Extract<Node, { type: 'object' }>).object.path
      : arg instanceof vscode.Uri
        ? arg.fsPath
        : undefined;
  if (!path) {
    const modules = (await client.sendRequest(ObjectListRequest)).objects.filter((o) => o.module && !o.module.distilledBase);
    if (!modules.length)
      return void vscode.window.showInformationMessage('BPF Lens: no kernel module without .BTF.base in this workspace.');
    path = (
      await vscode.window.showQuickPick(
        modules.map((o) => ({ label: o.name, description: o.path })),
        { placeHolder: 'Module to distill' },
      )
    )?.description;
    if (!path) return;
  }
  const base = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel: 'Original Base',
    title: 'The vmlinux BTF this module was built for',
  });
  if (!base?.length) return;
  const module = vscode.Uri.file(path);
  const out = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.replace(/(\.ko)?$/, '.distilled.ko')),
    saveLabel: 'Distill',
    title: 'The module with .BTF.base',
  });
  if (!out) return;
  const r = await client.sendRequest(DistillRequest, { path: module.fsPath, base: base[0].fsPath, output: out.fsPath });
  deps.output.appendLine(`distill ${module.fsPath} --base ${base[0].fsPath} -o ${out.fsPath}`);
  for (const l of r.lines) deps.output.appendLine(`  ${l}`);
  if (!r.ok) return void vscode.window.showErrorMessage(`BPF Lens: distill failed: ${r.lines[0]}`);
  await client.sendRequest(ReindexRequest);
  deps.tree.refresh();
  const next = await vscode.window.showInformationMessage(`BPF Lens: ${r.lines[0]}`, 'Open Base Diff', 'Show Output');
  if (next === 'Open Base Diff') await openBaseDiff(deps, out.fsPath);
  else if (next === 'Show Output') deps.output.show();
}
