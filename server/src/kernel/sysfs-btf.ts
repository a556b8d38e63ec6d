// The BTF the running kernel publishes as files: /sys/kernel/btf/vmlinux and one split file
// per module with BTF. Plain file reads (no bpf(2), no koffi), so the language server can
// use it without loading the native module.
import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import type { Btf } from '../btf/btf';
import { btfFromBytes } from '../btf/input';
import { parseKernelBtf, readKernelBtfFile } from './btf-index-cache';

/** Where the running kernel exposes its BTF: `vmlinux` and one split file per module. */
export const SYSFS_BTF = '/sys/kernel/btf';

/** The running kernel's vmlinux BTF file (the default base and CO-RE target everywhere). */
export const VMLINUX_BTF = join(SYSFS_BTF, 'vmlinux');

/** Whether this kernel publishes its BTF (CONFIG_DEBUG_INFO_BTF=y). */
export function hasVmlinuxBtf(): boolean {
  return existsSync(VMLINUX_BTF);
}

function readBtfFile(file: string, base?: Btf): Btf {
  const buf = readFileSync(file);
  return btfFromBytes(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file, base);
}

/** This kernel's vmlinux BTF, then each module's split BTF on it, as libbpf searches them for CO-RE. */
export function sysfsKernelBtfs(): { name: string; btf: Btf }[] {
  const { bytes, digest } = readKernelBtfFile(VMLINUX_BTF);
  const vmlinux = { name: 'vmlinux', btf: parseKernelBtf(bytes, { file: VMLINUX_BTF }, undefined, digest) };
  const mods = readdirSync(SYSFS_BTF)
    .filter((n) => n !== 'vmlinux')
    .sort()
    .map((n) => ({ name: n, btf: readBtfFile(join(SYSFS_BTF, n), vmlinux.btf) }));
  return [vmlinux, ...mods];
}
