// A language client for tests: spawns `bpf-lens lsp --stdio` as an editor would and speaks
// JSON-RPC to it through vscode-jsonrpc's stream reader and writer.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMessageConnection, type MessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { CLI, compileBpf, ROOT } from '../helpers';

export interface Diagnostic {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  severity: number;
  code?: string;
  message: string;
  relatedInformation?: {
    location: { uri: string; range: { start: { line: number; character: number }; end: { line: number; character: number } } };
    message: string;
  }[];
}

export class LspClient {
  readonly diagnostics = new Map<string, Diagnostic[]>();
  /** Every notification but diagnostics, with when it arrived (performance.now()). */
  readonly notifications: { method: string; params: unknown; at: number }[] = [];
  private waiters: (() => void)[] = [];
  private readonly version = new Map<string, number>();

  private constructor(
    readonly proc: ChildProcess,
    readonly conn: MessageConnection,
    readonly stderr: string[],
  ) {}

  static async start(folder: string, settings: Record<string, unknown> = {}): Promise<LspClient> {
    const proc = spawn(process.execPath, [CLI, 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    proc.stderr.on('data', (d) => stderr.push(String(d)));
    const conn = createMessageConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin));
    const c = new LspClient(proc, conn, stderr);
    conn.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: Diagnostic[] }) => {
      c.diagnostics.set(p.uri, p.diagnostics);
      c.wake();
    });
    conn.onNotification((method: string, params: unknown) => {
      c.notifications.push({ method, params, at: performance.now() });
      c.wake();
    });
    conn.onRequest('workspace/configuration', () => [settings]);
    conn.onRequest('client/registerCapability', () => null);
    conn.listen();
    const init = await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(folder).href,
      workspaceFolders: [{ uri: pathToFileURL(folder).href, name: 'ws' }],
      capabilities: { workspace: { configuration: true, didChangeWatchedFiles: { dynamicRegistration: true } } },
      initializationOptions: settings,
    });
    c.initResult = init as { capabilities: Record<string, unknown> };
    await conn.sendNotification('initialized', {});
    return c;
  }

  initResult!: { capabilities: Record<string, unknown> };

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `check()` is truthy, re-checking on every notification; fails after `ms`. */
  async until<T>(what: string, check: () => T | undefined | false, ms = 20_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; server stderr: ${this.stderr.join('')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  request<R>(method: string, params?: unknown): Promise<R> {
    return this.conn.sendRequest<R>(method, params);
  }

  async open(file: string, text: string): Promise<string> {
    const uri = pathToFileURL(file).href;
    this.version.set(uri, 1);
    await this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'c', version: 1, text } });
    return uri;
  }

  async hover(uri: string, line: number, character: number): Promise<string | undefined> {
    const r = await this.request<{ contents: { value: string } } | null>('textDocument/hover', {
      textDocument: { uri },
      position: { line, character },
    });
    return r?.contents.value;
  }

  async filesChanged(changes: { file: string; type: 1 | 2 | 3 }[]): Promise<void> {
    await this.conn.sendNotification('workspace/didChangeWatchedFiles', {
      changes: changes.map((c) => ({ uri: pathToFileURL(c.file).href, type: c.type })),
    });
  }

  async stop(): Promise<void> {
    try {
      await this.conn.sendRequest('shutdown');
      await this.conn.sendNotification('exit');
    } catch {
      // already gone
    }
    await new Promise<void>((r) => {
      if (this.proc.exitCode !== null) return r();
      const t = setTimeout(() => {
        this.proc.kill();
        r();
      }, 3000);
      this.proc.on('exit', () => {
        clearTimeout(t);
        r();
      });
    });
    this.conn.dispose();
  }
}

/** A temporary workspace: the named fixture sources under src/, compiled by clang into build/. */
export function makeWorkspace(sources: string[]): { dir: string; src: string; build: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-lsp-'));
  const src = path.join(dir, 'src');
  const build = path.join(dir, 'build');
  mkdirSync(src);
  mkdirSync(build);
  for (const s of sources) {
    cpSync(path.join(ROOT, 'test', 'fixtures', s), path.join(src, s));
    compile(path.join(src, s), path.join(build, s.replace(/\.bpf\.c$/, '.o')));
  }
  return { dir, src, build, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** compileBpf, as the LSP tests call it. */
export const compile = compileBpf;

export function filesIn(dir: string): string[] {
  return readdirSync(dir).map((f) => path.join(dir, f));
}
