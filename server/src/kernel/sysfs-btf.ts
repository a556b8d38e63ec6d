// The BTF the running kernel publishes as files: /sys/kernel/btf/vmlinux and one split file
// per module with BTF. File reads, no bpf(2): vmlinux comes through the per-boot copy and
// index (btf-index-cache.ts), mapped with koffi where it loads and read where it does not.
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

/**
 * The running kernel's vmlinux BTF through the per-boot copy and index (btf-index-cache.ts):
 * a process after the boot's first maps both instead of reading sysfs 4 KiB at a time and
 * scanning 126k types.
 */
export function readVmlinuxBtf(): Btf {
  const { bytes, digest } = readKernelBtfFile(VMLINUX_BTF);
  return parseKernelBtf(bytes, { file: VMLINUX_BTF, section: 'BTF' }, undefined, digest);
}

/** This kernel's vmlinux BTF, then each module's split BTF on it, as libbpf searches them for CO-RE. */
export function sysfsKernelBtfs(): { name: string; btf: Btf }[] {
  const vmlinux = { name: 'vmlinux', btf: readVmlinuxBtf() };
  const mods = readdirSync(SYSFS_BTF)
    .filter((n) => n !== 'vmlinux')
    .sort()
    .map((n) => ({ name: n, btf: readBtfFile(join(SYSFS_BTF, n), vmlinux.btf) }));
  return [vmlinux, ...mods];
}
