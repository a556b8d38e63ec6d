// Writes a copy of an ELF64 file (either byte order) with some sections' contents
// replaced and new sections added. Every other section's bytes are copied unchanged;
// section indices stay, so symbols, relocations and sh_link/sh_info keep pointing at the
// same sections. Used to give a module a `.BTF.base` and a new `.BTF`.
import { ByteReader } from '../common/bytes';
import { FormatError } from '../common/errors';
import { type ElfFile, type ElfSection } from './reader';
import { SHF_ALLOC, SHN_LORESERVE, SHT_NOBITS, SHT_NULL } from './constants';

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;

export interface NewSection {
  readonly name: string;
  readonly type: number;
  readonly data: Uint8Array;
  readonly flags?: bigint;
  readonly addralign?: bigint;
  readonly entsize?: bigint;
  readonly link?: number;
  readonly info?: number;
}

export interface ElfEdits {
  /** New contents for existing sections, by name. */
  readonly replace?: ReadonlyMap<string, Uint8Array>;
  /** Sections to append (after the existing ones, in this order). */
  readonly add?: readonly NewSection[];
}

interface Placed {
  readonly offset: number;
  readonly size: number;
  readonly data?: Uint8Array;
}

function alignUp(n: number, a: bigint): number {
  const al = a > 1n && a <= 4096n ? Number(a) : 1;
  return Math.ceil(n / al) * al;
}

/** .shstrtab with `names` appended where they are not already there as whole strings. */
function extendNames(table: Uint8Array, names: readonly string[]): { bytes: Uint8Array; offsets: number[] } {
  const text = Buffer.from(table.buffer, table.byteOffset, table.length).toString('latin1');
  let extra = '';
  const offsets = names.map((name) => {
    const have = text.indexOf(`\0${name}\0`);
    if (have >= 0) return have + 1;
    const off = table.length + extra.length;
    extra += `${name}\0`;
    return off;
  });
  const bytes = new Uint8Array(table.length + extra.length);
  bytes.set(table);
  bytes.set(Buffer.from(extra, 'latin1'), table.length);
  return { bytes, offsets };
}

/**
 * A new file: the ELF header (and program headers), then each section's contents in
 * their original file order, aligned, then the added sections, then the section header
 * table. A file with program headers keeps its allocated sections where they are (they
 * are mapped by segments) and may not resize them.
 */
