/**
 * ELF64 program headers (segments), for turning a virtual address of an executable or shared
 * library into a file offset (uprobes and USDT probes are placed by file offset).
 */
import { ByteReader } from '../common/bytes';
import type { ElfFile } from './reader';

export const PT_LOAD = 1;
export const PF_X = 1;
export const PF_W = 2;
const PHDR_SIZE = 56;

export interface ElfSegment {
  readonly index: number;
  readonly type: number;
  readonly flags: number;
  readonly offset: bigint;
  readonly vaddr: bigint;
  readonly filesz: bigint;
  readonly memsz: bigint;
}

/** Every program header; [] for a file without them (a relocatable object). */
export function programHeaders(elf: ElfFile): ElfSegment[] {
  const h = new ByteReader(elf.bytes, elf.littleEndian, { file: elf.file, section: 'ELF header' });
  const phoff = h.u64n(0x20, 'e_phoff');
  const phentsize = h.u16(0x36);
  const phnum = h.u16(0x38);
  if (phoff === 0 || phnum === 0) return [];
  if (phentsize !== PHDR_SIZE) h.fail(0x36, `e_phentsize is ${phentsize}, expected ${PHDR_SIZE}`);
  const r = new ByteReader(elf.bytes, elf.littleEndian, { file: elf.file, section: 'program headers' });
  r.need(phoff, phnum * PHDR_SIZE, `${phnum} program headers`);
  const out: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * PHDR_SIZE;
    out.push({
      index: i,
      type: r.u32(o),
      flags: r.u32(o + 4),
      offset: r.u64(o + 8),
      vaddr: r.u64(o + 0x10),
      filesz: r.u64(o + 0x20),
      memsz: r.u64(o + 0x28),
    });
  }
  return out;
}

/** The PT_LOAD segment whose [vaddr, vaddr+memsz) holds `addr`. */
export function loadSegmentAt(segments: readonly ElfSegment[], addr: bigint): ElfSegment | undefined {
  return segments.find((s) => s.type === PT_LOAD && s.vaddr <= addr && addr < s.vaddr + s.memsz);
}
