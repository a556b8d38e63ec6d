import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { Btf, isBtf, parseBtf } from '../btf/btf';
import { FormatError } from '../common/errors';
import { ElfFile, isElf } from '../elf/reader';
import { moduleBtfOn } from '../btf/module-btf';

/** Reads a file as bytes (errors keep their errno code for reportError). */
export function readInput(file: string): Uint8Array {
  const buf = readFileSync(file);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * BTF from a raw BTF file (`/sys/kernel/btf/*`) or an ELF file's `.BTF` section. A module
 * with `.BTF.base` parses on its distilled base, or is relocated onto `base` if given.
 */
export function loadBtf(file: string, base?: Btf): Btf {
  return btfFromBytes(readInput(file), file, base);
}

/** Where the running kernel exposes its BTF: `vmlinux` and one split file per module. */
export const SYSFS_BTF = '/sys/kernel/btf';

/** This kernel's vmlinux BTF, then each module's split BTF on it, as libbpf searches them for CO-RE. */
export function sysfsKernelBtfs(): { name: string; btf: Btf }[] {
  const vmlinux = { name: 'vmlinux', btf: loadBtf(join(SYSFS_BTF, 'vmlinux')) };
  const mods = readdirSync(SYSFS_BTF).filter((n) => n !== 'vmlinux').sort()
    .map((n) => ({ name: n, btf: loadBtf(join(SYSFS_BTF, n), vmlinux.btf) }));
  return [vmlinux, ...mods];
}

export function btfFromBytes(bytes: Uint8Array, file: string, base?: Btf): Btf {
  if (isBtf(bytes)) return parseBtf(bytes, { file, section: 'BTF', base });
  if (!isElf(bytes)) throw new FormatError(file, 'file', 0, 'neither raw BTF nor an ELF file');
  const elf = new ElfFile(bytes, file);
  const sec = elf.section('.BTF');
  if (!sec) throw new FormatError(file, '.BTF', 0, 'the ELF file has no .BTF section (was it compiled with -g?)');
  const distilled = elf.section('.BTF.base');
  // as the kernel does at module load: relocated from the distilled base onto the real one
  if (base && distilled) return moduleBtfOn(elf, base);
  let onBase = base;
  if (!onBase && distilled) onBase = parseBtf(distilled.data, { file, section: '.BTF.base' });
  return parseBtf(sec.data, { file, section: '.BTF', base: onBase });
}

/**
 * A kernel module and the base its split BTF is distilled from: its own `.BTF.base`, or
 * `origBase` (the vmlinux BTF it was built for) to distill one on the fly.
 */
export function readModuleWithBase(file: string, origBase: string | undefined): { elf: ElfFile; orig?: Btf } {
  const elf = new ElfFile(readInput(file), file);
  const orig = origBase !== undefined ? loadBtf(origBase) : undefined;
  if (!orig && !elf.section('.BTF.base')) {
    throw new FormatError(file, '.BTF.base', 0, 'the module has no .BTF.base section: give --orig-base VMLINUX (the vmlinux BTF it was built for) to distill one');
  }
  return { elf, orig };
}
