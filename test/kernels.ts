// Debian kernel packages as test data: vmlinux BTF, ~4000 modules with split BTF, and a
// bootable vmlinuz, unpacked once by scripts/debian-kernel.sh into a cache directory
// outside the checkout (${BPF_LENS_CACHE:-/var/cache/bpf-lens}/kernels/<version>/). The
// first call downloads the package (6.1: ~70 MB, 6.12: ~105 MB); later calls only look.
import { execFileSync } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { ROOT } from './helpers';

export type DebianKernelVersion = '6.1' | '6.12';

export interface DebianKernel {
  /** The cache directory. */
  readonly dir: string;
  /** The kernel release (`uname -r` on it), e.g. 6.1.0-56-amd64. */
  readonly release: string;
  /** Raw vmlinux BTF (what /sys/kernel/btf/vmlinux holds on that kernel). */
  readonly vmlinuxBtf: string;
  /** The bzImage, for booting under qemu; `config` beside it. */
  readonly vmlinuz: string;
  readonly config: string;
  /** lib/modules/<release> of the package. */
  readonly modulesDir: string;
  /** Every module (plain .ko), sorted by path. */
  modules(): string[];
}

const cache = new Map<DebianKernelVersion, DebianKernel>();

function findKos(dir: string, out: string[]): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findKos(p, out);
    else if (e.name.endsWith('.ko')) out.push(p);
  }
  return out;
}

/** Debian's `version` kernel package, unpacked (downloaded on first use). */
export function debianKernel(version: DebianKernelVersion): DebianKernel {
  const have = cache.get(version);
  if (have) return have;
  const dir = execFileSync('bash', [path.join(ROOT, 'scripts', 'debian-kernel.sh'), version], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  }).trim();
  let modules: string[] | undefined;
  const k: DebianKernel = {
    dir,
    release: readFileSync(path.join(dir, 'release'), 'utf8').trim(),
    vmlinuxBtf: path.join(dir, 'vmlinux.btf'),
    vmlinuz: path.join(dir, 'vmlinuz'),
    config: path.join(dir, 'config'),
    modulesDir: path.join(dir, 'modules'),
    modules: () => (modules ??= findKos(path.join(dir, 'modules'), []).sort()).slice(),
  };
  cache.set(version, k);
  return k;
}

/** A qemu a test saw boot: its pid and the directory of the initramfs it was given. */
export interface QemuChild {
  readonly pid: number;
  readonly dir: string;
}

/** The qemu processes whose parent is `ppid` (a CLI or the language server), with the directory of the initramfs each boots. */
export function qemuChildren(ppid: number): QemuChild[] {
  const out: QemuChild[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const status = readFileSync(`/proc/${e}/status`, 'utf8');
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== ppid || !/^Name:\s+qemu-system/m.test(status)) continue;
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('-initrd');
      if (at >= 0) out.push({ pid: Number(e), dir: path.dirname(argv[at + 1]) }); // else between fork and exec: the next look sees it
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Still the qemu we saw (a pid can be reused: its command line names our initramfs). */
export function qemuAlive(q: QemuChild): boolean {
  try {
    return readFileSync(`/proc/${q.pid}/cmdline`, 'utf8').includes(q.dir);
  } catch {
    return false;
  }
}
