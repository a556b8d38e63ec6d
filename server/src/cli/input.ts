// The CLI's file inputs: paths read into bytes, then handed to the engine.
import { closeSync, fstatSync, openSync, readFileSync } from 'fs';
import { resolve } from 'path';
import { type Btf } from '../btf/btf';
import { BTF_SECTIONS, btfFromBytes, btfFromElf } from '../btf/input';
import { FormatError } from '../common/errors';
import { ElfFile } from '../elf/reader';
import { isDwarf, readElfSections } from '../host/read-object';
import type * as SysfsBtf from '../kernel/sysfs-btf';

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
  if (!base && resolve(file) === VMLINUX_BTF) return loadSysfsBtf().readVmlinuxBtf();
  // only .BTF and .BTF.base: a cold `btf dump` of a -g object then reads 34 of its 664 KB
  const elf = readElfPart(file, (name) => BTF_SECTIONS.has(name));
  return elf ? btfFromElf(elf, base) : btfFromBytes(readInput(file), file, base);
}

/** Where this kernel publishes its vmlinux BTF (kernel/sysfs-btf.ts, not evaluated unless read). */
const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

// Evaluated only for the kernel's own BTF: the cache code and koffi cost a small object's dump
// nothing.
function loadSysfsBtf(): typeof SysfsBtf {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../kernel/sysfs-btf') as typeof SysfsBtf;
}

/**
 * A file's bytes for a load, inspect or the linker (link/input.ts skips DWARF too): an ELF
 * file's DWARF sections are left unread; anything else (raw BTF, a pipe, headers that do not
 * add up) is read whole.
 */
export function readWithoutDwarf(file: string): Uint8Array {
  return readElfPart(file, (name) => !isDwarf(name))?.bytes ?? readInput(file);
}

/** The ELF file at `file` with only the sections `wanted` names read (readElfSections). */
function readElfPart(file: string, wanted: (name: string) => boolean): ElfFile | undefined {
  const fd = openSync(file, 'r');
  try {
    return readElfSections(fd, fstatSync(fd).size, file, wanted);
  } finally {
    closeSync(fd);
  }
}

/**
 * A kernel module and the base its split BTF is distilled from: its own `.BTF.base`, or
 * `origBase` (the vmlinux BTF it was built for) to distill one on the fly.
 */
export function readModuleWithBase(file: string, origBase: string | undefined): { elf: ElfFile; orig?: Btf } {
  const elf = new ElfFile(readInput(file), file);
  const orig = origBase !== undefined ? loadBtf(origBase) : undefined;
  if (!orig && !elf.section('.BTF.base')) {
    throw new FormatError(
      file,
      '.BTF.base',
      0,
      'the module has no .BTF.base section: give --orig-base VMLINUX (the vmlinux BTF it was built for) to distill one',
    );
  }
  return { elf, orig };
}
