/**
 * The e2e scenarios (test/e2e/) through the extension API, run INSIDE VS Code's
 * extension host: a desktop VS Code's, by @vscode/test-electron (extension-host.test.ts) or
 * code-server's remote one (code-server.test.ts): hover a map, the
 * objects the BPF view lists, Load Object to Kernel with kernel ids, a verifier rejection in
 * Problems, the base diff of a .ko. Throws on the first failure (the extension host exits 1).
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import { BaseDiffRequest, LoadedObjectsRequest, ObjectsRequest, UnloadObjectRequest } from '../../protocol/lsp';
import { documentUri } from '../../client/src/documents';

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A request by its method name: the RequestType objects here come from this checkout's
 * vscode-jsonrpc, not from the copy bundled into dist/client.js, whose parameter-structure
 * check does not recognise another copy's constants ("Unknown parameter structure auto").
 */
function request<P, R>(client: LanguageClient, type: RequestType<P, R, void> | RequestType0<R, void>, params?: P): Promise<R> {
  return params === undefined ? client.sendRequest<R>(type.method) : client.sendRequest<R>(type.method, params);
}

function hoverText(h: vscode.Hover[]): string {
  return h
    .flatMap((x) => x.contents)
    .map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))
    .join('\n');
}

function kernelProgName(id: number): string | undefined {
  try {
    return (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8' })) as { name: string }).name;
  } catch {
    return undefined;
  }
}

export async function run(): Promise<void> {
  const ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
  const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'bpf-lens');
  assert.ok(ext, 'BPF Lens is installed in this VS Code');
  const api = (await ext.activate()) as { languageClient(): LanguageClient | undefined };
  const client = await until('the language server', 30_000, () => api.languageClient());
  const xdpObj = path.join(ws, 'build', 'xdp_counter.bpf.o');
  const src = path.join(ws, 'xdp_counter.bpf.c');

  // 1. Hover the stats map: its type and the value layout with the tail padding.
  const doc = await vscode.workspace.openTextDocument(src);
  await vscode.window.showTextDocument(doc);
  const line = doc
    .getText()
    .split('\n')
    .findIndex((l) => l.startsWith('} stats SEC'));
  const pos = new vscode.Position(line, 3);
  const hover = await until('a hover on stats', 60_000, async () => {
    const t = hoverText((await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, pos)) ?? []);
    return /PERCPU_HASH/.test(t) ? t : undefined;
  });
  assert.match(hover, /max_entries\D*256/);
  assert.match(hover, /padding/i);
  console.log('ok hover: stats map with layout');

  // 2. The BPF view's objects: the examples, their programs and maps.
  await vscode.commands.executeCommand('workbench.view.extension.bpfLens');
  const objects = await until('indexed objects', 60_000, async () => {
    const r = await request(client, ObjectsRequest, {});
    return r.objects.some((o) => o.path === xdpObj) ? r.objects : undefined;
  });
  const xdp = objects.find((o) => o.path === xdpObj)!;
  assert.deepEqual(
    xdp.programs.map((p) => p.name),
    ['xdp_count'],
  );
  assert.ok(xdp.maps.some((m) => m.name === 'stats'));
  for (const n of ['ctx_shared.bpf.o', 'dispatcher.bpf.o', 'exec_tracer.bpf.o', 'tcp_bbr.ko'])
    assert.ok(
      objects.some((o) => o.name === n),
      n,
    );
  console.log('ok view: objects, programs, maps');

  // 3. Load Object to Kernel on the local target: kernel ids the kernel agrees with; Unload.
  void vscode.commands.executeCommand('bpfLens.loadObject', xdpObj); // resolves when its notification is dismissed
  const loaded = await until('the load', 60_000, async () =>
    (await request(client, LoadedObjectsRequest)).loaded.find((l) => l.path === xdpObj),
  );
  const prog = loaded.programs.find((p) => p.name === 'xdp_count')!;
  assert.equal(kernelProgName(prog.id), 'xdp_count');
  await request(client, UnloadObjectRequest, { handle: loaded.handle });
  await until('the kernel freeing the program', 20_000, () => kernelProgName(prog.id) === undefined);
  console.log(`ok load: prog id ${prog.id}`);

  // 4. A broken program: the verifier's complaint on the s->packets++ line.
  const text = fs.readFileSync(src, 'utf8');
  const broken = text.replace(/(s = bpf_map_lookup_elem\(&stats, &proto\);\n)\t\tif \(!s\)\n\t\t\treturn XDP_PASS;\n/, '$1');
  assert.notEqual(broken, text);
  fs.writeFileSync(src, broken);
  execFileSync('make', ['-s', '-C', ws]);
  const want = broken.split('\n').findIndex((l) => l.includes('s->packets++'));
  void vscode.commands.executeCommand('bpfLens.loadObject', xdpObj);
  const diag = await until('the verifier diagnostic', 60_000, () =>
    vscode.languages.getDiagnostics(vscode.Uri.file(src)).find((d) => /map_value_or_null|invalid mem access/.test(d.message)),
  );
  assert.equal(diag.range.start.line, want, diag.message);
  console.log(`ok verifier: line ${want + 1}`);

  // 5. The base diff of the Debian 6.1 module, distilled on that kernel's vmlinux BTF.
  const ko = path.join(ws, 'build', 'tcp_bbr.ko');
  const origBase = path.join(ws, 'build', 'vmlinux-6.1.btf');
  const r = await request(client, BaseDiffRequest, { path: ko, origBase });
  assert.ok(
    r.rows.some((x) => x.name === 'sock' && x.targetId !== undefined),
    JSON.stringify(r.rows),
  );
  const diffDoc = await vscode.workspace.openTextDocument(documentUri({ path: ko, kind: 'baseDiff', origBase }));
  await vscode.window.showTextDocument(diffDoc);
  assert.match(diffDoc.getText(), /distilled base types/);
  console.log('ok base diff');
}
