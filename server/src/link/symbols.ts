/**
 * Symbol resolution, as a C linker does it for BPF objects: globals unify by name; a
 * strong definition beats weak ones (the first weak one wins among weak ones); two strong
 * definitions are an error naming both objects; externs bind to the definition, after
 * their BTF is checked against it (extern maps: every map field). Externs nobody defines
 * are errors, except kernel externs (`.kconfig`, `.ksyms` variables and kfuncs) that the
 * loader resolves against the running kernel. Local symbols stay as they are, one section
 * symbol per output section.
 */
import type { Btf } from '../btf/btf';
import type { TypeId } from '../btf/types';
import { BTF_FUNC_STATIC, BTF_VAR_STATIC } from '../btf/types';
import { SHN_LORESERVE, SHN_UNDEF, STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_SECTION } from '../elf/constants';
import type { ElfSymbol } from '../elf/reader';
import { btfMismatch, mapDefinition, mapDefMismatches } from './btf-compat';
import type { InputObject } from './input';
import type { OutSection, Placement, SectionLayout } from './sections';

/** A symbol of the output. `section` undefined: `shndx` says (UNDEF, ABS). */
export interface OutSymbol {
  readonly name: string;
  bind: number;
  type: number;
  visibility: number;
  section?: OutSection;
  shndx: number;
  value: bigint;
  size: bigint;
}

/** One appearance of a global name in one object. */
export interface Occurrence {
  readonly obj: number;
  readonly file: string;
  readonly sym: ElfSymbol;
  readonly defined: boolean;
  readonly weak: boolean;
  readonly place?: Placement;
  /** The object's BTF VAR/FUNC for it, and the DATASEC it sits in. */
  readonly btfId?: TypeId;
  readonly datasec?: string;
}

export type KernelExternKind = 'kconfig' | 'ksym' | 'kfunc';

export interface GlobalSymbol {
  readonly name: string;
  readonly occurrences: Occurrence[];
  /** The definition that won (undefined: a kernel extern left for the loader). */
  winner?: Occurrence;
  /** The occurrence whose BTF VAR/FUNC the output keeps. */
  btfFrom?: Occurrence;
  kernel?: KernelExternKind;
  out?: OutSymbol;
}

export interface SymbolTable {
  readonly locals: OutSymbol[];
  /** By name, in order of first appearance. */
  readonly globals: Map<string, GlobalSymbol>;
  /** Per object: input symbol index → output symbol (undefined: dropped). */
  readonly symMaps: (OutSymbol | undefined)[][];
  /** The section symbol of each output section that has one. */
  readonly sectionSymbols: Map<OutSection, OutSymbol>;
}

const KERNEL_SECS = new Set(['.kconfig', '.ksyms']);

/** Per object: BTF id of each non-static VAR/FUNC in a DATASEC → the DATASEC's name. */
export function datasecIndex(btf: Btf): Map<TypeId, string> {
  const m = new Map<TypeId, string>();
  for (const id of btf.idsOfKind('DATASEC')) {
    const t = btf.type(id);
    if (t.kind === 'DATASEC') for (const v of t.vars) m.set(v.type, t.name);
  }
  return m;
}

function isNonStatic(btf: Btf, id: TypeId): boolean {
  const t = btf.get(id);
  return (t?.kind === 'VAR' && t.linkage !== BTF_VAR_STATIC) || (t?.kind === 'FUNC' && t.linkage !== BTF_FUNC_STATIC);
}

