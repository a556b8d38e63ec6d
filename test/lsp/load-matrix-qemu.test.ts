// Load on All Targets in the language server, over a real LSP connection: bpfLens.targets holds a
// VM target (Debian 6.1's kernel, booted under qemu by the server once and kept), selecting it
// says kind vm and its release; the `matrix` document loads an object on local and the VM at
// once: __arg_ctx native here and emulated there; a rejected program has one line per kernel
// that starts with its source line (the client's link). The second object reuses the booted VM.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { debianKernel } from '../kernels';
import { LspClient, makeWorkspace } from './lsp-client';

const ws = makeWorkspace(['argctx_shared.bpf.c', 'loader_reject.bpf.c']);
let lsp: LspClient;

before(async () => {
  lsp = await LspClient.start(ws.dir, { targets: [{ name: 'debian-6.1', kernel: debianKernel('6.1').vmlinuz, memory: 1024 }] });
  await lsp.request('bpfLens/objects', {});
});
after(async () => {
  await lsp?.stop();
  ws.cleanup();
});

const matrix = async (object: string) => {
  const t0 = performance.now();
  const r = await lsp.request<{ text: string }>('bpfLens/document', { path: path.join(ws.build, object), kind: 'matrix' });
  return { text: r.text, ms: performance.now() - t0 };
};

test('a VM target from the settings: selected, it boots and reports kind vm and the 6.1 release', { timeout: 600_000 }, async (t) => {
  const t0 = performance.now();
  const r = await lsp.request<{
    ok: boolean;
    info?: { kind: string; release: string; canLoad: boolean; hasBtf: boolean };
    error?: unknown;
  }>('bpfLens/selectTarget', { name: 'debian-6.1' });
  t.diagnostic(`select (boot) ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.equal(r.ok, true, JSON.stringify(r.error));
  assert.equal(r.info!.kind, 'vm');
  assert.match(r.info!.release, /^6\.1\.\d+-/);
  assert.equal(r.info!.canLoad, true);
  assert.equal(r.info!.hasBtf, true);
});

test(
  'Load on All Targets: programs × targets, __arg_ctx native here and emulated on 6.1; rejections on their source line per kernel',
  { timeout: 600_000 },
  async (t) => {
    const a = await matrix('argctx_shared.o');
    t.diagnostic(`argctx_shared.o: ${(a.ms / 1000).toFixed(1)} s\n${a.text}`);
    assert.match(a.text, /^ {2}program\s+local\s+debian-6\.1$/m);
    assert.match(a.text, /^ {2}argctx_xdp\s+ok \d+\s+ok \d+$/m);
    assert.match(a.text, /^local: note: __arg_ctx: native$/m);
    assert.match(a.text, /^debian-6\.1: note: __arg_ctx: emulated/m);

    const r = await matrix('loader_reject.o');
    t.diagnostic(`loader_reject.o (VM kept): ${(r.ms / 1000).toFixed(1)} s\n${r.text}`);
    assert.ok(r.ms < 60_000, 'the VM booted once is reused');
    const src = path.join(ws.src, 'loader_reject.bpf.c');
    for (const k of ['local', 'debian-6.1'])
      assert.match(r.text, new RegExp(`^${src.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+  ${k}: \\S+ rejected: `, 'm'), k);
  },
);
