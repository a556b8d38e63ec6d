// The CLI's file inputs: paths read into bytes, then handed to the engine.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'fs';
import { type Btf } from '../btf/btf';
import { btfFromBytes } from '../btf/input';
import { FormatError } from '../common/errors';
import { SHT_NOBITS } from '../elf/constants';
import { ElfFile, type FileSpan, sectionNamesSpan, sectionTableSpan } from '../elf/reader';

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
  return btfFromBytes(readWithoutDwarf(file), file, base);
}

/** Section names whose contents neither BTF readers nor the linker (link/input.ts skips them) look at: DWARF and its relocations. */
const DWARF = /^\.(rela?)?\.?debug_/;

/**
 * A file's bytes for its BTF or the linker: an ELF64 file's DWARF sections (most of a `-g` object: 430 of
 * core_tracer.o's 664 KB) are left unread, as zeros in pages never touched; everything else
 * is read where it lies. The ELF reader names the sections from the header, the section
 * header table and the name table, read first; a file whose headers do not add up is read
 * whole, so its errors are those of the ELF reader.
 */
export function readWithoutDwarf(file: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const bytes = new Uint8Array(size);
    const read = (s: FileSpan) =>
      s.length === 0 || (s.offset + s.length <= size && readSync(fd, bytes, s.offset, s.length, s.offset) === s.length);
    const table = size >= 64 && read({ offset: 0, length: 64 }) ? sectionTableSpan(bytes) : undefined;
    if (!table || !read(table) || !read(sectionNamesSpan(bytes, table))) return readInput(file);
    let elf: ElfFile;
    try {
      elf = new ElfFile(bytes, file);
    } catch {
      return readInput(file);
    }
    for (const s of elf.sections) {
      if (s.index === 0 || s.type === SHT_NOBITS || DWARF.test(s.name)) continue;
      if (!read({ offset: s.offset, length: s.size })) return readInput(file);
    }
    return bytes;
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
