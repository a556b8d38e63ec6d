#!/usr/bin/env node
// Language server speed, measured over a real stdio connection to `bpf-lens lsp --stdio`:
//   index    a workspace of 100 objects (fixture and cilium objects, copied), until the
//            server answers bpfLens/objects with all of them          (target <= 2 s)
//   hover    p50/p95 of map and program hovers after indexing          (target p95 <= 20 ms)
//   btfTypes first and later pages of FUNC in vmlinux BTF (~56k types) (target <= 100 ms)
// Prints numbers; it is not a test. Needs `npm run build` (or `npx tsc -p .`) and the fixtures.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import rpc from 'vscode-jsonrpc/node.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const fixtures = join(root, 'build', 'fixtures');
const cilium = '/usr/share/gocode/src/github.com/cilium/ebpf/testdata';
const pool = [
  ...readdirSync(fixtures).filter((f) => f.endsWith('.o')).map((f) => join(fixtures, f)),
  ...readdirSync(cilium).filter((f) => f.endsWith('-el.elf')).map((f) => join(cilium, f)),
];
if (!pool.some((f) => f.endsWith('lsp_maps.o'))) throw new Error('run make -C test/fixtures first');

const ws = mkdtempSync(join(tmpdir(), 'bpf-lens-bench-'));
for (let i = 0; i < 100; i++) {
  const dir = join(ws, `d${i % 10}`);
  mkdirSync(dir, { recursive: true });
  copyFileSync(pool[i % pool.length], join(dir, `obj${i}.o`));
}
copyFileSync(join(fixtures, 'lsp_maps.o'), join(ws, 'lsp_maps.o'));
mkdirSync(join(ws, 'btf'));
copyFileSync('/sys/kernel/btf/vmlinux', join(ws, 'btf', 'vmlinux'));

const proc = spawn(process.execPath, [join(root, 'bin', 'bpf-lens.js'), 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(proc.stdout), new rpc.StreamMessageWriter(proc.stdin));
conn.onRequest('workspace/configuration', () => [{}]);
conn.onRequest('client/registerCapability', () => null);
conn.listen();

const ms = (t0) => performance.now() - t0;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const fmt = (x) => `${x.toFixed(1)} ms`;

let t0 = performance.now();
await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(ws).href, workspaceFolders: [{ uri: pathToFileURL(ws).href, name: 'bench' }], capabilities: { workspace: { configuration: true } } });
await conn.sendNotification('initialized', {});
const { objects } = await conn.sendRequest('bpfLens/objects', {});
const indexMs = ms(t0);
console.log(`index    ${objects.length} objects: ${fmt(indexMs)} (target <= 2000 ms)${objects.length >= 101 ? '' : '  !! fewer objects than copied'}`);

const src = join(root, 'test', 'fixtures', 'lsp_maps.bpf.c');
const text = readFileSync(src, 'utf8');
const uri = pathToFileURL(src).href;
await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'c', version: 1, text } });
const lines = text.split('\n');
const spots = ['} lsp_hash SEC', '} lsp_array SEC', '} lsp_outer SEC', '} lsp_jmp SEC', 'int lsp_use_maps', 'SEC("xdp")']
  .map((n) => ({ line: lines.findIndex((l) => l.includes(n)), n }))
  .map(({ line, n }) => ({ line, character: lines[line].indexOf(n) + 4 }));
const times = [];
let empty = 0;
for (let i = 0; i < 300; i++) {
  t0 = performance.now();
  const h = await conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: spots[i % spots.length] });
  times.push(ms(t0));
  if (!h) empty++;
}
console.log(`hover    300 hovers: p50 ${fmt(pct(times, 50))}, p95 ${fmt(pct(times, 95))}, max ${fmt(Math.max(...times))} (target p95 <= 20 ms)${empty ? `  !! ${empty} empty` : ''}`);

const vmlinux = join(ws, 'btf', 'vmlinux');
t0 = performance.now();
let page = await conn.sendRequest('bpfLens/btfTypes', { path: vmlinux, kind: 'FUNC', offset: 0, limit: 500 });
const first = ms(t0);
const later = [];
for (let off = 500; off < page.total; off += 5000) {
  t0 = performance.now();
  page = await conn.sendRequest('bpfLens/btfTypes', { path: vmlinux, kind: 'FUNC', offset: off, limit: 500 });
  later.push(ms(t0));
}
t0 = performance.now();
const found = await conn.sendRequest('bpfLens/btfTypes', { path: vmlinux, kind: 'FUNC', search: 'tcp_', limit: 500 });
const search = ms(t0);
console.log(`btfTypes FUNC (${page.total} types), page of 500: first ${fmt(first)} (parses vmlinux), later p95 ${fmt(pct(later, 95))}; search 'tcp_' (${found.total} hits) ${fmt(search)} (target <= 100 ms)`);

await conn.sendRequest('shutdown');
await conn.sendNotification('exit');
conn.dispose();
rmSync(ws, { recursive: true, force: true });
