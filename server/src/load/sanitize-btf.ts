/**
 * The object's BTF as the kernel will take it. Two pure steps, on copies:
 * - fixupObjectBtf (libbpf's btf_fixup_datasec and extern handling): DATASEC sizes and
 *   variable offsets from the ELF symbols; `.kconfig` VARs get their map offsets; `.ksyms`
 *   entries become int-typed allocated VARs and extern FUNCs global (the kernel accepts
 *   neither extern linkage), with nameless kfunc parameters named; hidden global FUNCs
 *   become static (libbpf's mark_btf_static).
 * - sanitizeBtf (libbpf's bpf_object__sanitize_btf): kinds the target lacks rewritten into
 *   ones it has — VAR/DECL_TAG → INT, DATASEC → STRUCT, FUNC → TYPEDEF and FUNC_PROTO → ENUM,
 *   global FUNC → static, FLOAT → empty STRUCT, TYPE_TAG → CONST, ENUM64 → UNION, and `?`
 *   in DATASEC names → `_`. Type ids and string offsets never move.
 */
import { Btf } from '../btf/btf';
import type { BtfType, TypeId } from '../btf/types';
import { BTF_FUNC_GLOBAL, BTF_FUNC_STATIC, BTF_VAR_GLOBAL_ALLOCATED } from '../btf/types';
import type { BpfObject } from '../object/model';
import { STB_LOCAL, STT_FUNC, STV_HIDDEN, STV_INTERNAL } from '../elf/constants';

/** Which BTF kinds and forms the target supports (probe names of server/src/kernel/probes.ts). */
export interface BtfFeatures {
  readonly btf_func: boolean;
  readonly btf_func_global: boolean;
  readonly btf_datasec: boolean;
  readonly btf_qmark_datasec: boolean;
  readonly btf_float: boolean;
  readonly btf_decl_tag: boolean;
  readonly btf_type_tag: boolean;
  readonly btf_enum64: boolean;
}

export const ALL_BTF_FEATURES: BtfFeatures = {
  btf_func: true,
  btf_func_global: true,
  btf_datasec: true,
  btf_qmark_datasec: true,
  btf_float: true,
  btf_decl_tag: true,
  btf_type_tag: true,
  btf_enum64: true,
};

/** DATASEC sizes, offsets and extern entries fixed as libbpf does before BTF_LOAD. */
export function fixupObjectBtf(obj: BpfObject, btf: Btf): Btf {
  const types = btf.types.slice();
  const at = (id: TypeId) => id - btf.startId;
  const put = (t: BtfType) => {
    types[at(t.id)] = t;
  };
  const own = (id: TypeId) => id >= btf.startId && id < btf.length;
  let intId = btf.byName('int').find((id) => btf.get(id)?.kind === 'INT');
  for (const t0 of btf.types) {
    if (t0.kind !== 'DATASEC') continue;
    if (t0.name === '.kconfig') {
      const vars = t0.vars.map((v) => {
        const ext = obj.externs.find((e) => e.kind === 'kconfig' && e.btfId === v.type);
        const vt = btf.get(v.type);
        if (vt?.kind === 'VAR' && own(vt.id)) put({ ...vt, linkage: BTF_VAR_GLOBAL_ALLOCATED });
        return { ...v, offset: ext?.offset ?? v.offset };
      });
      const map = obj.maps.find((m) => m.kind === 'kconfig');
      // the kernel wants variables in offset order
      put({ ...t0, vars: vars.sort((a, b) => a.offset - b.offset), size: map?.valueSize ?? t0.size });
      continue;
    }
    if (t0.name === '.ksyms') {
      if (intId === undefined) {
        intId = btf.startId + types.length;
        types.push({ kind: 'INT', id: intId, name: '', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 });
      }
      // one dummy VAR stands for every kfunc (its name: the first entry's)
      const firstName = t0.vars.length ? (btf.get(t0.vars[0].type)?.nameOff ?? 0) : 0;
      let dummy: TypeId | undefined;
      // each entry becomes a 4-byte int slot (the kernel wants a non-empty, ordered section)
      const vars = t0.vars.map((v, i) => {
        const vt = btf.get(v.type);
        if (vt?.kind === 'FUNC') {
          if (dummy === undefined) {
            dummy = btf.startId + types.length;
            types.push({
              kind: 'VAR',
              id: dummy,
              name: '',
              nameOff: firstName,
              kindFlag: false,
              type: intId!,
              linkage: BTF_VAR_GLOBAL_ALLOCATED,
            });
          }
          if (own(vt.id)) put({ ...(types[at(vt.id)] as typeof vt), linkage: BTF_FUNC_GLOBAL });
          const proto = btf.get(vt.type);
          if (proto?.kind === 'FUNC_PROTO' && own(proto.id) && proto.params.some((p) => p.type && !p.nameOff)) {
            put({ ...proto, params: proto.params.map((p) => (p.type && !p.nameOff ? { ...p, nameOff: firstName } : p)) });
          }
          return { type: dummy, offset: 4 * i, size: 4 };
        }
        if (vt?.kind === 'VAR' && own(vt.id)) put({ ...vt, linkage: BTF_VAR_GLOBAL_ALLOCATED, type: intId! });
        return { ...v, offset: 4 * i, size: 4 };
      });
      put({ ...t0, vars, size: 4 * vars.length });
      continue;
    }
    const sec = obj.elf.sections.find((s) => s.name === t0.name);
    if (!sec) continue;
    const vars = t0.vars
      .map((v) => {
        const name = btf.nameOf(v.type);
        const sym = obj.elf.symbols.find((y) => y.shndx === sec.index && y.name === name);
        return sym ? { ...v, offset: Number(sym.value) } : v;
      })
      .sort((a, b) => a.offset - b.offset);
    put({ ...t0, size: Number(sec.size), vars });
  }
  const hidden = hiddenFunctions(obj);
  // extern FUNCs outside .ksyms (kfuncs declared without a DATASEC entry) must not stay extern
  for (let i = 0; i < types.length; i++) {
    const t = types[i];
    // libbpf's mark_btf_static: the verifier checks a hidden function with each caller, as a static one
    if (t.kind === 'FUNC' && t.linkage === BTF_FUNC_GLOBAL && hidden.has(t.name)) types[i] = { ...t, linkage: BTF_FUNC_STATIC };
    if (t.kind === 'FUNC' && t.linkage > BTF_FUNC_GLOBAL) types[i] = { ...t, linkage: BTF_FUNC_GLOBAL };
    if (t.kind === 'VAR' && t.linkage > BTF_VAR_GLOBAL_ALLOCATED) types[i] = { ...t, linkage: BTF_VAR_GLOBAL_ALLOCATED };
  }
  return new Btf(types, btf.strings, btf.littleEndian, btf.base);
}

