import { ByteReader, cstring } from '../common/bytes';
import { FormatError } from '../common/errors';
import {
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  SHN_LORESERVE,
  SHN_XINDEX,
  SHT_NOBITS,
  SHT_REL,
  SHT_RELA,
  SHT_SYMTAB,
  SHT_SYMTAB_SHNDX,
} from './constants';

export interface ElfHeader {
  readonly littleEndian: boolean;
  readonly osabi: number;
  readonly type: number;
  readonly machine: number;
  readonly version: number;
  readonly entry: bigint;
  readonly flags: number;
  readonly shoff: number;
  readonly shstrndx: number;
}

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly nameOff: number;
  readonly type: number;
  readonly flags: bigint;
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: bigint;
  readonly entsize: bigint;
  /** File contents; empty for SHT_NOBITS (use `size`). */
  readonly data: Uint8Array;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly bind: number;
  readonly type: number;
  readonly visibility: number;
  /** Section index, with SHN_XINDEX already resolved. */
  readonly shndx: number;
  readonly value: bigint;
  readonly size: bigint;
}

export interface ElfRelocation {
  readonly offset: bigint;
  readonly symbol: number;
  readonly type: number;
  readonly addend?: bigint;
}

export interface ElfRelocSection {
  readonly section: ElfSection;
  /** The section these relocations apply to (sh_info). */
  readonly target: number;
  readonly relocations: readonly ElfRelocation[];
}

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

/** An ELF64 file of either byte order and any machine. */
export class ElfFile {
  readonly header: ElfHeader;
  readonly sections: readonly ElfSection[];
  private symbolsCache?: readonly ElfSymbol[];
  private relocsCache?: readonly ElfRelocSection[];

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    const r = new ByteReader(bytes, true, { file, section: 'ELF header' });
    r.need(0, 16, 'e_ident');
    if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      r.fail(0, 'not an ELF file (bad magic)');
    }
    if (bytes[4] !== ELFCLASS64) r.fail(4, `unsupported ELF class ${bytes[4]} (only ELF64 is supported)`);
    if (bytes[5] !== ELFDATA2LSB && bytes[5] !== ELFDATA2MSB) r.fail(5, `bad ELF byte order ${bytes[5]}`);
    const le = bytes[5] === ELFDATA2LSB;
    const h = new ByteReader(bytes, le, { file, section: 'ELF header' });
    h.need(0, EHDR_SIZE, 'ELF header');
    const shoff = h.u64n(0x28, 'e_shoff');
    const shentsize = h.u16(0x3a);
    let shnum = h.u16(0x3c);
    let shstrndx = h.u16(0x3e);
    this.header = {
      littleEndian: le,
      osabi: bytes[7],
      type: h.u16(0x10),
      machine: h.u16(0x12),
      version: h.u32(0x14),
      entry: h.u64(0x18),
      flags: h.u32(0x30),
      shoff,
      shstrndx,
    };
    if (shoff === 0) {
      this.sections = [];
      return;
    }
    if (shentsize !== SHDR_SIZE) h.fail(0x3a, `e_shentsize is ${shentsize}, expected ${SHDR_SIZE}`);
    const shr = new ByteReader(bytes, le, { file, section: 'section headers' });
    // Extended numbering: the real counts live in section 0.
    if (shnum === 0) shnum = shr.u64n(shoff + 0x20, 'sh_size of section 0');
    if (shstrndx === SHN_XINDEX) shstrndx = shr.u32(shoff + 0x28);
    shr.need(shoff, shnum * SHDR_SIZE, `${shnum} section headers`);
    if (shstrndx >= shnum) h.fail(0x3e, `e_shstrndx ${shstrndx} is out of range (${shnum} sections)`);

    const raw = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * SHDR_SIZE;
      raw.push({
        nameOff: shr.u32(o),
        type: shr.u32(o + 4),
        flags: shr.u64(o + 8),
        addr: shr.u64(o + 0x10),
        offset: shr.u64n(o + 0x18, 'sh_offset'),
        size: shr.u64n(o + 0x20, 'sh_size'),
        link: shr.u32(o + 0x28),
        info: shr.u32(o + 0x2c),
        addralign: shr.u64(o + 0x30),
        entsize: shr.u64(o + 0x38),
        hdrOff: o,
      });
    }
    const strHdr = raw[shstrndx];
    const strtab = new ByteReader(
      new ByteReader(bytes, le, { file, section: 'section headers' }).slice(
        strHdr.offset,
        strHdr.type === SHT_NOBITS ? 0 : strHdr.size,
        'section name table',
      ),
      le,
      { file, section: 'section name table' },
    );
    this.sections = raw.map((s, index) => {
      const name = index === 0 && s.nameOff === 0 ? '' : cstring(strtab, s.nameOff, `section ${index} name`);
      const data =
        s.type === SHT_NOBITS || index === 0
          ? new Uint8Array(0)
          : new ByteReader(bytes, le, { file, section: name || `section ${index}` }).slice(
              s.offset,
              s.size,
              'section contents (sh_offset + sh_size)',
            );
      return {
        index,
        name,
        nameOff: s.nameOff,
        type: s.type,
        flags: s.flags,
        addr: s.addr,
        offset: s.offset,
        size: s.size,
        link: s.link,
        info: s.info,
        addralign: s.addralign,
        entsize: s.entsize,
        data,
      };
    });
  }

  get littleEndian(): boolean {
    return this.header.littleEndian;
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** A reader over a section's bytes whose errors name the file and section. */
  reader(section: ElfSection): ByteReader {
    return new ByteReader(section.data, this.littleEndian, { file: this.file, section: section.name });
  }

  get symtab(): ElfSection | undefined {
    return this.sections.find((s) => s.type === SHT_SYMTAB);
  }

  /** All symbols of SHT_SYMTAB, index 0 (the null symbol) included. */
  get symbols(): readonly ElfSymbol[] {
    if (this.symbolsCache) return this.symbolsCache;
    const symtab = this.symtab;
    if (!symtab) return (this.symbolsCache = []);
    if (symtab.link >= this.sections.length) this.fail(symtab, 0, `sh_link ${symtab.link} names no section`);
    const strs = this.reader(this.sections[symtab.link]);
    const shndxSec = this.sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === symtab.index);
    const xr = shndxSec ? this.reader(shndxSec) : undefined;
    const r = this.reader(symtab);
    if (symtab.size % SYM_SIZE !== 0) r.fail(0, `size ${symtab.size} is not a multiple of ${SYM_SIZE}`);
    const out: ElfSymbol[] = [];
    for (let i = 0, o = 0; o < symtab.size; i++, o += SYM_SIZE) {
      const info = r.u8(o + 4);
      let shndx = r.u16(o + 6);
      if (shndx === SHN_XINDEX && xr) shndx = xr.u32(i * 4);
      const nameOff = r.u32(o);
      out.push({
        index: i,
        name: nameOff === 0 ? '' : cstring(strs, nameOff, `symbol ${i} name`),
        bind: info >> 4,
        type: info & 0xf,
        visibility: r.u8(o + 5) & 0x3,
        shndx,
        value: r.u64(o + 8),
        size: r.u64(o + 16),
      });
    }
    return (this.symbolsCache = out);
  }

  /** Relocation sections (REL and RELA) with the section they apply to. */
  get relocations(): readonly ElfRelocSection[] {
    if (this.relocsCache) return this.relocsCache;
    const out: ElfRelocSection[] = [];
    for (const s of this.sections) if (s.type === SHT_REL || s.type === SHT_RELA) out.push(this.relocSection(s));
    return (this.relocsCache = out);
  }

  /**
   * Relocations that apply to section `index` (of its first relocation section), or [] if
   * none. Parses only that relocation section: objects built with -g carry thousands of
   * .rel.debug_* entries that a load never reads.
   */
  relocationsFor(index: number): readonly ElfRelocation[] {
    if (this.relocsCache) return this.relocsCache.find((r) => r.target === index)?.relocations ?? [];
    const s = this.sections.find((x) => (x.type === SHT_REL || x.type === SHT_RELA) && x.info === index);
    return s ? this.relocSection(s).relocations : [];
  }

  private readonly relocsBySection = new Map<number, ElfRelocSection>();

  private relocSection(s: ElfSection): ElfRelocSection {
    const have = this.relocsBySection.get(s.index);
    if (have) return have;
    const rela = s.type === SHT_RELA;
    const entsize = rela ? 24 : 16;
    const r = this.reader(s);
    if (s.size % entsize !== 0) r.fail(0, `size ${s.size} is not a multiple of ${entsize}`);
    if (s.info >= this.sections.length) r.fail(0, `sh_info ${s.info} names no section`);
    const nsyms = this.symbols.length;
    const relocations: ElfRelocation[] = [];
    for (let o = 0; o < s.size; o += entsize) {
      const info = r.u64(o + 8);
      const symbol = Number(info >> 32n);
      if (symbol >= nsyms) r.fail(o + 8, `relocation names symbol ${symbol}, but there are ${nsyms}`);
      relocations.push({
        offset: r.u64(o),
        symbol,
        type: Number(info & 0xffffffffn),
        ...(rela ? { addend: r.i64(o + 16) } : {}),
      });
    }
    const out = { section: s, target: s.info, relocations };
    this.relocsBySection.set(s.index, out);
    return out;
  }

  fail(section: ElfSection, offset: number, reason: string): never {
    throw new FormatError(this.file, section.name || `section ${section.index}`, offset, reason);
  }
}

