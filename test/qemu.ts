// Boots a test kernel under qemu (TCG; KVM is not usable here) with an initramfs and
// returns what the guest wrote to its serial console. The guest's /init should end with
// `poweroff -f`; qemu runs with -no-reboot so a panic ends the run too.
import { spawnSync } from 'child_process';
import { writeFileSync } from 'fs';
import * as path from 'path';

export interface QemuRun {
  readonly code: number;
  /** The serial console (kernel messages at the chosen loglevel, and /init's output). */
  readonly console: string;
}

export function bootQemu(opts: {
  vmlinuz: string;
  initramfs: Buffer;
  dir: string;
  append?: string;
  memMb?: number;
  timeoutMs?: number;
}): QemuRun {
  const initrd = path.join(opts.dir, `initramfs-${process.pid}-${Date.now()}.cpio`);
  writeFileSync(initrd, opts.initramfs);
  const r = spawnSync(
    'qemu-system-x86_64',
    [
      '-accel',
      'tcg',
      '-m',
      String(opts.memMb ?? 512),
      '-nographic',
      '-no-reboot',
      '-nodefaults',
      '-serial',
      'stdio',
      '-kernel',
      opts.vmlinuz,
      '-initrd',
      initrd,
      '-append',
      `console=ttyS0 panic=-1 loglevel=3 ${opts.append ?? ''}`.trim(),
    ],
    { encoding: 'latin1', timeout: opts.timeoutMs ?? 180_000, maxBuffer: 1 << 28 },
  );
  if (r.error) throw r.error;
  return { code: r.status ?? -1, console: r.stdout.replace(/\r\n/g, '\n') };
}
