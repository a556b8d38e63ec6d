// The CLI's file inputs: paths read into bytes, then handed to the engine.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'fs';
import { type Btf } from '../btf/btf';
import { btfFromBytes } from '../btf/input';
import { FormatError } from '../common/errors';
import { ElfFile } from '../elf/reader';

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
 * is read where it lies. A file whose headers do not add up is read whole, so its errors are
 * those of the ELF reader.
 */
export function readWithoutDwarf(file: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const bytes = new Uint8Array(size);
    const read = (at: number, n: number) => n <= 0 || readSync(fd, bytes, at, n, at) === n;
    if (size < 64 || !read(0, 64) || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46 || bytes[4] !== 2)
      return readInput(file);
    const dv = new DataView(bytes.buffer);
    const le = bytes[5] === 1;
    const shoff = Number(dv.getBigUint64(0x28, le));
    const shnum = dv.getUint16(0x3c, le);
    const shstrndx = dv.getUint16(0x3e, le);
    if (dv.getUint16(0x3a, le) !== 64 || shnum === 0 || shstrndx >= shnum || shoff + shnum * 64 > size || !read(shoff, shnum * 64))
      return readInput(file);
    const sec = (i: number) => ({
      name: dv.getUint32(shoff + i * 64, le),
      type: dv.getUint32(shoff + i * 64 + 4, le),
      offset: Number(dv.getBigUint64(shoff + i * 64 + 0x18, le)),
      size: Number(dv.getBigUint64(shoff + i * 64 + 0x20, le)),
    });
    const inFile = (s: ReturnType<typeof sec>) => s.type === 8 /* SHT_NOBITS */ || (s.offset <= size && s.size <= size - s.offset);
    const names = sec(shstrndx);
    if (!inFile(names) || !read(names.offset, names.type === 8 ? 0 : names.size)) return readInput(file);
    const nameAt = (off: number) => {
      const end = bytes.indexOf(0, names.offset + off);
      return off < names.size && end >= 0 ? Buffer.from(bytes.buffer, names.offset + off, end - names.offset - off).toString('latin1') : '';
    };
    for (let i = 1; i < shnum; i++) {
      const s = sec(i);
      if (!inFile(s)) return readInput(file);
      if (s.type !== 8 && !DWARF.test(nameAt(s.name)) && !read(s.offset, s.size)) return readInput(file);
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