/** Collects every object's symbols, then resolves the globals. Problems are collected. */
export function resolveSymbols(objs: readonly InputObject[], layout: SectionLayout, problems: string[]): SymbolTable {
  const locals: OutSymbol[] = [];
  const globals = new Map<string, GlobalSymbol>();
  const sectionSymbols = new Map<OutSection, OutSymbol>();
  const symMaps: (OutSymbol | undefined)[][] = [];
  const pending: { obj: number; index: number; name: string }[] = [];

  objs.forEach((obj, oi) => {
    const places = layout.places[oi];
    const map: (OutSymbol | undefined)[] = new Array(obj.elf.symbols.length);
    symMaps.push(map);
    const dsIndex = obj.btf ? datasecIndex(obj.btf) : undefined;
    for (const y of obj.elf.symbols) {
      if (y.index === 0) continue;
      let place: Placement | undefined;
      if (y.shndx !== SHN_UNDEF && y.shndx < SHN_LORESERVE) {
        place = places.get(y.shndx);
        if (!place || place.deduped) continue; // DWARF and such, or a second license
      }
      if (y.type === STT_SECTION) {
        if (!place) continue;
        let s = sectionSymbols.get(place.out);
        if (!s) {
          s = { name: '', bind: STB_LOCAL, type: STT_SECTION, visibility: 0, section: place.out, shndx: 0, value: 0n, size: 0n };
          sectionSymbols.set(place.out, s);
          locals.push(s);
        }
        map[y.index] = s;
        continue;
      }
      if (y.bind === STB_LOCAL) {
        const s: OutSymbol = {
          name: y.name,
          bind: y.bind,
          type: y.type,
          visibility: y.visibility,
          section: place?.out,
          shndx: place ? 0 : y.shndx,
          value: y.value + BigInt(place?.off ?? 0),
          size: y.size,
        };
        locals.push(s);
        map[y.index] = s;
        continue;
      }
      if (y.shndx >= SHN_LORESERVE) {
        problems.push(
          `${obj.file}: global symbol '${y.name}' has special section index 0x${y.shndx.toString(16)} (absolute or common symbols are not supported)`,
        );
        continue;
      }
      let btfId: TypeId | undefined;
      let datasec: string | undefined;
      if (obj.btf) {
        const ids = obj.btf.byName(y.name).filter((id) => isNonStatic(obj.btf!, id));
        const inSec = ids.filter((id) => dsIndex!.has(id));
        if (inSec.length > 1) problems.push(`${obj.file}: BTF for '${y.name}' is ambiguous (types ${inSec.join(', ')})`);
        btfId = inSec[0] ?? ids[0];
        if (btfId !== undefined) datasec = dsIndex!.get(btfId);
      }
      let g = globals.get(y.name);
      if (!g) globals.set(y.name, (g = { name: y.name, occurrences: [] }));
      g.occurrences.push({
        obj: oi,
        file: obj.file,
        sym: y,
        defined: y.shndx !== SHN_UNDEF,
        weak: y.bind === STB_WEAK,
        ...(place ? { place } : {}),
        ...(btfId !== undefined ? { btfId } : {}),
        ...(datasec ? { datasec } : {}),
      });
      pending.push({ obj: oi, index: y.index, name: y.name });
    }
  });

  for (const g of globals.values()) resolveOne(g, objs, problems);
  for (const p of pending) symMaps[p.obj][p.index] = globals.get(p.name)!.out;
  return { locals, globals, symMaps, sectionSymbols };
}

function what(o: Occurrence, objs: readonly InputObject[]): string {
  if (o.defined) return o.sym.type === STT_FUNC ? 'function' : o.place?.out.name === '.maps' ? 'map' : 'variable';
  const t = o.btfId !== undefined ? objs[o.obj].btf?.get(o.btfId) : undefined;
  return t?.kind === 'FUNC' ? 'function' : o.datasec === '.maps' ? 'map' : 'variable';
}