/** Names of the object's global functions with hidden or internal visibility (`__hidden`). */
function hiddenFunctions(obj: BpfObject): Set<string> {
  const code = new Set(obj.functions.map((f) => f.sectionIndex));
  const names = obj.elf.symbols
    .filter((y) => y.type === STT_FUNC && y.bind !== STB_LOCAL && code.has(y.shndx))
    .filter((y) => y.visibility === STV_HIDDEN || y.visibility === STV_INTERNAL)
    .map((y) => y.name);
  return new Set(names);
}

/** True when some type needs a kind the target lacks. */
export function needsSanitizing(btf: Btf, f: BtfFeatures): boolean {
  return Object.values(f).some((v) => !v) && btf.types.some((t) => sanitizeType(t, f, new Uint8Array(0), 0) !== t);
}

/** A copy of `btf` with every kind the target lacks rewritten. */
export function sanitizeBtf(btf: Btf, f: BtfFeatures): Btf {
  if (!Object.values(f).some((v) => !v)) return btf;
  const strings = Uint8Array.from(btf.strings);
  // an ENUM made from a FUNC_PROTO needs a name for every value: unnamed parameters borrow one
  const ident = btf.types.find((t) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(t.name));
  const types = btf.types.map((t) => sanitizeType(t, f, strings, btf.startStrOff, ident?.nameOff ?? 0));
  return new Btf(types, strings, btf.littleEndian, btf.base);
}

/** Replaces `.` and `?` by `_` in a name, in place in the string table (libbpf does the same). */
function fixName(strings: Uint8Array, start: number, nameOff: number, chars: string): void {
  for (let i = nameOff - start; i >= 0 && i < strings.length && strings[i] !== 0; i++) {
    if (chars.includes(String.fromCharCode(strings[i]))) strings[i] = 0x5f;
  }
}

const INT8 = { kind: 'INT' as const, nameOff: 0, name: '', kindFlag: false, size: 1, encoding: 0, bitsOffset: 0, bits: 8 };

function sanitizeType(t: BtfType, f: BtfFeatures, strings: Uint8Array, start: number, anyName = 0): BtfType {
  const base = { id: t.id };
  switch (t.kind) {
    case 'VAR':
      return f.btf_datasec ? t : { ...INT8, ...base };
    case 'DECL_TAG':
      return f.btf_decl_tag ? t : { ...INT8, ...base };
    case 'DATASEC':
      if (!f.btf_datasec) {
        if (strings.length) fixName(strings, start, t.nameOff, '.?');
        // members named after the VARs they were (libbpf keeps the var names)
        return {
          kind: 'STRUCT',
          ...base,
          name: t.name.replace(/[.?]/g, '_'),
          nameOff: t.nameOff,
          kindFlag: false,
          size: t.size,
          members: t.vars.map((v) => ({ name: '', nameOff: 0, type: v.type, bitsOffset: v.offset * 8, bitfieldSize: 0 })),
        };
      }
      if (!f.btf_qmark_datasec && t.name.startsWith('?')) {
        if (strings.length) fixName(strings, start, t.nameOff, '?');
        return { ...t, name: t.name.replace('?', '_') };
      }
      return t;
    case 'FUNC_PROTO':
      if (f.btf_func) return t;
      return {
        kind: 'ENUM',
        ...base,
        name: '',
        nameOff: t.nameOff,
        kindFlag: false,
        size: 4,
        values: t.params.map((p) => ({ name: p.name, nameOff: p.nameOff || anyName, value: p.type })),
      };
    case 'FUNC':
      if (!f.btf_func) return { kind: 'TYPEDEF', ...base, name: t.name, nameOff: t.nameOff, kindFlag: false, type: t.type };
      if (!f.btf_func_global && t.linkage === BTF_FUNC_GLOBAL) return { ...t, linkage: BTF_FUNC_STATIC };
      return t;
    case 'FLOAT':
      return f.btf_float ? t : { kind: 'STRUCT', ...base, name: '', nameOff: 0, kindFlag: false, size: t.size, members: [] };
    case 'TYPE_TAG':
      return f.btf_type_tag ? t : { kind: 'CONST', ...base, name: '', nameOff: 0, kindFlag: false, type: t.type };
    case 'ENUM64':
      return f.btf_enum64 ? t : { kind: 'UNION', ...base, name: '', nameOff: 0, kindFlag: false, size: t.size, members: [] };
    default:
      return t;
  }
}
