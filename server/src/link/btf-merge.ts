/**
 * The output's BTF: every object's types appended with their ids remapped, one VAR/FUNC
 * per global symbol (the winning definition's, so an extern's declaration gives way to
 * the definition), DATASECs rebuilt for the output sections (final size, each variable
 * at its final offset, sorted, one entry per global), then deduplicated.
 * Also the .BTF.ext records, moved with their sections and pointing at the new type ids.
 */
import type { Btf } from '../btf/btf';
import type { BtfExtRecords, ExtCoreRelo, ExtFuncInfo, ExtLineInfo, ExtSectionRecords } from '../btf/ext-write';
import { BTF_FUNC_STATIC, BTF_VAR_STATIC, type BtfVarSecinfo, type NewType, type TypeId, mapTypeIds } from '../btf/types';
import { dedupBtf } from './btf-dedup';
import type { InputObject } from './input';
import type { SectionLayout } from './sections';
import type { GlobalSymbol, SymbolTable } from './symbols';

export interface MergedBtf {
  /** Final types (id = index + 1). */
  readonly types: readonly NewType[];
  readonly ext: BtfExtRecords;
  /** Types appended before dedup, and after. */
  readonly typesIn: number;
  readonly typesOut: number;
  readonly dedupRounds: readonly number[];
  /** False when dedup gave up (see dedupBtf) and the types were kept as they are. */
  readonly dedupComplete: boolean;
}

const EPHEMERAL = new Set(['.kconfig', '.ksyms']);

function nonStatic(t: ReturnType<Btf['get']>): boolean {
  return (t?.kind === 'VAR' && t.linkage !== BTF_VAR_STATIC) || (t?.kind === 'FUNC' && t.linkage !== BTF_FUNC_STATIC);
}

export function mergeBtf(
  objs: readonly InputObject[],
  layout: SectionLayout,
  syms: SymbolTable,
  problems: string[],
): MergedBtf | undefined {
  if (!objs.some((o) => o.btf)) return undefined;
  const merged: { obj: number; t: NewType }[] = [];
  const maps: Int32Array[] = [];
  const globalId = new Map<GlobalSymbol, TypeId>();
  const deferred: { map: Int32Array; id: TypeId; g: GlobalSymbol }[] = [];

  objs.forEach((obj, oi) => {
    const btf = obj.btf;
    const map = new Int32Array(btf ? btf.length : 1);
    maps.push(map);
    if (!btf) return;
    const dedupedSecs = new Set<string>();
    for (const [idx, p] of layout.places[oi]) if (p.deduped) dedupedSecs.add(obj.elf.sections[idx].name);
    const secOf = new Map<TypeId, string>();
    for (const t of btf.types) if (t.kind === 'DATASEC') for (const v of t.vars) secOf.set(v.type, t.name);
    for (let id = 1; id < btf.length; id++) {
      const t = btf.type(id);
      if (t.kind === 'DATASEC') continue;
      if (nonStatic(t)) {
        const g = syms.globals.get(t.name);
        if (g && g.occurrences.some((o) => o.obj === oi)) {
          if (g.btfFrom?.obj === oi && g.btfFrom.btfId === id) {
            globalId.set(g, merged.length + 1);
          } else {
            deferred.push({ map, id, g });
            continue;
          }
        } else if (dedupedSecs.has(secOf.get(id) ?? '')) {
          continue; // the variable of a license/version section that was already there
        }
      }
      const { id: _drop, ...rest } = t;
      merged.push({ obj: oi, t: rest });
      map[id] = merged.length;
    }
  });
  for (const d of deferred) {
    const to = globalId.get(d.g);
    if (to === undefined) problems.push(`'${d.g.name}': no BTF type was kept for it`);
    else d.map[d.id] = to;
  }
  const types: NewType[] = merged.map(({ obj, t }) =>
    mapTypeIds(t, (r) => {
      const to = maps[obj][r];
      if (r !== 0 && !to) problems.push(`${objs[obj].file}: BTF type ${r} is referenced but was not kept`);
      return to;
    }),
  );
  nameExternParams(objs, syms, maps, types);
  for (const ds of datasecs(objs, layout, syms, maps, globalId)) types.push(ds);
  const typesIn = types.length;
  const d = dedupBtf(types);
  const final = (oi: number, id: TypeId) => d.map[maps[oi][id]];
  return {
    types: d.types,
    ext: mergeExt(objs, layout, final, problems),
    typesIn,
    typesOut: d.types.length,
    dedupRounds: d.rounds,
    dedupComplete: d.complete,
  };
}

/**
 * clang leaves an extern function's parameters unnamed. When a later object defines it
 * (or a strong definition replaces a __weak one), libbpf's linker writes the definition's
 * parameter names into the FUNC_PROTO of the declaration it met first
 * (complete_extern_btf_info), so that prototype dedups with the definition's. Done here
 * the same way, so the output has the same types as libbpf's.
 */
