// A VM target that runs out of --timeout while its kernel still boots, as a user meets it:
// `bpf-lens load OBJ --target local --target vm:…/6.1/vmlinuz --timeout 5` (TCG takes far
// longer than 5 s to boot: ~40 s here). The VM's row is a timeout with what the console showed by then;
// local loads as if alone. By the time the matrix is printed qemu is gone (its pid no longer
// in /proc) and its temporary directory removed: the boot was given up, not left running
// until the process exits (the CLI used to sit on a booting guest after printing).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { CLI, fixture } from '../helpers';
import { debianKernel, qemuAlive, qemuChildren, type QemuChild } from '../kernels';

test(
  'a VM target out of --timeout while booting: qemu killed, its directory removed, a timeout row with the console; local goes on',
  { timeout: 300_000 },
  async (t) => {
    const k = debianKernel('6.1');
    const vm = `vm:${k.vmlinuz}`;
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [CLI, 'load', fixture('load_xdp.o'), '--target', 'local', '--target', vm, '--timeout', '5', '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const seen = new Map<number, QemuChild>();
    const watch = setInterval(() => {
      for (const q of qemuChildren(child.pid!)) seen.set(q.pid, q);
    }, 25);
    let stdout = '';
    let stderr = '';
    // What is left of the guest at the moment the answer comes (the process has not exited yet)
    let atAnswer: { alive: boolean; dirs: boolean } | undefined;
    child.stdout.on('data', (d: Buffer) => {
      if (!atAnswer) {
        const qs = [...seen.values()];
        atAnswer = { alive: qs.some(qemuAlive), dirs: qs.some((q) => existsSync(q.dir)) };
      }
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearInterval(watch);
    const ms = performance.now() - t0;
    t.diagnostic(`${(ms / 1000).toFixed(1)} s\n${stderr}`);

    assert.equal(seen.size, 1, `one qemu started by the CLI: ${JSON.stringify([...seen.values()])}`);
    const [q] = seen.values();
    assert.match(q.dir, /bpf-lens-vm-/);
    assert.deepEqual(atAnswer, { alive: false, dirs: false }, 'qemu and its directory were gone before the answer was printed');
    assert.equal(qemuAlive(q), false);
    assert.equal(existsSync(q.dir), false);
    assert.ok(ms < 60_000, `the command ended soon after the timeout (${ms} ms), not when the guest would have booted`);

    assert.equal(code, 1, `${stdout}\n${stderr}`);
    const doc = JSON.parse(stdout) as {
      ok: boolean;
      targets: {
        target: string;
        ok: boolean;
        error?: { code?: string; message: string; detail?: string };
        matrix?: { status: string }[];
      }[];
    };
    assert.equal(doc.ok, false);
    assert.equal(doc.targets[0].target, 'local');
    assert.ok(doc.targets[0].ok && doc.targets[0].matrix?.every((c) => c.status === 'loaded'), JSON.stringify(doc.targets[0]));
    const e = doc.targets[1].error!;
    t.diagnostic(`the VM's row: ${JSON.stringify(e)}`);
    assert.equal(e.code, 'timeout');
    assert.equal(e.message, `${vm} did not finish within 5 s (--timeout)`);
    // what the given-up boot said: how long it booted, that qemu was killed, the console by then
    assert.match(
      e.detail ?? '',
      /^vm:.*: given up while booting, \d+\.\d s after qemu started under (TCG|KVM) \(qemu killed, its files removed\)$/m,
    );
    assert.match(e.detail ?? '', /^--- console \(last lines\) ---$/m);
  },
);
