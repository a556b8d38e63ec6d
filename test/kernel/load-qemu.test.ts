// The load pipeline on another kernel: Debian's 6.1 boots under qemu (TCG) with the host's root
// over 9p, and the host's node loads objects there (load-guest.ts). Checks what this host cannot:
// kfuncs of a MODULE (tcp_bbr) through fd_array, a struct_ops map registered by updating its
// value (6.1 predates .struct_ops.link) and unregistered on close, the __arg_ctx fallback hook
// (6.1 has no native arg:ctx), CO-RE of a 6.18-built object against 6.1's BTF, a rich object, and
// fentry on a module function (attach_btf_obj_fd), which this host's lockdown refuses.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { ROOT, run } from '../helpers';
import { busyboxBase, newcArchive, InitramfsEntry } from '../initramfs';
import { debianKernel } from '../kernels';

const MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p', 'tcp_bbr'];

function init(command: string, modules: readonly string[]): string {
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
ip link set lo up
chroot /host ${command}
echo "@@DONE"
poweroff -f
`;
}

test('Debian 6.1 under qemu: module kfuncs via fd_array, struct_ops registered and unregistered, __arg_ctx fallback, CO-RE against 6.1', (t) => {
  run('make', ['-s', '-C', path.join(ROOT, 'examples')]);
  const k = debianKernel('6.1');
  const byName = new Map(k.modules().map((p) => [path.basename(p, '.ko'), p]));
  const modules = MODULES.filter((m) => byName.has(m));
  assert.ok(modules.includes('tcp_bbr'), 'Debian 6.1 ships tcp_bbr as a module');
  const command = [process.execPath, path.join(__dirname, 'load-guest.js'), path.join(ROOT, 'build', 'fixtures'), path.join(ROOT, 'examples', 'build'), k.config].join(' ');
  const files: InitramfsEntry[] = [
    ...busyboxBase(readFileSync('/bin/busybox')),
    { path: 'm', type: 'dir' },
    ...modules.map((m) => ({ path: `m/${m}.ko`, type: 'file' as const, data: readFileSync(byName.get(m)!) })),
    { path: 'init', type: 'file', data: init(command, modules), mode: 0o755 },
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-load-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const initrd = path.join(dir, 'initramfs.cpio');
  writeFileSync(initrd, newcArchive(files));
  const r = spawnSync('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '1024', '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
    '-kernel', k.vmlinuz, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1 loglevel=3',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
  ], { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 26 });
  const out = (r.stdout ?? '').replace(/\r\n/g, '\n');
  assert.match(out, /@@DONE/, `guest did not finish:\n${out.slice(-3000)}`);
  assert.doesNotMatch(out, /@@INSMOD|@@MOUNT/, out.slice(-3000));
  const m = /@@JSON (.*)$/m.exec(out);
  assert.ok(m, `no result from the guest:\n${out.slice(-3000)}`);
  const g = JSON.parse(m[1]);
  assert.equal(g.error, undefined, g.error);
  assert.match(g.release, /^6\.1\./);
  t.diagnostic(`6.1 guest: loads took ${Math.round(g.loadMs)} ms`);
  // rich object: tail call into leaf; out[] = scale(10) with factor 3, .data, bpf_loop sum, LINUX_KERNEL_VERSION of 6.1, weak 0, .bss
  assert.deepEqual(g.rich.ret, 1, JSON.stringify(g.rich));
  const [maj, min, patch] = g.release.split(/[.-]/).map(Number);
  assert.deepEqual(g.rich.vals, ['30', '7', '10', String((maj << 16) + (min << 8) + Math.min(patch, 255)), '0', '1']);
  // struct_ops whose programs call tcp_bbr's kfuncs: registered while loaded, gone after close
  assert.deepEqual(g.bbr, { programs: ['lens_bbr_init', 'lens_bbr_ssthresh', 'lens_bbr_undo_cwnd', 'lens_bbr_main'], registered: true, afterClose: false }, JSON.stringify(g.bbr));
  // __arg_ctx: 6.1 lacks native support, the pipeline's hook clones per program and every program verifies
  assert.equal(g.argCtxNative, false);
  assert.ok(!('error' in g.argCtx), JSON.stringify(g.argCtx));
  assert.ok(g.argCtx.programs.length >= 5 && g.argCtx.programs.every((p: [string, boolean]) => p[1]), JSON.stringify(g.argCtx));
  // exec_tracer was built on this host's 6.18 vmlinux.h: CO-RE relocates it against 6.1
  assert.deepEqual(g.execTracer.programs, ['tracing'], JSON.stringify(g.execTracer));
  assert.ok(g.execTracer.relos > 0 && g.execTracer.ok);
  // fentry/bbr_init: found in the tcp_bbr module's BTF (attach_btf_obj_fd), attached, counts a bbr connection
  assert.deepEqual(g.fentryModule.programs, ['tracing'], JSON.stringify(g.fentryModule));
  assert.ok(Number(g.fentryModule.inits) >= 1, JSON.stringify(g.fentryModule));
});
