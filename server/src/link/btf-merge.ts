/**
 * The output's BTF: every object's types appended with their ids remapped, one VAR/FUNC
 * per global symbol (the winning definition's, so an extern's declaration gives way to
 * the definition), DATASECs rebuilt for the output sections (final size, each variable
 * at its final offset, sorted, one entry per global), then deduplicated.
 * Also the .BTF.ext records, moved with their sections and pointing at the new type ids.
 */
import type { Btf } from '../btf/btf';
import type { BtfExtRecords, ExtCoreRelo, ExtFuncInfo, ExtLineInfo, ExtSectionRecords } from '../btf/ext-write';
import { BTF_FUNC_STATIC, BTF_VAR_STATIC, type BtfType, type BtfVarSecinfo, type NewType, type TypeId, mapTypeIds } from '../btf/types';
import { dedupGraph } from './btf-dedup';
import { TypeGraphBuilder } from './btf-graph';
import type { InputObject } from './input';
import type { SectionLayout } from './sections';
import { type GlobalSymbol, type SymbolTable, datasecIndex } from './symbols';

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

/** The inputs' types in the order they are appended, before dedup (ids 1..n). */
interface Appended {
  /** Appended id → the object it came from and its type id there (unset for the DATASECs made after). */
  readonly obj: Int32Array;
  readonly id: Int32Array;
  /** Per object: its type id → the appended id (0: not appended). */
  readonly maps: Int32Array[];
  readonly globalId: Map<GlobalSymbol, TypeId>;
  n: number;
}

export function mergeBtf(
  objs: readonly InputObject[],
  layout: SectionLayout,
  syms: SymbolTable,
  problems: string[],
): MergedBtf | undefined {
  if (!objs.some((o) => o.btf)) return undefined;
  const app = append(objs, layout, syms, problems);
  // Types made here: prototypes that took a definition's parameter names, and the DATASECs.
  const protos = nameExternParams(objs, syms, app);
  const sections = datasecs(objs, layout, syms, app.maps, app.globalId);
  const made: NewType[] = [...protos.values(), ...sections];
  const madeAt = new Map<TypeId, number>(); // appended id → index in made
  [...protos.keys()].forEach((id, k) => madeAt.set(id, k));
  sections.forEach((_, k) => madeAt.set(app.n + 1 + k, protos.size + k));
  const typesIn = app.n + sections.length;
  const g = new TypeGraphBuilder(typesIn);
  const madeSrc = g.sourceOf(made);
  const srcs = objs.map((o) => (o.btf ? g.source(o.btf) : undefined));
  const refOfs = objs.map((o, oi) => (r: TypeId) => {
    const to = app.maps[oi][r];
    if (r !== 0 && !to) problems.push(`${o.file}: BTF type ${r} is referenced but was not kept`);
    return to;
  });
  for (let id = 1; id <= typesIn; id++) {
    const k = madeAt.get(id);
    if (k !== undefined) g.add(madeSrc, k, (r) => r);
    else g.add(srcs[app.obj[id]]!, app.id[id] - 1, refOfs[app.obj[id]]);
  }
  const d = dedupGraph(g.finish());
  const types = Array.from(d.kept, (id): NewType => {
    const k = madeAt.get(id);
    if (k !== undefined) return mapTypeIds(made[k], (r) => d.map[r]);
    const oi = app.obj[id];
    const { id: _drop, ...t } = objs[oi].btf!.type(app.id[id]);
    return mapTypeIds(t, (r) => d.map[app.maps[oi][r]]);
  });
  const final = (oi: number, id: TypeId) => d.map[app.maps[oi][id]];
  return {
    types,
    ext: mergeExt(objs, layout, final, problems),
    typesIn,
    typesOut: types.length,
    dedupRounds: d.rounds,
    dedupComplete: d.complete,
  };
}

/**
 * Every object's types but its DATASECs, in order. A non-static VAR or FUNC is appended once,
 * from the object whose BTF the global takes (its definition); the others point at that one.
 * The variable of a license/version section that was already there is dropped with it.
 */
