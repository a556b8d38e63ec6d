/**
 * One guest run on a Debian kernel that sees this machine's root: /init loads the 9p
 * modules (those the kernel does not build in), mounts the host's / read-only at /host with
 * /proc, /sys, /dev and a bpffs, runs a command chrooted there, then powers off. Guest
 * scripts print their result as one `@@JSON {...}` line on a second serial port (a file here) and the console.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { busyboxBase, newcArchive, type InitramfsEntry } from './initramfs';
import { debianKernel, type DebianKernel, type DebianKernelVersion } from './kernels';

/** What it takes to mount the host's root over virtio 9p; later kernels build some in. */
export const NINEP_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'netfs',
  'fscache',
  '9pnet',
  '9pnet_virtio',
  '9p',
];

export interface HostRootGuestOptions {
  readonly version: DebianKernelVersion;
  /** The command run inside `chroot /host` (already quoted for the guest's shell). */
  readonly command: string;
  /** Modules of the kernel package to insmod after the 9p ones (e.g. tcp_bbr). */
  readonly extraModules?: readonly string[];
  /** Shell lines run after the mounts, before the command. */
  readonly setup?: string;
  readonly timeoutMs?: number;
}

export interface HostRootGuestRun {
  readonly kernel: DebianKernel;
  readonly modules: readonly string[];
  readonly console: string;
  /** The guest script's `@@JSON` line (asserted present and without `error`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly result: any;
  readonly ms: number;
}

/**
 * /init: the modules, the host's root at /host, `setup` (shell lines), `chroot /host command`,
 * `after`, power off. `cache: 'loose'` lets the guest cache host files (a long-lived guest).
 */
export function hostRootInit(modules: readonly string[], command: string, setup = '', o: { cache?: 'loose'; after?: string } = {}): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
for m in ${modules.join(' ')}; do insmod /m/$m.ko || echo "@@INSMOD $m failed"; done
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro${o.cache ? `,cache=${o.cache}` : ''} hostroot /host || echo "@@MOUNT failed"
mount --bind /proc /host/proc
mount --bind /sys /host/sys
mount --bind /dev /host/dev
mount -t bpf bpf /host/sys/fs/bpf
${setup}
chroot /host ${command}
${o.after ?? ''}
echo "@@DONE"
poweroff -f
`;
}

/** Boots the kernel once with the command; fails the test when the guest does not report. */
export function runHostRootGuest(o: HostRootGuestOptions): HostRootGuestRun {
  const kernel = debianKernel(o.version);
  const byName = new Map(kernel.modules().map((p) => [path.basename(p, '.ko'), p]));
  const modules = [...NINEP_MODULES, ...(o.extraModules ?? [])].filter((m) => byName.has(m));
  for (const m of o.extraModules ?? []) assert.ok(modules.includes(m), `Debian ${o.version} ships ${m} as a module`);
  const files: InitramfsEntry[] = [
    ...busyboxBase(readFileSync('/bin/busybox')),
    { path: 'm', type: 'dir' },
    ...modules.map((m) => ({ path: `m/${m}.ko`, type: 'file' as const, data: readFileSync(byName.get(m)!) })),
    { path: 'init', type: 'file', data: hostRootInit(modules, o.command, o.setup), mode: 0o755 },
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-guest-'));
  try {
    const initrd = path.join(dir, 'initramfs.cpio');
    const resultFile = path.join(dir, 'result');
    writeFileSync(initrd, newcArchive(files));
    const started = Date.now();
    const r = spawnSync(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg',
        '-m',
        '1024',
        '-nographic',
        '-no-reboot',
        '-nodefaults',
        '-serial',
        'stdio',
        '-serial',
        `file:${resultFile}`,
        '-kernel',
        kernel.vmlinuz,
        '-initrd',
        initrd,
        '-append',
        'console=ttyS0 panic=-1 loglevel=3',
        '-virtfs',
        'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
      ],
      { encoding: 'utf8', timeout: o.timeoutMs ?? 300_000, maxBuffer: 1 << 26 },
    );
    const ms = Date.now() - started;
    const out = (r.stdout ?? '').replace(/\r\n/g, '\n');
    assert.match(out, /@@DONE/, `guest did not finish:\n${out.slice(-3000)}`);
    assert.doesNotMatch(out, /@@INSMOD|@@MOUNT/, out.slice(-3000));
    // the second serial port's copy first: nothing else writes there
    const port = existsSync(resultFile) ? readFileSync(resultFile, 'utf8').replace(/\r\n/g, '\n') : '';
    const m = /@@JSON (.*)$/m.exec(port) ?? /@@JSON (.*)$/m.exec(out);
    assert.ok(m, `no result from the guest:\n${out.slice(-3000)}`);
    let result;
    try {
      result = JSON.parse(m[1]);
    } catch (e) {
      assert.fail(`the guest's result is not JSON (${(e as Error).message}):\n${m[1].slice(0, 2000)}\n${out.slice(-3000)}`);
    }
    assert.equal(result.error, undefined, `${result.error}\n${result.log ?? ''}\n${out.slice(-2000)}`);
    return { kernel, modules, console: out, result, ms };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