export function isSpecialSectionIndex(shndx: number): boolean {
  return shndx >= SHN_LORESERVE;
}

export function parseElf(bytes: Uint8Array, file: string): ElfFile {
  return new ElfFile(bytes, file);
}

/** Where some bytes of a file lie. */
export interface FileSpan {
  readonly offset: number;
  readonly length: number;
}

/**
 * The section header table's place, from an ELF64 file's first 64 bytes: what a reader that
 * loads a file piecewise fetches before ElfFile can name the sections. Undefined when the
 * header does not give it plainly (not ELF64, another header size, no sections, extended
 * numbering): such a reader then reads the whole file and leaves the errors to ElfFile.
 */
export function sectionTableSpan(head: Uint8Array): FileSpan | undefined {
  if (head.length < EHDR_SIZE || !isElf(head) || head[4] !== ELFCLASS64) return undefined;
  const dv = new DataView(head.buffer, head.byteOffset, EHDR_SIZE);
  const le = head[5] === ELFDATA2LSB;
  const shnum = dv.getUint16(0x3c, le);
  if (dv.getUint16(0x3a, le) !== SHDR_SIZE || shnum === 0 || dv.getUint16(0x3e, le) >= shnum) return undefined;
  return { offset: Number(dv.getBigUint64(0x28, le)), length: shnum * SHDR_SIZE };
}

/** The section name table's place, from the header and the section header table (sectionTableSpan's) already in `bytes`. */
export function sectionNamesSpan(bytes: Uint8Array, table: FileSpan): FileSpan {
  const le = bytes[5] === ELFDATA2LSB;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = table.offset + dv.getUint16(0x3e, le) * SHDR_SIZE;
  const nobits = dv.getUint32(at + 4, le) === SHT_NOBITS;
  return { offset: Number(dv.getBigUint64(at + 0x18, le)), length: nobits ? 0 : Number(dv.getBigUint64(at + 0x20, le)) };
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}