export function rewriteElf(elf: ElfFile, edits: ElfEdits): Uint8Array {
  const bytes = elf.bytes;
  const le = elf.littleEndian;
  const file = elf.file;
  const r = new ByteReader(bytes, le, { file, section: 'ELF header' });
  const phoff = r.u64n(0x20, 'e_phoff');
  const phnum = r.u16(0x38);
  const phentsize = r.u16(0x36);
  const sections = elf.sections;
  if (sections.length === 0) throw new FormatError(file, 'section headers', 0, 'the file has no section headers to edit');
  const replace = edits.replace ?? new Map<string, Uint8Array>();
  const add = edits.add ?? [];
  for (const name of replace.keys()) {
    if (!sections.some((s) => s.name === name)) throw new FormatError(file, name, 0, `no section '${name}' to replace`);
  }
  for (const s of add) {
    if (sections.some((x) => x.name === s.name)) throw new FormatError(file, s.name, 0, `section '${s.name}' already exists`);
  }

  const shstrndx = elf.header.shstrndx;
  const shstr = sections[shstrndx];
  const names = add.length
    ? extendNames(
        replace.get(shstr.name) ?? shstr.data,
        add.map((s) => s.name),
      )
    : undefined;
  const contents = (s: ElfSection): Uint8Array => (s.index === shstrndx && names ? names.bytes : (replace.get(s.name) ?? s.data));

  // Sections a segment maps stay put; the rest is laid out after them.
  const pinned = (s: ElfSection) => phnum > 0 && (s.flags & BigInt(SHF_ALLOC)) !== 0n && s.type !== SHT_NOBITS;
  let pos = EHDR_SIZE;
  if (phnum > 0) pos = Math.max(pos, phoff + phnum * phentsize);
  for (const s of sections) {
    if (s.index === 0 || !pinned(s)) continue;
    if (contents(s).length !== s.size) throw new FormatError(file, s.name, 0, 'cannot resize a section that a program segment maps');
    pos = Math.max(pos, s.offset + s.size);
  }
  const prefix = phnum > 0 ? pos : EHDR_SIZE;

  const placed: Placed[] = new Array(sections.length);
  placed[0] = { offset: 0, size: sections[0].size };
  const order = sections.filter((s) => s.index !== 0).sort((a, b) => a.offset - b.offset || a.index - b.index);
  for (const s of order) {
    if (pinned(s)) {
      placed[s.index] = { offset: s.offset, size: s.size, data: contents(s) };
    } else if (s.type === SHT_NOBITS || s.type === SHT_NULL) {
      placed[s.index] = { offset: s.type === SHT_NOBITS && phnum === 0 ? alignUp(pos, s.addralign) : s.offset, size: s.size };
    } else {
      const data = contents(s);
      pos = alignUp(pos, s.addralign);
      placed[s.index] = { offset: pos, size: data.length, data };
      pos += data.length;
    }
  }
  const addedAt = add.map((s) => {
    pos = alignUp(pos, s.addralign ?? 1n);
    const at = { offset: pos, size: s.data.length, data: s.data };
    pos += s.data.length;
    return at;
  });
  const shoff = alignUp(pos, 8n);
  const shnum = sections.length + add.length;
  const out = new Uint8Array(shoff + shnum * SHDR_SIZE);
  const dv = new DataView(out.buffer);
  out.set(bytes.subarray(0, prefix));
  for (const p of placed) if (p.data) out.set(p.data, p.offset);
  addedAt.forEach((p) => out.set(p.data, p.offset));

  // Section headers: the old ones with new offsets and sizes, then the added ones.
  const oldShoff = elf.header.shoff;
  for (const s of sections) {
    const o = shoff + s.index * SHDR_SIZE;
    out.set(bytes.subarray(oldShoff + s.index * SHDR_SIZE, oldShoff + (s.index + 1) * SHDR_SIZE), o);
    if (s.index === 0) continue;
    dv.setBigUint64(o + 0x18, BigInt(placed[s.index].offset), le);
    if (s.type !== SHT_NOBITS) dv.setBigUint64(o + 0x20, BigInt(placed[s.index].size), le);
  }
  add.forEach((s, i) => {
    const o = shoff + (sections.length + i) * SHDR_SIZE;
    dv.setUint32(o, names!.offsets[i], le);
    dv.setUint32(o + 4, s.type, le);
    dv.setBigUint64(o + 8, s.flags ?? 0n, le);
    dv.setBigUint64(o + 0x10, 0n, le);
    dv.setBigUint64(o + 0x18, BigInt(addedAt[i].offset), le);
    dv.setBigUint64(o + 0x20, BigInt(s.data.length), le);
    dv.setUint32(o + 0x28, s.link ?? 0, le);
    dv.setUint32(o + 0x2c, s.info ?? 0, le);
    dv.setBigUint64(o + 0x30, s.addralign ?? 1n, le);
    dv.setBigUint64(o + 0x38, s.entsize ?? 0n, le);
  });

  // ELF header: where the table is and how many entries (extended numbering past 0xff00).
  dv.setBigUint64(0x28, BigInt(shoff), le);
  const extended = shnum >= SHN_LORESERVE || r.u16(0x3c) === 0;
  dv.setUint16(0x3c, extended ? 0 : shnum, le);
  if (extended) dv.setBigUint64(shoff + 0x20, BigInt(shnum), le);
  return out;
}