function nameExternParams(objs: readonly InputObject[], syms: SymbolTable, maps: Int32Array[], types: NewType[]): void {
  const protoOf = (o: { obj: number; btfId?: TypeId }) => {
    const t = o.btfId !== undefined ? objs[o.obj].btf?.get(o.btfId) : undefined;
    const p = t?.kind === 'FUNC' ? objs[o.obj].btf!.get(t.type) : undefined;
    return p?.kind === 'FUNC_PROTO' ? { p, merged: maps[o.obj][p.id] } : undefined;
  };
  for (const g of syms.globals.values()) {
    const withBtf = g.occurrences.filter((o) => o.btfId !== undefined);
    let holder = withBtf[0];
    if (!holder) continue;
    let extern = !holder.defined;
    let weak = holder.weak;
    for (const o of withBtf.slice(1)) {
      if (!o.defined || (!extern && (o.weak || !weak))) continue;
      const dst = protoOf(holder);
      const src = protoOf(o);
      if (dst && src && dst.merged) {
        const t = types[dst.merged - 1];
        if (t.kind === 'FUNC_PROTO' && t.params.length === src.p.params.length) {
          types[dst.merged - 1] = {
            ...t,
            params: t.params.map((q, i) => (src.p.params[i].name ? { ...q, name: src.p.params[i].name, nameOff: 0 } : q)),
          };
        }
      }
      holder = o;
      extern = false;
      weak = o.weak;
    }
  }
}

function datasecs(
  objs: readonly InputObject[],
  layout: SectionLayout,
  syms: SymbolTable,
  maps: Int32Array[],
  globalId: Map<GlobalSymbol, TypeId>,
): NewType[] {
  const vars = new Map<string, BtfVarSecinfo[]>();
  const entry = (name: string) => {
    let v = vars.get(name);
    if (!v) vars.set(name, (v = []));
    return v;
  };
  objs.forEach((obj, oi) => {
    if (!obj.btf) return;
    for (const t of obj.btf.types) {
      if (t.kind !== 'DATASEC' || t.name === '.extern') continue;
      const idx = obj.elf.section(t.name)?.index;
      const place = idx !== undefined ? layout.places[oi].get(idx) : undefined;
      if (!(place && !place.deduped) && !EPHEMERAL.has(t.name)) continue;
      const list = entry(t.name);
      for (const v of t.vars) {
        if (nonStatic(obj.btf.get(v.type))) continue; // globals: below, once, where they were defined
        list.push({ type: maps[oi][v.type], offset: v.offset + (place?.off ?? 0), size: v.size });
      }
    }
  });
  for (const g of syms.globals.values()) {
    const from = g.btfFrom;
    const id = globalId.get(g);
    if (!from || id === undefined || !from.datasec || from.datasec === '.extern') continue;
    const src = objs[from.obj].btf!;
    const ds = src.find('DATASEC', from.datasec);
    const v = ds?.kind === 'DATASEC' ? ds.vars.find((x) => x.type === from.btfId) : undefined;
    if (!v) continue;
    if (g.winner) entry(from.datasec).push({ type: id, offset: Number(g.out!.value), size: v.size });
    else entry(from.datasec).push({ type: id, offset: v.offset, size: v.size });
  }
  const out: NewType[] = [];
  const emit = (name: string, size: number) => {
    const list = vars.get(name);
    if (!list) return;
    const sorted = list
      .map((v, i) => ({ v, i }))
      .sort((a, b) => a.v.offset - b.v.offset || a.i - b.i)
      .map((x) => x.v);
    out.push({ kind: 'DATASEC', name, nameOff: 0, kindFlag: false, size, vars: sorted });
    vars.delete(name);
  };
  for (const s of layout.sections) emit(s.name, s.size);
  for (const name of [...vars.keys()]) emit(name, 0);
  return out;
}

function mergeExt(
  objs: readonly InputObject[],
  layout: SectionLayout,
  final: (oi: number, id: TypeId) => number,
  problems: string[],
): BtfExtRecords {
  const func = new Map<string, ExtFuncInfo[]>();
  const line = new Map<string, ExtLineInfo[]>();
  const core = new Map<string, ExtCoreRelo[]>();
  const add = <T>(m: Map<string, T[]>, name: string, recs: T[]) => {
    const have = m.get(name);
    if (have) have.push(...recs);
    else m.set(name, recs);
  };
  objs.forEach((obj, oi) => {
    if (!obj.ext) return;
    const where = (section: string) => {
      const idx = obj.elf.section(section)?.index;
      const p = idx !== undefined ? layout.places[oi].get(idx) : undefined;
      if (!p) problems.push(`${obj.file}: .BTF.ext names section '${section}', which the object does not link`);
      return p;
    };
    for (const s of obj.ext.funcInfo) {
      const p = where(s.section);
      if (p)
        add(
          func,
          p.out.name,
          s.records.map((r) => ({ insnOff: r.insnOff + p.off, typeId: final(oi, r.typeId) })),
        );
    }
    for (const s of obj.ext.lineInfo) {
      const p = where(s.section);
      if (p)
        add(
          line,
          p.out.name,
          s.records.map((r) => ({ insnOff: r.insnOff + p.off, file: r.file, text: r.text, line: r.line, column: r.column })),
        );
    }
    for (const s of obj.ext.coreRelos) {
      const p = where(s.section);
      if (p)
        add(
          core,
          p.out.name,
          s.records.map((r) => ({ insnOff: r.insnOff + p.off, typeId: final(oi, r.typeId), accessStr: r.accessStr, kind: r.kind })),
        );
    }
  });
  const list = <T>(m: Map<string, T[]>): ExtSectionRecords<T>[] => [...m].map(([section, records]) => ({ section, records }));
  return { funcInfo: list(func), lineInfo: list(line), coreRelos: list(core) };
}
