/**
 * Map definitions of an object as libbpf reads them: BTF-defined maps in `.maps` (with
 * inner maps and initial slots from `.rel.maps`) and the internal maps of global data
 * sections. Problems libbpf would refuse the object for are collected, not thrown.
 * Used by the language server until the object model provides maps.
 */
import type { Btf } from '../btf/btf';
import { sizeOf } from '../btf/layout';
import type { BtfType, TypeId } from '../btf/types';
import type { ElfFile, ElfSection } from '../elf/reader';
import type { MapFacts, Problem } from './facts';
import { MAP_TYPE_NAMES as MAP_TYPES } from '../object/uapi-names';

const INTERNAL = /^\.(data|rodata|bss|kconfig)(\.|$)/;
const KNOWN = new Set(['type', 'max_entries', 'map_flags', 'numa_node', 'key_size', 'key', 'value_size', 'value', 'values', 'pinning', 'map_extra']);

interface Def {
  mapTypeId: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  numaNode: number;
  mapExtra: bigint;
  pinning: number;
  keyTypeId?: TypeId;
  valueTypeId?: TypeId;
  inner?: MapFacts;
  /** Byte offset of the `values` member in the definition. */
  valuesOffset?: number;
}

export function collectMaps(elf: ElfFile, btf: Btf | undefined, problems: Problem[]): MapFacts[] {
  const out: MapFacts[] = [];
  const maps = elf.section('.maps');
  if (maps && btf) out.push(...btfMaps(elf, btf, maps, problems));
  const legacy = elf.section('maps');
  if (legacy) {
    problems.push({ severity: 'error', message: "legacy 'maps' section (struct bpf_map_def): libbpf 1.x refuses it; use BTF-defined maps in SEC(\".maps\")" });
    out.push(...legacyMaps(elf, legacy));
  }
  for (const s of elf.sections) {
    if (!INTERNAL.test(s.name) || s.size === 0) continue;
    const ds = btf?.find('DATASEC', s.name);
    out.push({
      name: s.name, section: s.name, mapType: 'array', mapTypeId: 2, keySize: 4, valueSize: s.size, maxEntries: 1,
      mapFlags: s.name.startsWith('.rodata') || s.name === '.kconfig' ? 0x80 : 0, numaNode: 0, mapExtra: 0, pinning: 0,
      keyTypeId: undefined, valueTypeId: ds?.id, initialSlots: [], internal: true,
    });
  }
  return out;
}

/** `struct bpf_map_def` (five u32: type, key_size, value_size, max_entries, map_flags) per symbol. */
function legacyMaps(elf: ElfFile, sec: ElfSection): MapFacts[] {
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  const le = elf.littleEndian;
  const out: MapFacts[] = [];
  for (const y of elf.symbols) {
    const at = Number(y.value);
    if (y.shndx !== sec.index || !y.name || at + 20 > sec.data.length) continue;
    const u = (i: number) => dv.getUint32(at + 4 * i, le);
    out.push(facts(y.name, sec.name, { mapTypeId: u(0), keySize: u(1), valueSize: u(2), maxEntries: u(3), mapFlags: u(4), numaNode: 0, mapExtra: 0n, pinning: 0 }, []));
  }
  return out;
}

function btfMaps(elf: ElfFile, btf: Btf, sec: ElfSection, problems: Problem[]): MapFacts[] {
  const ds = btf.find('DATASEC', '.maps');
  if (!ds || ds.kind !== 'DATASEC') {
    problems.push({ severity: 'error', message: '.maps section has no DATASEC in BTF (compiled without -g?)' });
    return [];
  }
  const relocs = elf.relocationsFor(sec.index);
  const symbols = elf.symbols;
  const out: MapFacts[] = [];
  for (const v of ds.vars) {
    const vt = btf.get(v.type);
    if (!vt || vt.kind !== 'VAR') continue;
    const name = vt.name;
    const bad = (message: string) => problems.push({ severity: 'error', message: `map '${name}': ${message}`, map: name });
    if (vt.linkage !== 1) bad(vt.linkage === 0 ? 'static maps are not supported: make the definition global' : 'extern maps are not supported');
    const def = parseDef(btf, vt.type, name, bad, 0);
    if (!def) continue;
    const slots: { slot: number; target: string }[] = [];
    if (def.valuesOffset !== undefined) {
      // DATASEC offsets are only filled in at load (libbpf fixes them up from the symbols):
      // where the map lies comes from its ELF symbol, whose size covers the initializer.
      const sym = symbols.find((y) => y.shndx === sec.index && y.name === name);
      const start = sym ? Number(sym.value) : v.offset;
      const end = sym ? start + Number(sym.size) : v.offset + v.size;
      for (const r of relocs) {
        const at = Number(r.offset);
        const off = at - start - def.valuesOffset;
        if (at < start || at >= end || off < 0) continue;
        if (off % 8) bad(`initial slot relocation at offset ${at} is not pointer-aligned`);
        else slots.push({ slot: off / 8, target: symbols[r.symbol]?.name ?? `symbol ${r.symbol}` });
      }
    }
    out.push(facts(name, '.maps', def, slots));
  }
  return out;
}