function resolveOne(g: GlobalSymbol, objs: readonly InputObject[], problems: string[]): void {
  const defs = g.occurrences.filter((o) => o.defined);
  const strong = defs.filter((o) => !o.weak);
  if (strong.length > 1) {
    problems.push(`'${g.name}' is defined (strong, not __weak) in more than one object: ${strong.map((o) => o.file).join(' and ')}`);
  }
  g.winner = strong[0] ?? defs[0];
  const bind = g.occurrences.some((o) => !o.weak) ? STB_GLOBAL : STB_WEAK;
  const visibility = Math.max(...g.occurrences.map((o) => o.sym.visibility));
  const first = g.occurrences[0];
  if (!g.winner) {
    const secs = new Set(g.occurrences.map((o) => o.datasec ?? ''));
    const sec = secs.size === 1 ? [...secs][0] : '';
    if (!KERNEL_SECS.has(sec)) {
      const users = [...new Set(g.occurrences.map((o) => o.file))].join(', ');
      const noBtf = g.occurrences.every((o) => o.btfId === undefined);
      problems.push(
        `unresolved ${what(first, objs)} '${g.name}' (used in ${users}): no object defines it` +
          (secs.size > 1
            ? ' (and its declarations disagree on the section)'
            : noBtf
              ? ' (and no BTF describes it: compiled without -g?)'
              : '; a kernel symbol needs __ksym, a kernel config value __kconfig'),
      );
    } else {
      const t = first.btfId !== undefined ? objs[first.obj].btf?.get(first.btfId) : undefined;
      g.kernel = sec === '.kconfig' ? 'kconfig' : t?.kind === 'FUNC' ? 'kfunc' : 'ksym';
    }
    g.btfFrom = g.occurrences.find((o) => o.btfId !== undefined);
    checkAgainst(g, g.btfFrom, objs, problems);
    g.out = { name: g.name, bind, type: STT_NOTYPE, visibility, shndx: SHN_UNDEF, value: 0n, size: 0n };
    return;
  }
  const w = g.winner;
  g.btfFrom = w;
  const wsec = w.place!.out.name;
  for (const o of g.occurrences) {
    if (o === w || !o.datasec || o.datasec === '.extern') continue;
    if (o.datasec !== wsec)
      problems.push(`'${g.name}' is declared in section '${o.datasec}' in ${o.file} but defined in '${wsec}' in ${w.file}`);
  }
  const kindW = what(w, objs);
  for (const o of g.occurrences) {
    if (o === w) continue;
    const k = what(o, objs);
    if (k !== kindW && !(kindW === 'map' && k === 'variable'))
      problems.push(`'${g.name}' is a ${k} in ${o.file} but a ${kindW} in ${w.file}`);
  }
  checkAgainst(g, w, objs, problems);
  g.out = {
    name: g.name,
    bind,
    type: w.sym.type,
    visibility,
    section: w.place!.out,
    shndx: 0,
    value: w.sym.value + BigInt(w.place!.off),
    size: w.sym.size,
  };
}

/** Every other occurrence's BTF must match the reference one (maps: every map field). */
function checkAgainst(g: GlobalSymbol, ref: Occurrence | undefined, objs: readonly InputObject[], problems: string[]): void {
  if (g.occurrences.length < 2) return;
  if (!ref || ref.btfId === undefined) {
    problems.push(`'${g.name}' appears in several objects, but ${ref?.file ?? 'none of them'} has no BTF for it (compile with -g)`);
    return;
  }
  const rb = objs[ref.obj].btf!;
  const isMap = ref.place?.out.name === '.maps' || ref.datasec === '.maps';
  const refDef = isMap ? mapDefinition(rb, ref.btfId, g.name) : undefined;
  for (const o of g.occurrences) {
    if (o === ref) continue;
    if (o.btfId === undefined) {
      problems.push(`'${g.name}' in ${o.file} has no BTF to check against ${ref.file} (compile with -g)`);
      continue;
    }
    const ob = objs[o.obj].btf!;
    if (isMap && refDef) {
      const od = mapDefinition(ob, o.btfId, g.name);
      if (!refDef.def || !od.def) {
        problems.push(...[...refDef.problems, ...od.problems].map((p) => `${p} (linking ${ref.file} and ${o.file})`));
        continue;
      }
      const diffs = mapDefMismatches(refDef.def, rb, od.def, ob);
      if (diffs.length) problems.push(`map '${g.name}' in ${o.file} does not match its definition in ${ref.file}: ${diffs.join('; ')}`);
      continue;
    }
    const why = btfMismatch(rb, ref.btfId, ob, o.btfId, true);
    if (why) problems.push(`'${g.name}' in ${o.file} does not match ${ref.file}: ${why}`);
  }
}
