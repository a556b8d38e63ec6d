// Builds an ELF64 relocatable file from scratch (either byte order): the sections the
// caller gives, then a section-name table, then the section header table. What the
// static linker writes; rewriteElf (writer.ts) is for editing a file that exists.
import { ByteWriter } from '../common/bytes';
import { ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ET_REL, SHN_LORESERVE, SHN_XINDEX, SHT_NOBITS, SHT_STRTAB } from './constants';

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
export const SYM_SIZE = 24;
export const REL_SIZE = 16;

/** One section of the new file; its index is its position + 1 (index 0 is the null section). */
export interface BuildSection {
  readonly name: string;
  readonly type: number;
  readonly flags?: bigint;
  /** Contents; for SHT_NOBITS only `size` counts. */
  readonly data: Uint8Array;
  /** SHT_NOBITS: the size the section occupies in memory. */
  readonly size?: number;
  readonly addralign?: bigint;
  readonly entsize?: bigint;
  readonly link?: number;
  readonly info?: number;
}

export interface BuildElf {
  readonly littleEndian: boolean;
  readonly machine: number;
  readonly type?: number;
  readonly flags?: number;
  readonly sections: readonly BuildSection[];
}

/** One symbol for encodeSymtab; `shndx` is an index in the new file (or SHN_UNDEF/SHN_ABS). */
export interface BuildSymbol {
  readonly name: string;
  readonly bind: number;
  readonly type: number;
  readonly visibility: number;
  readonly shndx: number;
  readonly value: bigint;
  readonly size: bigint;
}

/** A string table builder: NUL first, each distinct string once. */
export class StringTable {
  private readonly offsets = new Map<string, number>([['', 0]]);
  private readonly chunks: Buffer[] = [Buffer.from([0])];
  private len = 1;

  add(s: string): number {
    const have = this.offsets.get(s);
    if (have !== undefined) return have;
    const off = this.len;
    const b = Buffer.from(`${s}\0`, 'latin1');
    this.chunks.push(b);
    this.len += b.length;
    this.offsets.set(s, off);
    return off;
  }

  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }
}

/**
 * `.symtab` and its `.strtab`. Symbols must come locals first (ELF's rule); `firstGlobal`
 * is what the symtab's sh_info must say.
 */
export function encodeSymtab(
  symbols: readonly BuildSymbol[],
  littleEndian: boolean,
): { symtab: Uint8Array; strtab: Uint8Array; firstGlobal: number } {
  const strs = new StringTable();
  const w = new ByteWriter(littleEndian, (symbols.length + 1) * SYM_SIZE);
  w.zeros(SYM_SIZE);
  let firstGlobal = symbols.length + 1;
  symbols.forEach((s, i) => {
    if (s.bind !== 0 && firstGlobal > symbols.length) firstGlobal = i + 1;
    if (s.bind === 0 && firstGlobal <= symbols.length) throw new Error(`encodeSymtab: local symbol '${s.name}' after a global one`);
    w.u32(s.name ? strs.add(s.name) : 0);
    w.u8(((s.bind & 0xf) << 4) | (s.type & 0xf));
    w.u8(s.visibility & 3);
    w.u16(s.shndx);
    w.u64(s.value);
    w.u64(s.size);
  });
  return { symtab: w.finish(), strtab: strs.bytes(), firstGlobal };
}

/** SHT_REL entries (r_offset, r_info = sym << 32 | type). */
export function encodeRel(rels: readonly { offset: bigint; symbol: number; type: number }[], littleEndian: boolean): Uint8Array {
  const w = new ByteWriter(littleEndian, rels.length * REL_SIZE + 8);
  for (const r of rels) {
    w.u64(r.offset);
    w.u64((BigInt(r.symbol) << 32n) | BigInt(r.type >>> 0));
  }
  return w.finish();
}

function alignOf(a: bigint | undefined): number {
  return a && a > 1n && a <= 4096n ? Number(a) : 1;
}

/** The file: header, each section's bytes (aligned), `.shstrtab`, section headers. */
export function buildElf(spec: BuildElf): Uint8Array {
  const le = spec.littleEndian;
  const names = new StringTable();
  const all: BuildSection[] = [...spec.sections];
  const shstrtabName = names.add('.shstrtab');
  const nameOffs = all.map((s) => names.add(s.name));
  const shstrtab: BuildSection = { name: '.shstrtab', type: SHT_STRTAB, data: names.bytes(), addralign: 1n };
  all.push(shstrtab);
  nameOffs.push(shstrtabName);
  const shnum = all.length + 1;
  if (shnum >= SHN_LORESERVE) throw new Error(`buildElf: ${shnum} sections need extended numbering, which is not supported`);

  const w = new ByteWriter(le, 4096);
  w.zeros(EHDR_SIZE);
  const offsets = all.map((s) => {
    if (s.type === SHT_NOBITS) return w.length;
    w.align(alignOf(s.addralign));
    const off = w.length;
    w.bytes(s.data);
    return off;
  });
  w.align(8);
  const shoff = w.length;
  w.zeros(SHDR_SIZE);
  all.forEach((s, i) => {
    w.u32(nameOffs[i]);
    w.u32(s.type);
    w.u64(s.flags ?? 0n);
    w.u64(0);
    w.u64(offsets[i]);
    w.u64(s.type === SHT_NOBITS ? (s.size ?? 0) : s.data.length);
    w.u32(s.link ?? 0);
    w.u32(s.info ?? 0);
    w.u64(BigInt(alignOf(s.addralign)));
    w.u64(s.entsize ?? 0n);
  });
  const out = w.finish();
  const h = new ByteWriter(le, EHDR_SIZE);
  h.bytes(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, ELFCLASS64, le ? ELFDATA2LSB : ELFDATA2MSB, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  h.u16(spec.type ?? ET_REL);
  h.u16(spec.machine);
  h.u32(1);
  h.u64(0); // e_entry
  h.u64(0); // e_phoff
  h.u64(shoff);
  h.u32(spec.flags ?? 0);
  h.u16(EHDR_SIZE);
  h.u16(0); // e_phentsize
  h.u16(0); // e_phnum
  h.u16(SHDR_SIZE);
  h.u16(shnum);
  h.u16(shnum - 1 === SHN_XINDEX ? SHN_XINDEX : shnum - 1); // .shstrtab is last
  out.set(h.finish(), 0);
  return out;
}