function facts(name: string, section: string, d: Def, initialSlots: { slot: number; target: string }[]): MapFacts {
  return {
    name, section, mapType: MAP_TYPES[d.mapTypeId] ?? '', mapTypeId: d.mapTypeId, keySize: d.keySize, valueSize: d.valueSize,
    maxEntries: d.maxEntries, mapFlags: d.mapFlags, numaNode: d.numaNode, mapExtra: d.mapExtra, pinning: d.pinning,
    keyTypeId: d.keyTypeId, valueTypeId: d.valueTypeId, inner: d.inner, initialSlots, internal: false,
  };
}

/** `__uint(name, v)`: a pointer to an array of v elements. */
function uintField(btf: Btf, t: BtfType | undefined): number | undefined {
  if (!t || t.kind !== 'PTR') return undefined;
  const a = btf.get(t.type);
  return a && a.kind === 'ARRAY' ? a.nelems : undefined;
}

function parseDef(btf: Btf, typeId: TypeId, name: string, bad: (m: string) => void, depth: number): Def | undefined {
  const st = btf.get(btf.skipTypedefs(typeId));
  if (!st || st.kind !== 'STRUCT') {
    bad(`definition is ${st?.kind ?? 'void'}, not a struct`);
    return undefined;
  }
  const d: Def = { mapTypeId: -1, keySize: 0, valueSize: 0, maxEntries: 0, mapFlags: 0, numaNode: 0, mapExtra: 0n, pinning: 0 };
  let keySize: number | undefined, valueSize: number | undefined;
  for (const m of st.members) {
    const mt = btf.get(m.type);
    if (!KNOWN.has(m.name)) {
      bad(`unknown field '${m.name}'`);
      continue;
    }
    if (m.name === 'key' || m.name === 'value') {
      if (!mt || mt.kind !== 'PTR') { bad(`'${m.name}' must be declared with __type()`); continue; }
      const size = sizeOf(btf, mt.type);
      if (m.name === 'key') { d.keyTypeId = mt.type; d.keySize = size; } else { d.valueTypeId = mt.type; d.valueSize = size; }
      continue;
    }
    if (m.name === 'values') {
      if (!mt || mt.kind !== 'ARRAY') { bad("'values' must be declared with __array()"); continue; }
      d.valuesOffset = Math.floor(m.bitsOffset / 8);
      const elem = btf.get(btf.skipTypedefs(mt.type));
      const pointee = elem && elem.kind === 'PTR' ? btf.get(btf.skipTypedefs(elem.type)) : undefined;
      if (pointee?.kind === 'STRUCT') {
        if (depth > 0) bad('map-in-map nested more than one level');
        else {
          const inner = parseDef(btf, pointee.id, `${name}.inner`, bad, depth + 1);
          if (inner) d.inner = facts(pointee.name, '.maps', inner, []);
        }
      } else if (pointee?.kind !== 'FUNC_PROTO') bad("'values' must point to a map definition or a program");
      continue;
    }
    if (m.name === 'map_extra' && mt && (mt.kind === 'ENUM' || mt.kind === 'ENUM64')) {
      d.mapExtra = BigInt(mt.values[0]?.value ?? 0);
      continue;
    }
    const v = uintField(btf, mt);
    if (v === undefined) { bad(`'${m.name}' must be declared with __uint()`); continue; }
    switch (m.name) {
      case 'type': d.mapTypeId = v; break;
      case 'max_entries': d.maxEntries = v; break;
      case 'map_flags': d.mapFlags = v; break;
      case 'numa_node': d.numaNode = v; break;
      case 'key_size': keySize = v; break;
      case 'value_size': valueSize = v; break;
      case 'pinning': d.pinning = v; break;
      case 'map_extra': d.mapExtra = BigInt(v); break;
    }
  }
  if (d.mapTypeId < 0) { bad("no map type: add __uint(type, BPF_MAP_TYPE_...)"); d.mapTypeId = 0; }
  if (keySize !== undefined) {
    if (d.keyTypeId !== undefined && keySize !== d.keySize) bad(`key_size ${keySize} does not match the key type's size ${d.keySize}`);
    else d.keySize = keySize;
  }
  if (valueSize !== undefined) {
    if (d.valueTypeId !== undefined && valueSize !== d.valueSize) bad(`value_size ${valueSize} does not match the value type's size ${d.valueSize}`);
    else d.valueSize = valueSize;
  }
  const t: string | undefined = MAP_TYPES[d.mapTypeId];
  if (d.valuesOffset !== undefined) {
    if (t !== 'prog_array' && t !== 'array_of_maps' && t !== 'hash_of_maps') bad(`'values' is only for prog_array and map-in-map, not ${t ?? d.mapTypeId}`);
    d.valueSize = 4;
  }
  if (depth > 0 && d.pinning) bad('inner maps cannot be pinned');
  if (d.pinning > 1) bad(`unknown pinning ${d.pinning}`);
  return d;
}
