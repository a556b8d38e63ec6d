/**
 * uprobe targets as libbpf resolves them: the binary found on PATH (or a shared library in the
 * usual library directories) when not given as a path, and a function's file offset from the
 * ELF symbol tables (.symtab, then .dynsym): st_value − section address + section file offset
 * (libbpf's elf_sym_offset). Pure: ELF bytes in, an offset out; file lookups are passed in.
 */
import { ElfFile, type ElfSection } from '../elf/reader';

const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SYM_SIZE = 24;

interface FuncSym {
  readonly name: string;
  readonly type: number;
  readonly shndx: number;
  readonly value: bigint;
}

/** Function symbols of .dynsym (ElfFile reads .symtab only). */
function dynamicSymbols(elf: ElfFile): FuncSym[] {
  const dynsym = elf.sections.find((s) => s.type === SHT_DYNSYM);
  if (!dynsym || dynsym.link >= elf.sections.length) return [];
  const r = elf.reader(dynsym);
  const strs = elf.sections[dynsym.link].data;
  const out: FuncSym[] = [];
  for (let o = 0; o + SYM_SIZE <= dynsym.size; o += SYM_SIZE) {
    const nameOff = r.u32(o);
    if (nameOff >= strs.length) continue;
    const end = strs.indexOf(0, nameOff);
    const name = Buffer.from(strs.subarray(nameOff, end < 0 ? strs.length : end)).toString('latin1');
    out.push({ name, type: r.u8(o + 4) & 0xf, shndx: r.u16(o + 6), value: r.u64(o + 8) });
  }
  return out;
}

/** `readline@@VER` names the same function as `readline`. */
const bare = (name: string) => name.replace(/@.*$/, '');

/**
 * The file offset of `func` in an ELF binary or library. Throws naming the binary when the
 * function is not there or is not in a section with file contents.
 */
export function functionFileOffset(bytes: Uint8Array, binary: string, func: string): bigint {
  const elf = new ElfFile(bytes, binary);
  const isFunc = (s: FuncSym) => (s.type === STT_FUNC || s.type === STT_GNU_IFUNC) && s.shndx !== 0 && bare(s.name) === func;
  const sym = elf.symbols.find(isFunc) ?? dynamicSymbols(elf).find(isFunc);
  if (!sym) throw new Error(`${binary}: no function '${func}' in its symbol tables (.symtab, .dynsym)`);
  const sec: ElfSection | undefined = elf.sections[sym.shndx];
  if (!sec || sec.type === 8 /* SHT_NOBITS */)
    throw new Error(`${binary}: function '${func}' is in section ${sym.shndx}, which has no file contents`);
  const offset = sym.value - sec.addr + BigInt(sec.offset);
  if (offset < 0n) throw new Error(`${binary}: function '${func}' at 0x${sym.value.toString(16)} lies before its section ${sec.name}`);
  return offset;
}

/** libbpf's glob_match: `*` any run, `?` one character, nothing else special. */
export function globMatch(name: string, pattern: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    's',
  );
  return re.test(name);
}

/**
 * The functions a uprobe.multi glob names in a binary, as libbpf's elf_resolve_pattern_offsets:
 * defined STT_FUNC symbols of .symtab matching the glob, else (none there) of .dynsym; each
 * with its file offset. Throws naming the binary when nothing matches.
 */
export function functionsMatching(bytes: Uint8Array, binary: string, pattern: string): { name: string; offset: bigint }[] {
  const elf = new ElfFile(bytes, binary);
  const pick = (syms: readonly FuncSym[]) =>
    syms.flatMap((sym) => {
      if (sym.type !== STT_FUNC || sym.shndx === 0 || !globMatch(sym.name, pattern)) return [];
      const sec = elf.sections[sym.shndx];
      if (!sec || sec.type === 8 /* SHT_NOBITS */) return [];
      return [{ name: sym.name, offset: sym.value - sec.addr + BigInt(sec.offset) }];
    });
  const found = pick(elf.symbols);
  const out = found.length ? found : pick(dynamicSymbols(elf));
  if (!out.length) throw new Error(`${binary}: no function matches '${pattern}' in its symbol tables (.symtab, .dynsym)`);
  return out;
}

/** Where libbpf looks for a binary named without a slash: PATH for programs, library dirs for `*.so*`. */
export function searchDirs(binary: string, env: { PATH?: string; LD_LIBRARY_PATH?: string }, arch = process.arch): string[] {
  if (binary.includes('.so')) {
    const multiarch = arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
    return [
      ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
      '/usr/lib64',
      '/lib64',
      `/usr/lib/${multiarch}`,
      `/lib/${multiarch}`,
      '/usr/lib',
      '/lib',
    ];
  }
  return (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':').filter(Boolean);
}

/** The path of a uprobe's binary: as given when it has a slash, else the first search hit. */
export function resolveBinary(binary: string, exists: (path: string) => boolean, env: { PATH?: string; LD_LIBRARY_PATH?: string }): string {
  if (binary.includes('/')) {
    if (!exists(binary)) throw new Error(`uprobe binary ${binary}: no such file`);
    return binary;
  }
  const dirs = searchDirs(binary, env);
  for (const d of dirs) {
    const p = `${d}/${binary}`;
    if (exists(p)) return p;
  }
  throw new Error(`uprobe binary '${binary}' was not found in ${dirs.join(':')}`);
}
