// The CLI's file inputs: paths read into bytes, then handed to the engine.
import { closeSync, fstatSync, openSync, readFileSync } from 'fs';
import { type Btf } from '../btf/btf';
import { BTF_SECTIONS, btfFromBytes, btfFromElf } from '../btf/input';
import { FormatError } from '../common/errors';
import { ElfFile } from '../elf/reader';
import { readElfSections, readElfWithoutDwarf } from '../host/read-object';

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
  const fd = openSync(file, 'r');
  let elf: ElfFile | undefined;
  try {
    // only .BTF and .BTF.base: a cold `btf dump` of a -g object then reads 34 of its 664 KB
    elf = readElfSections(fd, fstatSync(fd).size, file, (name) => BTF_SECTIONS.has(name));
  } finally {
    closeSync(fd);
  }
  return elf ? btfFromElf(elf, base) : btfFromBytes(readInput(file), file, base);
}

/**
 * A file's bytes for its BTF or the linker (link/input.ts skips DWARF too): an ELF file's DWARF
 * sections are left unread; anything else (raw BTF, a pipe, headers that do not add up) is read whole.
 */
export function readWithoutDwarf(file: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    return readElfWithoutDwarf(fd, fstatSync(fd).size, file) ?? readInput(file);
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
