// A real kernel that does not boot to the agent, as a user meets it: Debian's 6.1 given an
// empty modules=DIR, so its virtio and 9p drivers (modules in Debian's build) are nowhere and
// the guest's /init cannot mount this machine's root. `bpf-lens load OBJ --target vm:…` ends
// with vm-boot-failed (exit 2) saying what the kernel lacks, followed by the console's last
// lines — the guest's own complaint among them — and nothing of the guest stays behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CLI, fixture } from '../helpers';
import { debianKernel } from '../kernels';

const vmDirs = () => new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('bpf-lens-vm-')));

test(
  'a kernel without the drivers to reach the agent: vm-boot-failed, what it lacks and the console last lines, exit 2',
  { timeout: 600_000 },
  (t) => {
    const k = debianKernel('6.1');
    const empty = mkdtempSync(path.join(tmpdir(), 'lens-no-modules-'));
    const before = vmDirs();
    try {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [CLI, 'load', fixture('load_xdp.o'), '--target', `vm:${k.vmlinuz},modules=${empty}`], {
        encoding: 'utf8',
        timeout: 600_000,
      });
      t.diagnostic(`${((performance.now() - t0) / 1000).toFixed(1)} s\n${r.stderr}`);
      assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        /^error \(vm-boot-failed\): vm:.*: the kernel .*vmlinuz did not boot to the agent: the guest could not mount this machine's root over virtio 9p: the kernel needs CONFIG_NET_9P_VIRTIO and CONFIG_9P_FS/m,
      );
      // the console's last lines, indented: busybox's mount saying why; /init's internal marker left out
      const tail = r.stderr.slice(r.stderr.indexOf('\n', r.stderr.indexOf('error (vm-boot-failed)')));
      assert.match(tail, /^ {2}mount: mounting hostroot on \/host failed: .*$/m);
      assert.doesNotMatch(tail, /@@/);
      assert.deepEqual(
        [...vmDirs()].filter((d) => !before.has(d)),
        [],
        'the VM temporary directory is removed',
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  },
);
