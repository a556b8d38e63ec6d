// Load on All Targets honours the per-target timeout, as `bpf-lens load --timeout` does
// (test/kernel/vm-timeout-qemu.test.ts): bpfLens.targetTimeout = 5 with a VM target whose kernel
// takes far longer to boot under TCG. Over a real LSP connection, bpfLens/loadMatrix answers soon
// after the 5 s: local loaded as if alone, the VM's column failed with a timeout naming the
// setting and the console by then, and the qemu the run started is gone by the answer (the
// editor used to keep booting it). The next run boots it again, and is given up again.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { debianKernel, qemuAlive, qemuChildren, type QemuChild } from '../kernels';
import { LspClient, makeWorkspace } from './lsp-client';

const ws = makeWorkspace(['load_xdp.bpf.c']);
let lsp: LspClient;

before(async () => {
  lsp = await LspClient.start(ws.dir, { targets: [{ name: 'slow-6.1', kernel: debianKernel('6.1').vmlinuz }], targetTimeout: 5 });
  await lsp.request('bpfLens/objects', {});
});
after(async () => {
  await lsp?.stop();
  ws.cleanup();
});

interface Matrix {
  targets: {
    name: string;
    answered: boolean;
    loadedAll: boolean;
    error?: { code: string; message: string; detail?: string };
    cells: { status: string }[];
  }[];
}

for (const run of [1, 2])
  test(`run ${run}: the VM out of bpfLens.targetTimeout while booting is given up and shown timed out; local goes on`, async (t) => {
    const seen = new Map<number, QemuChild>();
    const watch = setInterval(() => {
      for (const q of qemuChildren(lsp.proc.pid!)) seen.set(q.pid, q);
    }, 25);
    const t0 = performance.now();
    let r: Matrix;
    try {
      r = await lsp.request<Matrix>('bpfLens/loadMatrix', { path: path.join(ws.build, 'load_xdp.o') });
    } finally {
      clearInterval(watch);
    }
    const ms = performance.now() - t0;
    const qs = [...seen.values()];
    const left = { alive: qs.some(qemuAlive), dirs: qs.some((q) => existsSync(q.dir)) };
    t.diagnostic(`${(ms / 1000).toFixed(1)} s`);
    assert.equal(qs.length, 1, `one qemu started by this run: ${JSON.stringify(qs)}`);
    assert.deepEqual(left, { alive: false, dirs: false }, 'qemu and its directory were gone by the answer');
    assert.ok(ms < 30_000, `answered soon after the 5 s (${ms.toFixed(0)} ms), not when the guest would have booted`);

    const [local, vm] = r.targets;
    assert.equal(local.name, 'local');
    assert.ok(local.answered && local.loadedAll, JSON.stringify(local));
    assert.equal(vm.name, 'slow-6.1');
    assert.deepEqual([vm.answered, vm.loadedAll, vm.cells], [false, false, []]);
    assert.equal(vm.error?.code, 'timeout', JSON.stringify(vm.error));
    assert.equal(vm.error?.message, 'slow-6.1 did not finish within 5 s (bpfLens.targetTimeout)');
    assert.match(
      vm.error?.detail ?? '',
      /given up while booting, \d+\.\d s after qemu started under (TCG|KVM) \(qemu killed, its files removed\)/,
    );
    assert.match(vm.error?.detail ?? '', /^--- console \(last lines\) ---$/m);
  });
