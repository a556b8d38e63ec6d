/**
 * One input object of the static linker, read and checked the way libbpf's linker checks
 * it (relocatable EM_BPF ELF64, one symbol table, sections it knows), with every problem
 * a FormatError naming the file, section and offset.
 */
import { type Btf, parseBtf } from '../btf/btf';
import { type BtfExt, parseBtfExt } from '../btf/ext';
import { FormatError } from '../common/errors';
import {
  EM_BPF,
  ET_REL,
  R_BPF_64_32,
  R_BPF_64_64,
  R_BPF_64_ABS32,
  R_BPF_64_ABS64,
  SHF_EXECINSTR,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_LLVM_ADDRSIG,
  SHT_NOBITS,
  SHT_PROGBITS,
  SHT_REL,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_NOTYPE,
  STT_SECTION,
  STV_DEFAULT,
  STV_HIDDEN,
} from '../elf/constants';
import { ElfFile, type ElfRelocation, type ElfSection, type ElfSymbol, isElf } from '../elf/reader';

/** Bytes of one object to link, named as the user named it. */
export interface LinkInput {
  readonly file: string;
  readonly bytes: Uint8Array;
}

/** What becomes of an input section. */
export type SectionRole = 'data' | 'rel' | 'skip';

export interface InputObject {
  readonly file: string;
  readonly elf: ElfFile;
  readonly btf?: Btf;
  readonly ext?: BtfExt;
  /** Role of each section by index (index 0: skip). */
  readonly roles: readonly SectionRole[];
  /** Relocations of each linked relocation section (by its index); DWARF's are never decoded. */
  readonly rels: ReadonlyMap<number, readonly ElfRelocation[]>;
}

const INSN = 8;

function isDwarf(name: string): boolean {
  return name.startsWith('.debug_');
}

function roleOf(s: ElfSection): SectionRole {
  if (s.index === 0 || s.type === SHT_STRTAB || s.type === SHT_LLVM_ADDRSIG || s.type === SHT_SYMTAB) return 'skip';
  if (isDwarf(s.name) || s.name === '.BTF' || s.name === '.BTF.ext') return 'skip';
  if (s.type === SHT_PROGBITS && s.size === 0 && s.name === '.text') return 'skip';
  if (s.name.startsWith('.rel')) {
    const target = s.name.slice(4);
    if (isDwarf(target) || target === '.BTF' || target === '.BTF.ext') return 'skip';
  }
  if (s.type === SHT_REL) return 'rel';
  if (s.type === SHT_PROGBITS || s.type === SHT_NOBITS) return 'data';
  return 'skip';
}

/** Reads and checks one object; `littleEndian` is the byte order the link settled on (the first object's). */
export function readInput(input: LinkInput, littleEndian?: boolean): InputObject {
  const { file, bytes } = input;
  if (!isElf(bytes)) throw new FormatError(file, 'ELF header', 0, 'not an ELF file');
  const elf = new ElfFile(bytes, file);
  const h = elf.header;
  if (h.type !== ET_REL)
    throw new FormatError(file, 'ELF header', 16, `e_type ${h.type} is not a relocatable object (ET_REL); only .o files link`);
  if (h.machine !== EM_BPF) throw new FormatError(file, 'ELF header', 18, `not a BPF object (e_machine ${h.machine})`);
  if (littleEndian !== undefined && elf.littleEndian !== littleEndian) {
    throw new FormatError(
      file,
      'ELF header',
      5,
      `byte order (${elf.littleEndian ? 'little' : 'big'}-endian) differs from the first object's`,
    );
  }
  const symtabs = elf.sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length !== 1) throw new FormatError(file, '.symtab', 0, symtabs.length ? 'more than one symbol table' : 'no symbol table');
  const roles = elf.sections.map(roleOf);
  for (const s of elf.sections) {
    if (s.index === 0) continue;
    const known = [SHT_PROGBITS, SHT_NOBITS, SHT_REL, SHT_STRTAB, SHT_SYMTAB, SHT_LLVM_ADDRSIG].includes(s.type);
    if (!known && !isDwarf(s.name))
      elf.fail(s, 0, `section type ${s.type} is not one the BPF linker knows (RELA sections, groups... are not used by BPF objects)`);
    if (!s.name) elf.fail(s, 0, `section ${s.index} has no name`);
    if (s.addralign > 1n && (s.addralign & (s.addralign - 1n)) !== 0n) elf.fail(s, 0, `alignment ${s.addralign} is not a power of two`);
    if (s.addralign > 4096n) elf.fail(s, 0, `alignment ${s.addralign} is absurd`);
    if (roles[s.index] === 'data' && (s.flags & BigInt(SHF_EXECINSTR)) !== 0n && s.size % INSN !== 0) {
      elf.fail(s, 0, `code section size ${s.size} is not a multiple of ${INSN}`);
    }
  }
  checkSymbols(elf);
  const rels = new Map<number, readonly ElfRelocation[]>();
  for (const s of elf.sections) if (roles[s.index] === 'rel') rels.set(s.index, checkRelocs(elf, s, roles));
  const btfSec = elf.section('.BTF');
  const btf = btfSec ? parseBtf(btfSec.data, { file, section: '.BTF' }) : undefined;
  const extSec = elf.section('.BTF.ext');
  if (extSec && !btf) elf.fail(extSec, 0, '.BTF.ext without .BTF');
  const ext = extSec && btf ? parseBtfExt(extSec.data, btf, file) : undefined;
  if (ext && btf) {
    for (const part of [ext.coreRelos])
      for (const s of part)
        for (const r of s.records) {
          if (!btf.has(r.typeId))
            throw new FormatError(file, '.BTF.ext', 0, `CO-RE relocation in '${s.section}' names type ${r.typeId}, out of range`);
        }
  }
  return { file, elf, ...(btf ? { btf } : {}), ...(ext ? { ext } : {}), roles, rels };
}

