import * as vscode from 'vscode';

/** The `bpfLens.*` settings, read in one place. */
export interface Config {
  readonly objects: string[];
  readonly exclude: string[];
  readonly maxObjectSize: number;
  readonly btfPageSize: number;
  readonly serverPath: string;
}

export function readConfig(): Config {
  const c = vscode.workspace.getConfiguration('bpfLens');
  return {
    objects: c.get<string[]>('objects', ['**/*.o', '**/*.ko']),
    exclude: c.get<string[]>('exclude', ['**/node_modules/**', '**/.git/**']),
    maxObjectSize: c.get<number>('maxObjectSize', 256 << 20),
    btfPageSize: c.get<number>('btfPageSize', 500),
    serverPath: c.get<string>('serverPath', ''),
  };
}

/** What the server needs at start (it asks for the rest through workspace/configuration). */
export function serverSettings(c: Config): Record<string, unknown> {
  const raw = vscode.workspace.getConfiguration('bpfLens');
  return {
    objects: c.objects,
    exclude: c.exclude,
    maxObjectSize: c.maxObjectSize,
    targets: raw.get<unknown[]>('targets', []),
    coreDiagnostics: raw.get<boolean>('coreDiagnostics', true),
    argCtxFallback: raw.get<string>('argCtxFallback', 'auto'),
  };
}
