/**
 * Load on All Targets…: one panel per object with the programs × targets matrix the server
 * answers (bpfLens/loadMatrix) — what each kernel thinks of the object. A rejected cell opens
 * the C line the verifier refused and that target's verifier walk (Explain Verification on
 * that target); a loaded cell reveals the program's function; a CO-RE note opens its line.
 * Re-run asks again; progress comes per target while they connect (a VM boots) and load.
 */
import { randomBytes } from 'crypto';
import { posix } from 'path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  ExplainVerificationRequest,
  LoadMatrixProgressNotification,
  LoadMatrixRequest,
  type LoadMatrixResult,
  TargetsRequest,
} from '../../protocol/lsp';
import { openDocument } from './documents';
import { matrixHtml } from './matrix-webview';

/** What the page sends. */
type PageMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'rerun' }
  | { readonly type: 'cell'; readonly target: string; readonly program: string }
  | { readonly type: 'source'; readonly file: string; readonly line: number };

interface Panel {
  readonly path: string;
  readonly panel: vscode.WebviewPanel;
  ready: Promise<void>;
  result?: LoadMatrixResult;
  running: boolean;
}

let tokens = 0;

export class MatrixPanels implements vscode.Disposable {
  private readonly panels = new Map<string, Panel>();

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly output: vscode.OutputChannel,
  ) {}

  /** Opens (or reveals) the object's matrix and runs it. */
  async show(path: string): Promise<void> {
    let p = this.panels.get(path);
    if (p) p.panel.reveal(undefined, true);
    else p = this.create(path);
    await this.run(p);
  }

  private create(path: string): Panel {
    const name = posix.basename(path);
    const panel = vscode.window.createWebviewPanel(
      'bpfLens.loadMatrix',
      `All Targets: ${name}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [] },
    );
    let ready!: () => void;
    const p: Panel = { path, panel, ready: new Promise<void>((r) => (ready = r)), running: false };
    panel.webview.html = matrixHtml(randomBytes(16).toString('base64'), panel.webview.cspSource, `All Targets: ${name}`);
    panel.webview.onDidReceiveMessage((m: PageMessage) => {
      if (m.type === 'ready') ready();
      else if (m.type === 'rerun') void this.run(p);
      else if (m.type === 'cell') void this.openCell(p, m.target, m.program);
      else if (m.type === 'source') void openSource(m.file, m.line);
    });
    panel.onDidDispose(() => {
      this.panels.delete(path);
      ready(); // a run waiting for the page ends (its messages go nowhere)
    });
    this.panels.set(path, p);
    return p;
  }

  private async run(p: Panel): Promise<void> {
    const c = this.client();
    if (!c) return void vscode.window.showErrorMessage('BPF Lens: the language server is not running.');
    if (p.running) return;
    p.running = true;
    const token = `matrix-${++tokens}`;
    const post = (m: unknown) => void p.panel.webview.postMessage(m);
    const sub = c.onNotification(LoadMatrixProgressNotification, (n) => {
      if (n.token === token) post({ type: 'progress', target: n.target, stage: n.stage });
    });
    const t0 = Date.now();
    try {
      await p.ready;
      const targets = (await c.sendRequest(TargetsRequest)).targets.filter((t) => t.kind !== 'btf');
      post({ type: 'start', object: p.path, targets: targets.map((t) => ({ name: t.name, kind: t.kind })) });
      p.result = await c.sendRequest(LoadMatrixRequest, { path: p.path, token });
      post({ type: 'result', result: p.result });
      this.output.appendLine(
        `load on all targets ${p.path}: ${p.result.targets
          .map(
            (t) =>
              `${t.name} ${t.answered ? `${t.cells.filter((x) => x.status === 'loaded').length}/${t.cells.length} loaded` : `failed: ${t.error?.message}`}`,
          )
          .join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      );
    } catch (e) {
      post({ type: 'error', message: (e as Error).message });
    } finally {
      sub.dispose();
      p.running = false;
    }
  }

  /** A rejected cell: its C line and the verifier walk on that target; a loaded one: the program's function. */
  private async openCell(p: Panel, target: string, program: string): Promise<void> {
    const t = p.result?.targets.find((x) => x.name === target);
    const cell = t?.cells.find((x) => x.program === program);
    if (!t || !cell) return;
    if (cell.status === 'not-attempted')
      return void vscode.window.showInformationMessage(`BPF Lens: ${program} was not attempted on ${target}: ${cell.why}`);
    if (cell.status === 'loaded') {
      const s = p.result?.programs.find((x) => x.name === program)?.source;
      if (s) await openSource(s.file, s.line);
      return;
    }
    if (cell.source) await openSource(cell.source.file, cell.source.line, cell.source.column);
    await this.openWalk(p.path, target, program);
  }

  /** Explain Verification of the object on `target`, then that program's walk beside the source. */
  private async openWalk(path: string, target: string, program: string): Promise<void> {
    const c = this.client();
    if (!c) return;
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `BPF Lens: the verifier walk of ${program} on ${target}` },
      () => c.sendRequest(ExplainVerificationRequest, { path, target }),
    );
    if (!r.ok) return void vscode.window.showErrorMessage(`BPF Lens: verifier walk on ${target}: ${r.message}`);
    // The third column: the source stays in the first, the matrix in the second.
    await openDocument({ path, kind: 'verifier', program, target }, { viewColumn: vscode.ViewColumn.Three, preserveFocus: true });
  }

  dispose(): void {
    for (const p of this.panels.values()) p.panel.dispose();
  }
}

/** The C source at a 0-based line, in the first column, the line selected. */
async function openSource(file: string, line: number, column = 0): Promise<void> {
  const pos = new vscode.Position(line, column);
  await vscode.window.showTextDocument(vscode.Uri.file(file), {
    viewColumn: vscode.ViewColumn.One,
    selection: new vscode.Range(pos, pos),
    preview: true,
  });
}
