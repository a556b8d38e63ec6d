// The kernel layer on older kernels: Debian's 6.1 and 6.12 boot under qemu (TCG) with the
// host's root mounted read-only over 9p, and the host's node runs the compiled guest script
// (qemu-guest.ts) there. 6.1 has module BTF (the 9p/virtio modules and tcp_bbr are loaded),
// no native arg:ctx nor '?' datasec names, no lockdown: the probes must say so and module BTF must be indexed, and
// trampolines work: fentry attaches, freplace swaps a subprogram (LINK_CREATE target_btf_id).
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { BPF_LINK_TYPE, FEATURE_PROBES } from '../../server/src/kernel';
import { busyboxBase, newcArchive, InitramfsEntry } from '../initramfs';
import { DebianKernelVersion, debianKernel } from '../kernels';

const MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p', 'tcp_bbr'];

function init(guestScript: string, modules: readonly string[]): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
for m in ${modules.join(' ')}; do insmod /m/$m.ko || echo "@@INSMOD $m failed"; done
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host || echo "@@MOUNT failed"
mount --bind /proc /host/proc
mount --bind /sys /host/sys
mount --bind /dev /host/dev
mount -t bpf bpf /host/sys/fs/bpf
mount -t tmpfs tmp /host/tmp
chroot /host ${process.execPath} ${guestScript}
echo "@@DONE"
poweroff -f
`;
}

/** Probes each kernel must answer "no": 6.1 predates native arg:ctx (6.8) and '?' in DATASEC names (6.5). */
const UNSUPPORTED: Record<DebianKernelVersion, string[]> = { '6.1': ['arg_ctx_tag', 'btf_qmark_datasec'], '6.12': [] };

for (const version of ['6.1', '6.12'] as const) test(`Debian ${version} under qemu: probes answer for that kernel, module BTF is indexed, fentry attaches, freplace replaces`, () => {
  const k = debianKernel(version);
  const byName = new Map(k.modules().map((p) => [path.basename(p, '.ko'), p]));
  const guest = path.join(__dirname, 'qemu-guest.js');
  // Later kernels build some of these in (6.12: virtio, fscache).
  const modules = MODULES.filter((m) => byName.has(m));
  for (const m of ['9pnet', '9pnet_virtio', '9p', 'tcp_bbr']) assert.ok(modules.includes(m), m);
  const files: InitramfsEntry[] = [
    ...busyboxBase(readFileSync('/bin/busybox')),
    { path: 'm', type: 'dir' },
    ...modules.map((m) => ({ path: `m/${m}.ko`, type: 'file' as const, data: readFileSync(byName.get(m)!) })),
    { path: 'init', type: 'file', data: init(guest, modules), mode: 0o755 },
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-qemu-'));
  try {
    const initrd = path.join(dir, 'initramfs.cpio');
    writeFileSync(initrd, newcArchive(files));
    const r = spawnSync('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '1024', '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
      '-kernel', k.vmlinuz, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1 loglevel=3',
      '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    ], { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 26 });
    const console = (r.stdout ?? '').replace(/\r\n/g, '\n');
    assert.match(console, /@@DONE/, `guest did not finish:\n${console.slice(-3000)}`);
    assert.doesNotMatch(console, /@@INSMOD|@@MOUNT/, console.slice(-3000));
    const m = /@@JSON (.*)$/m.exec(console);
    assert.ok(m, `no result from the guest:\n${console.slice(-3000)}`);
    const g = JSON.parse(m[1]);
    assert.equal(g.error, undefined, g.error);

    assert.equal(g.system.release, k.release);
    assert.equal(g.privileges.canLoad, true);
    const newer = UNSUPPORTED[version];
    for (const name of newer) assert.deepEqual(g.features[name], { supported: false, errno: 'EINVAL' }, name);
    for (const p of FEATURE_PROBES) if (!newer.includes(p.name)) assert.equal(g.features[p.name].supported, true, p.name);
    // Module BTF: the index lists exactly the sysfs files, vmlinux first.
    assert.deepEqual(['vmlinux', ...g.modules].sort(), g.sysfs);
    for (const mod of modules) assert.ok(g.modules.includes(mod), mod);
    assert.equal(g.sample, 'tcp_bbr');
    assert.equal(g.sampleStart, g.vmlinuxTypes);
    assert.ok(g.sampleTypes > g.vmlinuxTypes);
    assert.equal(g.bbrStruct, true);
    assert.equal(g.sampleInfo.name, 'tcp_bbr');
    assert.equal(g.sampleInfo.kernelBtf, true);
    assert.equal(g.fentry, 'loaded');
    assert.equal(g.fentryLink, BPF_LINK_TYPE.BPF_LINK_TYPE_TRACING);
    // freplace: LINK_CREATE with target_fd + target_btf_id swaps the subprogram, closing the link undoes it.
    assert.deepEqual(g.freplace, { before: 1, after: 2, detached: 1, linkType: BPF_LINK_TYPE.BPF_LINK_TYPE_TRACING });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
