// Shared by the CO-RE tests and the bench: read an object's BTF, .BTF.ext and code sections
// with the project's own readers, and relocate every section.
import { readFileSync } from 'fs';
import { type Btf, parseBtf } from '../server/src/btf/btf';
import { type BtfExt, parseBtfExt } from '../server/src/btf/ext';
import { CandidateCache, type RelocateCoreOutput, type TargetBtf, relocateCore } from '../server/src/core';
import { ElfFile } from '../server/src/elf/reader';

export interface CoreObject {
  readonly file: string;
  readonly elf: ElfFile;
  readonly btf: Btf;
  readonly ext: BtfExt;
}

export function readCoreObject(file: string): CoreObject {
  const buf = readFileSync(file);
  const elf = new ElfFile(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file);
  const btfSec = elf.section('.BTF');
  const extSec = elf.section('.BTF.ext');
  if (!btfSec || !extSec) throw new Error(`${file} has no .BTF/.BTF.ext`);
  const btf = parseBtf(btfSec.data, { file, section: '.BTF' });
  return { file, elf, btf, ext: parseBtfExt(extSec.data, btf, file) };
}

/** Raw BTF of a whole file (an ELF's .BTF, or raw BTF such as /sys/kernel/btf/vmlinux). */
export function readTargetBtf(file: string, name = file, base?: Btf): TargetBtf {
  const buf = readFileSync(file);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (bytes[0] === 0x7f) {
    const elf = new ElfFile(bytes, file);
    return { name, btf: parseBtf(elf.section('.BTF')!.data, { file, section: '.BTF', base }) };
  }
  return { name, btf: parseBtf(bytes, { file, base }) };
}

export interface SectionResult extends RelocateCoreOutput {
  readonly section: string;
}

/** Relocates every section with CO-RE records on a copy of its code, one cache per object. */
export function relocateObject(obj: CoreObject, targets: readonly TargetBtf[]): SectionResult[] {
  const cache = new CandidateCache(obj.btf, targets);
  return obj.ext.coreRelos.map((sec) => {
    const code = obj.elf.section(sec.section);
    if (!code) throw new Error(`${obj.file}: no section ${sec.section}`);
    const lineInfo = obj.ext.lineInfo.find((l) => l.section === sec.section)?.records;
    const out = relocateCore({ localBtf: obj.btf, relos: sec.records, insns: code.data.slice(), targets, cache, lineInfo });
    return { section: sec.section, ...out };
  });
}
