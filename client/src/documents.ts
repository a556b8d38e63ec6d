import { posix } from 'path';
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
  verifier: 'plaintext',
  matrix: 'plaintext',
};

/**
 * `file.c:42` at the start of a line of a side document (the source lines of a verifier walk):
 * an absolute path, or one relative to the object's folder.
 */
const SOURCE_REF = /^([^\s:;][^\s:]*\.[A-Za-z]+):(\d+)\b/gm;

/** Makes each source reference in BPF Lens documents a link to that line of the source. */
export class SourceLinks implements vscode.DocumentLinkProvider {
  provideDocumentLinks(doc: vscode.TextDocument): vscode.DocumentLink[] {
    const object = parseDocumentQuery(doc.uri.query)?.path;
    if (!object) return [];
    const dir = posix.dirname(object);
    const text = doc.getText();
    const links: vscode.DocumentLink[] = [];
    for (const m of text.matchAll(SOURCE_REF)) {
      const start = doc.positionAt(m.index);
      const end = doc.positionAt(m.index + m[0].length);
      const file = m[1].startsWith('/') ? m[1] : posix.join(dir, m[1]);
      const target = vscode.Uri.file(file).with({ fragment: `L${m[2]}` });
      links.push(new vscode.DocumentLink(new vscode.Range(start, end), target));
    }
    return links;
  }
}

export async function openDocument(p: DocumentParams, show: vscode.TextDocumentShowOptions = {}): Promise<void> {
  let doc = await vscode.workspace.openTextDocument(documentUri(p));
  if (doc.languageId !== LANGUAGE[p.kind]) doc = await vscode.languages.setTextDocumentLanguage(doc, LANGUAGE[p.kind]);
  await vscode.window.showTextDocument(doc, { preview: true, ...show });
}
