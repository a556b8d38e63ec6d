import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { type DocumentParams, DocumentRequest, documentPath, parseDocumentQuery, SCHEME } from '../../protocol/lsp';

/** Virtual documents on the `bpf-lens:` scheme; their text comes from the server. */
export class BpfDocuments implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly client: () => LanguageClient | undefined) {}

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    const p = parseDocumentQuery(uri.query);
    const client = this.client();
    if (!p) return `Not a BPF Lens document: ${uri.toString()}`;
    if (!client) return 'The BPF Lens language server is not running.';
    try {
      const r = await client.sendRequest(DocumentRequest, p, token);
      return r.text;
    } catch (e) {
      return `Cannot show ${p.kind} of ${p.path}: ${(e as Error).message}`;
    }
  }

  /** Documents of these objects are re-read from the server. */
  refresh(objectPaths: readonly string[]): void {
    for (const d of vscode.workspace.textDocuments) {
      if (d.uri.scheme !== SCHEME) continue;
      const p = parseDocumentQuery(d.uri.query);
      if (p && objectPaths.includes(p.path)) this.changed.fire(d.uri);
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export function documentUri(p: DocumentParams): vscode.Uri {
  const { path, query } = documentPath(p);
  return vscode.Uri.from({ scheme: SCHEME, path, query });
}

const LANGUAGE: Record<DocumentParams['kind'], string> = {
  summary: 'markdown',
  c: 'c',
  raw: 'plaintext',
  disasm: 'bpf-disasm',
  type: 'markdown',
  baseDiff: 'plaintext',
};

export async function openDocument(p: DocumentParams): Promise<void> {
  let doc = await vscode.workspace.openTextDocument(documentUri(p));
  if (doc.languageId !== LANGUAGE[p.kind]) doc = await vscode.languages.setTextDocumentLanguage(doc, LANGUAGE[p.kind]);
  await vscode.window.showTextDocument(doc, { preview: true });
}
