/**
 * An ELF file's bytes without its DWARF: the debug sections (most of a `-g` object: 430 of
 * core_tracer.o's 664 KB) are left unread, as zeros in pages never touched. BTF readers,
 * the linker and the language server's facts never look at them.
 */
import { closeSync, fstatSync, openSync, readSync } from 'fs';
import { SHT_NOBITS } from '../elf/constants';
import { ElfFile, type FileSpan, sectionNamesSpan, sectionTableSpan } from '../elf/reader';
import { checkRegularFile, READ_FLAGS, readAll } from './read-file';

/** DWARF and its relocations. */
const DWARF = /^\.(rela?)?\.?debug_/;

/** Whether section `name` is DWARF or its relocations. */
export const isDwarf = (name: string): boolean => DWARF.test(name);

/**
 * The ELF file open on `fd` (of `size` bytes), all but its DWARF sections read where they lie;
 * undefined when its headers do not add up (the caller reads it whole, so its errors are the
 * ELF reader's).
 */
export function readElfWithoutDwarf(fd: number, size: number, file: string): Uint8Array | undefined {
  return readElfSections(fd, size, file, (name) => !isDwarf(name))?.bytes;
}

/**
 * The ELF file open on `fd` (of `size` bytes) with only the sections `wanted` names read, where
 * they lie; the others are zeros in pages never touched, so their views read as zeros. The
 * header, the section header table and the name table are read first. Undefined when the headers
 * do not add up: the caller then reads the file whole, so its errors are the ELF reader's.
 */
export function readElfSections(fd: number, size: number, file: string, wanted: (name: string) => boolean): ElfFile | undefined {
  const bytes = new Uint8Array(size);
  const read = (s: FileSpan) =>
    s.length === 0 || (s.offset + s.length <= size && readSync(fd, bytes, s.offset, s.length, s.offset) === s.length);
  const table = size >= 64 && read({ offset: 0, length: 64 }) ? sectionTableSpan(bytes) : undefined;
  if (!table || !read(table) || !read(sectionNamesSpan(bytes, table))) return undefined;
  let elf: ElfFile;
  try {
    elf = new ElfFile(bytes, file);
  } catch {
    return undefined;
  }
  for (const s of elf.sections) {
    if (s.index === 0 || s.type === SHT_NOBITS || !wanted(s.name)) continue;
    if (!read({ offset: s.offset, length: s.size })) return undefined;
  }
  return elf;
}

/** A regular file of at most `maxBytes` (as readRegularFile), an ELF file's DWARF left unread. */
export function readRegularObject(file: string, maxBytes: number): Uint8Array {
  const fd = openSync(file, READ_FLAGS);
  try {
    const st = fstatSync(fd);
    checkRegularFile(file, st, maxBytes);
    const bytes = readElfWithoutDwarf(fd, st.size, file);
    if (bytes) return bytes;
    const all = readAll(fd, st.size);
    return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
  } finally {
    closeSync(fd);
  }
}
