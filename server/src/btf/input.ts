// BTF from the bytes of a file, whatever the file is: raw BTF (`/sys/kernel/btf/*`, a .btf
// dump) or an ELF object or module with a `.BTF` section. Pure: the caller reads the bytes.
import { FormatError } from '../common/errors';
import { ElfFile, isElf } from '../elf/reader';
import { type Btf, isBtf, parseBtf } from './btf';
import { moduleBtfOn } from './module-btf';

/**
 * BTF from raw BTF or an ELF file's `.BTF` section; `file` names it in errors. A module with
 * `.BTF.base` parses on its distilled base, or is relocated onto `base` if given.
 */
export function btfFromBytes(bytes: Uint8Array, file: string, base?: Btf): Btf {
  if (isBtf(bytes)) return parseBtf(bytes, { file, section: 'BTF', base });
  if (!isElf(bytes)) throw new FormatError(file, 'file', 0, 'neither raw BTF nor an ELF file');
  const elf = new ElfFile(bytes, file);
  const sec = elf.section('.BTF');
  if (!sec) throw new FormatError(file, '.BTF', 0, 'the ELF file has no .BTF section (was it compiled with -g?)');
  const distilled = elf.section('.BTF.base');
  // as the kernel does at module load: relocated from the distilled base onto the real one
  if (base && distilled) return moduleBtfOn(elf, base);
  let onBase = base;
  if (!onBase && distilled) onBase = parseBtf(distilled.data, { file, section: '.BTF.base' });
  return parseBtf(sec.data, { file, section: '.BTF', base: onBase });
}
