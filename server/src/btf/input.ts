// BTF from the bytes of a file, whatever the file is: raw BTF (`/sys/kernel/btf/*`, a .btf
// dump) or an ELF object or module with a `.BTF` section. Pure: the caller reads the bytes.
import { FormatError } from '../common/errors';
import { ElfFile, isElf } from '../elf/reader';
import { type Btf, isBtf, parseBtf } from './btf';
import { moduleBtfOn } from './module-btf';

/**
 * Where a file's BTF is: the whole file when it is raw BTF, else its ELF `.BTF` section (with
 * the ELF file, for `.BTF.base`). Neither: a FormatError naming `file`. Nothing is parsed yet.
 */
export function locateBtf(bytes: Uint8Array, file: string): { readonly elf?: ElfFile; readonly data: Uint8Array } {
  if (isBtf(bytes)) return { data: bytes };
  if (!isElf(bytes)) throw new FormatError(file, 'file', 0, 'neither raw BTF nor an ELF file');
  const elf = new ElfFile(bytes, file);
  return { elf, data: btfSection(elf) };
}

/** The sections btfFromElf reads: a reader may leave the others unread. */
export const BTF_SECTIONS: ReadonlySet<string> = new Set(['.BTF', '.BTF.base']);

/**
 * BTF from raw BTF or an ELF file's `.BTF` section; `file` names it in errors. A module with
 * `.BTF.base` parses on its distilled base, or is relocated onto `base` if given.
 */
export function btfFromBytes(bytes: Uint8Array, file: string, base?: Btf): Btf {
  const { elf, data } = locateBtf(bytes, file);
  return elf ? btfFromElf(elf, base) : parseBtf(data, { file, section: 'BTF', base });
}

/** btfFromBytes of an ELF file already read: only its BTF_SECTIONS are looked at. */
export function btfFromElf(elf: ElfFile, base?: Btf): Btf {
  const data = btfSection(elf);
  const distilled = elf.section('.BTF.base');
  // as the kernel does at module load: relocated from the distilled base onto the real one
  if (base && distilled) return moduleBtfOn(elf, base);
  let onBase = base;
  if (!onBase && distilled) onBase = parseBtf(distilled.data, { file: elf.file, section: '.BTF.base' });
  return parseBtf(data, { file: elf.file, section: '.BTF', base: onBase });
}

function btfSection(elf: ElfFile): Uint8Array {
  const sec = elf.section('.BTF');
  if (!sec) throw new FormatError(elf.file, '.BTF', 0, 'the ELF file has no .BTF section (was it compiled with -g?)');
  return sec.data;
}
