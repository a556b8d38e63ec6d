/** ObjectFacts from the object model (server/src/object). */
import { btfFromBytes } from '../cli/input';
import { ElfFile } from '../elf/reader';
import { EM_BPF } from '../elf/constants';
import type { ObjectFacts } from './facts';

export function factsOf(bytes: Uint8Array, file: string): ObjectFacts {
  const elf = new ElfFile(bytes, file);
  const isBpf = elf.header.machine === EM_BPF;
  const btf = elf.section('.BTF') ? btfFromBytes(bytes, file) : undefined;
  return { isBpf, btf, maps: [], programs: [], externs: [], problems: [], lineFiles: [], disassembly: () => '' };
}