function checkSymbols(elf: ElfFile): void {
  const symtab = elf.symtab!;
  const syms = elf.symbols;
  const at = (y: ElfSymbol) => y.index * 24;
  for (const y of syms) {
    if (y.index === 0) continue;
    if (y.bind !== STB_LOCAL && y.bind !== STB_GLOBAL && y.bind !== STB_WEAK)
      elf.fail(symtab, at(y), `symbol '${y.name}' has binding ${y.bind} (only LOCAL, GLOBAL, WEAK)`);
    if (y.visibility !== STV_DEFAULT && y.visibility !== STV_HIDDEN)
      elf.fail(symtab, at(y), `symbol '${y.name}' has visibility ${y.visibility} (only DEFAULT and HIDDEN)`);
    if (y.shndx === SHN_UNDEF) {
      if (y.type !== STT_NOTYPE || y.bind === STB_LOCAL || y.value !== 0n || y.size !== 0n)
        elf.fail(symtab, at(y), `symbol '${y.name}' is an invalid extern (undefined but local, typed or sized)`);
      if (!y.name) elf.fail(symtab, at(y), 'extern symbol without a name');
      continue;
    }
    if (y.shndx < SHN_LORESERVE && y.shndx >= elf.sections.length)
      elf.fail(symtab, at(y), `symbol '${y.name}' names section ${y.shndx}, which does not exist`);
    if (y.type === STT_SECTION && y.value !== 0n) elf.fail(symtab, at(y), `section symbol with a non-zero value`);
    if (y.bind !== STB_LOCAL && !y.name) elf.fail(symtab, at(y), 'global symbol without a name');
  }
}

/** Decodes one SHT_REL section and checks each entry against the section it applies to. */
function checkRelocs(elf: ElfFile, rel: ElfSection, roles: readonly SectionRole[]): ElfRelocation[] {
  if (rel.entsize !== 16n) elf.fail(rel, 0, `entry size ${rel.entsize} (expected 16)`);
  if (rel.size % 16 !== 0) elf.fail(rel, 0, `size ${rel.size} is not a multiple of 16`);
  if (rel.link !== elf.symtab!.index) elf.fail(rel, 0, `sh_link ${rel.link} is not the symbol table`);
  if (rel.info === 0 || rel.info >= elf.sections.length) elf.fail(rel, 0, `sh_info ${rel.info} names no section`);
  const target = elf.sections[rel.info];
  if (rel.name !== `.rel${target.name}`)
    elf.fail(rel, 0, `relocation section applies to '${target.name}' but is not named '.rel${target.name}'`);
  if (roles[target.index] !== 'data') elf.fail(rel, 0, `relocations for '${target.name}', which holds neither code nor data`);
  const exec = (target.flags & BigInt(SHF_EXECINSTR)) !== 0n;
  const rd = elf.reader(rel);
  const nsyms = elf.symbols.length;
  const list: ElfRelocation[] = [];
  for (let o = 0; o < rel.size; o += 16) {
    const info = rd.u64(o + 8);
    const symbol = Number(info >> 32n);
    if (symbol >= nsyms) elf.fail(rel, o + 8, `relocation names symbol ${symbol}, but there are ${nsyms}`);
    list.push({ offset: rd.u64(o), symbol, type: Number(info & 0xffffffffn) });
  }
  list.forEach((r, i) => {
    const o = i * 16;
    if (![R_BPF_64_64, R_BPF_64_32, R_BPF_64_ABS64, R_BPF_64_ABS32].includes(r.type))
      elf.fail(rel, o, `relocation type ${r.type} is not one BPF objects use`);
    if (r.symbol === 0) elf.fail(rel, o, 'relocation against the null symbol');
    const width = r.type === R_BPF_64_ABS32 ? 4n : 8n;
    const end = r.type === R_BPF_64_64 ? 16n : width;
    if (target.type !== SHT_NOBITS && r.offset + end > BigInt(target.size))
      elf.fail(rel, o, `relocation at offset ${r.offset} is past the end of '${target.name}'`);
    if (exec && r.offset % BigInt(INSN) !== 0n) elf.fail(rel, o, `relocation at offset ${r.offset} is not on an instruction boundary`);
  });
  return list;
}
