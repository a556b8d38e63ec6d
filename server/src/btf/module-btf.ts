// A kernel module's BTF: `.BTF` is split BTF, either on the vmlinux the module was built
// for or, when the module carries `.BTF.base`, on that distilled base (and then relocated
// onto whichever real vmlinux it meets).
import { FormatError } from '../common/errors';
import { SHT_PROGBITS } from '../elf/constants';
import { type ElfFile } from '../elf/reader';
import { rewriteElf } from '../elf/writer';
import { type Btf, parseBtf } from './btf';
import { type BtfIdsRemap, remapBtfIds } from './btf-ids';
import { type DistilledBtf, DistillError, distillBase } from './distill';
import { RelocateError, TargetIndex, relocateSplit } from './relocate';
import { type TypeId } from './types';
import { writeBtf } from './write';

export interface ModuleBtf {
  /** `.BTF`, parsed on the distilled base when there is one, else on the given base. */
  readonly split: Btf;
  /** `.BTF.base`, if the module has it. */
  readonly distilledBase?: Btf;
}

/** Reads `.BTF` (and `.BTF.base`) of a module or object; `base` is needed without `.BTF.base`. */
export function readModuleBtf(elf: ElfFile, base?: Btf): ModuleBtf {
  const file = elf.file;
  const sec = elf.section('.BTF');
  if (!sec) throw new FormatError(file, '.BTF', 0, 'the ELF file has no .BTF section (was it built with BTF?)');
  const baseSec = elf.section('.BTF.base');
  if (baseSec) {
    const distilledBase = parseBtf(baseSec.data, { file, section: '.BTF.base' });
    return { split: parseBtf(sec.data, { file, section: '.BTF', base: distilledBase }), distilledBase };
  }
  return { split: parseBtf(sec.data, { file, section: '.BTF', base }) };
}

/**
 * The module's BTF as split BTF on a real base: parsed on it directly, or relocated onto
 * it from `.BTF.base` (throws RelocateError when that does not work).
 */
export function moduleBtfOn(elf: ElfFile, base: Btf | TargetIndex): Btf {
  const baseBtf = base instanceof TargetIndex ? base.btf : base;
  const m = readModuleBtf(elf, baseBtf);
  return m.distilledBase ? relocateIn(elf, m.split, base).btf : m.split;
}

/**
 * The module's split BTF on a distilled base: its own `.BTF.base`, or distilled now from
 * its `.BTF` on `origBase` (the vmlinux it was built for).
 */
export function distilledModuleBtf(elf: ElfFile, origBase?: Btf): { split: Btf; fromSection: boolean } {
  if (!origBase && !elf.section('.BTF.base')) {
    throw new FormatError(
      elf.file,
      '.BTF.base',
      0,
      'the module has no .BTF.base section; give the vmlinux BTF it was built for to distill one',
    );
  }
  const m = readModuleBtf(elf, origBase);
  if (m.distilledBase) return { split: m.split, fromSection: true };
  return { split: distillIn(elf, m.split).split, fromSection: false };
}

/** relocateSplit of a module's split BTF; a refusal names the module's file and section. */
function relocateIn(elf: ElfFile, split: Btf, base: Btf | TargetIndex): ReturnType<typeof relocateSplit> {
  try {
    return relocateSplit(split, base);
  } catch (e) {
    if (e instanceof RelocateError) throw new RelocateError(e.mapping, elf.file);
    throw e;
  }
}

/** distillBase of a module's split BTF; a refusal names the module's file and section. */
function distillIn(elf: ElfFile, split: Btf): DistilledBtf {
  try {
    return distillBase(split);
  } catch (e) {
    if (e instanceof DistillError) throw new DistillError(`${elf.file}: section .BTF: ${e.message}`, { cause: e });
    throw e;
  }
}

export interface DistilledModule {
  /** The new module file. */
  readonly bytes: Uint8Array;
  /** The module's split BTF on `base` before distilling. */
  readonly original: Btf;
  readonly distilled: DistilledBtf;
  readonly btf: Uint8Array;
  readonly btfBase: Uint8Array;
  /** The rewritten `.BTF_ids`, if the module has one. */
  readonly btfIds?: BtfIdsRemap;
}

/**
 * A copy of the module whose `.BTF` is split BTF on a new `.BTF.base` distilled from
 * `base` (the vmlinux BTF it was built for), as a kernel build with pahole's
 * distilled_base feature makes it. `.BTF_ids` follows the new type ids; every other
 * section is copied byte for byte. A module that already has `.BTF.base` is relocated
 * onto `base` first, then distilled anew.
 */
export function distillModule(elf: ElfFile, base: Btf | TargetIndex): DistilledModule {
  const baseBtf = base instanceof TargetIndex ? base.btf : base;
  const m = readModuleBtf(elf, baseBtf);
  let original = m.split;
  let toOriginal = (id: TypeId) => id;
  if (m.distilledBase) {
    const r = relocateIn(elf, m.split, base);
    original = r.btf;
    toOriginal = (id) => r.mapId(id);
  }
  const distilled = distillIn(elf, original);
  const btf = writeBtf(distilled.split);
  const btfBase = writeBtf(distilled.base);
  const btfIds = remapBtfIds(elf, (id) => distilled.mapId(toOriginal(id)));
  const replace = new Map([['.BTF', btf]]);
  if (m.distilledBase) replace.set('.BTF.base', btfBase);
  if (btfIds) replace.set('.BTF_ids', btfIds.data);
  const bytes = rewriteElf(elf, {
    replace,
    add: m.distilledBase ? [] : [{ name: '.BTF.base', type: SHT_PROGBITS, data: btfBase, addralign: 4n }],
  });
  return { bytes, original, distilled, btf, btfBase, btfIds };
}