function append(objs: readonly InputObject[], layout: SectionLayout, syms: SymbolTable, problems: string[]): Appended {
  const total = objs.reduce((n, o) => n + (o.btf?.count ?? 0), 0);
  const app: Appended = { obj: new Int32Array(total + 1), id: new Int32Array(total + 1), maps: [], globalId: new Map(), n: 0 };
  const deferred: { map: Int32Array; id: TypeId; g: GlobalSymbol }[] = [];
  objs.forEach((obj, oi) => {
    const btf = obj.btf;
    const map = new Int32Array(btf ? btf.length : 1);
    app.maps.push(map);
    if (!btf) return;
    const dedupedSecs = new Set<string>();
    for (const [idx, p] of layout.places[oi]) if (p.deduped) dedupedSecs.add(obj.elf.sections[idx].name);
    const secOf = datasecIndex(btf);
    for (let id = 1; id < btf.length; id++) {
      const kind = btf.kindOf(id);
      if (kind === 'DATASEC') continue;
      if ((kind === 'VAR' || kind === 'FUNC') && nonStatic(btf.type(id))) {
        const g = syms.globals.get(btf.nameOf(id));
        if (g && g.occurrences.some((o) => o.obj === oi)) {
          if (!(g.btfFrom?.obj === oi && g.btfFrom.btfId === id)) {
            deferred.push({ map, id, g });
            continue;
          }
          app.globalId.set(g, app.n + 1);
        } else if (dedupedSecs.has(secOf.get(id) ?? '')) {
          continue; // the variable of a license/version section that was already there
        }
      }
      map[id] = ++app.n;
      app.obj[app.n] = oi;
      app.id[app.n] = id;
    }
  });
  for (const d of deferred) {
    const to = app.globalId.get(d.g);
    if (to === undefined) problems.push(`'${d.g.name}': no BTF type was kept for it`);
    else d.map[d.id] = to;
  }
  return app;
}

/**
 * clang leaves an extern function's parameters unnamed. When a later object defines it
 * (or a strong definition replaces a __weak one), libbpf's linker writes the definition's
 * parameter names into the FUNC_PROTO of the declaration it met first
 * (complete_extern_btf_info), so that prototype dedups with the definition's. Done here
 * the same way, so the output has the same types as libbpf's. Returns the renamed
 * prototypes by appended id (their references appended ids too).
 */
function nameExternParams(objs: readonly InputObject[], syms: SymbolTable, app: Appended): Map<TypeId, NewType> {
  const renamed = new Map<TypeId, NewType>();
  const protoOf = (o: { obj: number; btfId?: TypeId }) => {
    const t = o.btfId !== undefined ? objs[o.obj].btf?.get(o.btfId) : undefined;
    const p = t?.kind === 'FUNC' ? objs[o.obj].btf!.get(t.type) : undefined;
    return p?.kind === 'FUNC_PROTO' ? { p, obj: o.obj, appended: app.maps[o.obj][p.id] } : undefined;
  };
  const appendedType = (at: { p: BtfType; obj: number }): NewType => {
    const { id: _drop, ...t } = at.p;
    return mapTypeIds(t, (r) => app.maps[at.obj][r]);
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
      if (dst && src && dst.appended) {
        const t = renamed.get(dst.appended) ?? appendedType(dst);
        if (t.kind === 'FUNC_PROTO' && src.p.kind === 'FUNC_PROTO' && t.params.length === src.p.params.length) {
          const names = src.p.params;
          renamed.set(dst.appended, {
            ...t,
            params: t.params.map((q, i) => (names[i].name ? { ...q, name: names[i].name, nameOff: 0 } : q)),
          });
        }
      }
      holder = o;
      extern = false;
      weak = o.weak;
    }
  }
  return renamed;
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
    for (const id of obj.btf.idsOfKind('DATASEC')) {
      const t = obj.btf.type(id);
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
