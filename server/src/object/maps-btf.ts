/**
 * Maps from the `.maps` section (BTF-defined), with inner map definitions and the initial
 * slots of prog-arrays and map-in-maps taken from `.rel.maps`.
 */
import type { Btf } from '../btf/btf';
import type { BtfDatasec } from '../btf/types';
import { BTF_VAR_GLOBAL_ALLOCATED } from '../btf/types';
import { SHT_PROGBITS, STT_FUNC } from '../elf/constants';
import type { ElfFile, ElfSection } from '../elf/reader';
import type { BpfMap, InitialSlot, ObjectDiagnostic } from './model';
import { skipModsAndTypedefs } from '../btf/skip-mods';
import { type MapDefFields, MapDefParser } from './map-def';
import { mapTypeName } from './uapi-names';

/** The kernel keeps 15 characters of a map name (BPF_OBJ_NAME_LEN 16, NUL included). */
export function kernelObjName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

function toMap(name: string, f: MapDefFields, sec: ElfSection, symbolOffset: number, defTypeId: number | undefined): BpfMap {
  const typeId = f.type ?? 0;
  return {
    name,
    kernelName: kernelObjName(name),
    kind: 'btf',
    type: mapTypeName(typeId),
    typeId,
    keySize: f.keySize ?? 0,
    valueSize: f.valueSize ?? 0,
    maxEntries: f.maxEntries ?? 0,
    flags: f.flags ?? 0,
    numaNode: f.numaNode ?? 0,
    pinning: f.pinning === 1 ? 'by_name' : 'none',
    mapExtra: f.mapExtra ?? 0n,
    ...(f.keyTypeId !== undefined ? { keyTypeId: f.keyTypeId } : {}),
    ...(f.valueTypeId !== undefined ? { valueTypeId: f.valueTypeId } : {}),
    ...(defTypeId !== undefined ? { defTypeId } : {}),
    section: sec.name,
    sectionIndex: sec.index,
    symbolOffset,
  };
}

interface MapVar {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly fields: MapDefFields;
  readonly defTypeId?: number;
}

/** Reads `.maps`; problems go to `diags`. */
export function collectBtfMaps(elf: ElfFile, btf: Btf | undefined, diags: ObjectDiagnostic[]): BpfMap[] {
  const sec = elf.section('.maps');
  if (!sec) return [];
  if (!btf) {
    diags.push({
      severity: 'error',
      section: '.maps',
      message: `.maps: BTF is required for BTF-defined maps, but the object has no .BTF (compile with -g)`,
    });
    return [];
  }
  const ds = btf.find('DATASEC', '.maps') as BtfDatasec | undefined;
  if (!ds) {
    diags.push({ severity: 'error', section: '.maps', message: `.maps: no DATASEC '.maps' in BTF` });
    return [];
  }
  const parser = new MapDefParser(btf, diags);
  const vars: MapVar[] = [];
  for (const vi of ds.vars) {
    const v = btf.has(vi.type) ? btf.get(vi.type) : undefined;
    if (v?.kind !== 'VAR') {
      diags.push({
        severity: 'error',
        section: '.maps',
        message: `.maps: DATASEC entry [${vi.type}] is ${v ? v.kind : 'invalid'}, not a VAR`,
      });
      continue;
    }
    const name = v.name;
    if (v.linkage !== BTF_VAR_GLOBAL_ALLOCATED) {
      diags.push({
        severity: 'error',
        map: name,
        message: `map '${name}': unsupported map linkage ${v.linkage === 0 ? 'static' : 'extern'}`,
      });
      continue;
    }
    const [defId, def] = skipModsAndTypedefs(btf, v.type);
    if (def?.kind !== 'STRUCT') {
      diags.push({
        severity: 'error',
        map: name,
        message: `map '${name}': unexpected def kind ${def ? def.kind : 'void'} (expected a struct)`,
      });
      continue;
    }
    // clang may leave DATASEC offsets at 0: the ELF symbol is the truth (libbpf's btf_fixup_datasec)
    const sym = elf.symbols.find((y) => y.shndx === sec.index && y.name === name);
    const offset = sym ? Number(sym.value) : vi.offset;
    const size = sym && Number(sym.size) ? Number(sym.size) : vi.size || def.size;
    vars.push({ name, offset, size, fields: parser.parse(name, def), defTypeId: defId });
  }
  const slots = collectSlots(elf, sec, vars, diags);
  checkNoInitialData(btf, sec, vars, diags);
  return vars.map((mv) => {
    const base = toMap(mv.name, mv.fields, sec, mv.offset, mv.defTypeId);
    const f = mv.fields;
    const inner = f.inner ? toMap(`${mv.name}.inner`, f.inner, sec, mv.offset, f.innerDefTypeId) : undefined;
    const s = slots.get(mv.name);
    return { ...base, ...(inner ? { innerMap: inner } : {}), ...(s ? { initialSlots: s } : {}) };
  });
}

/** Initial slots: each relocation in `.rel.maps` points a `values[i]` at a program or map. */
function collectSlots(elf: ElfFile, sec: ElfSection, vars: readonly MapVar[], diags: ObjectDiagnostic[]): Map<string, InitialSlot[]> {
  const out = new Map<string, InitialSlot[]>();
  const relocs = elf.relocationsFor(sec.index);
  if (relocs.length === 0) return out;
  const syms = elf.symbols;
  const mapSymbols = new Set(vars.map((v) => v.name));
  for (const r of relocs) {
    const off = Number(r.offset);
    const mv = vars.find((v) => off >= v.offset && off < v.offset + v.size);
    const sym = syms[r.symbol];
    if (!mv) {
      diags.push({
        severity: 'error',
        section: '.maps',
        message: `.rel.maps: relocation at offset ${off} is outside every map definition`,
      });
      continue;
    }
    const f = mv.fields;
    if (f.valuesOffset === undefined) {
      diags.push({
        severity: 'error',
        map: mv.name,
        field: 'values',
        message: `map '${mv.name}': relocation at offset ${off - mv.offset} in a map without 'values'`,
      });
      continue;
    }
    const rel = off - mv.offset - f.valuesOffset;
    if (rel < 0 || rel % 8 !== 0) {
      diags.push({
        severity: 'error',
        map: mv.name,
        field: 'values',
        message: `map '${mv.name}': relocation at offset ${off - mv.offset} is not a 'values' slot`,
      });
      continue;
    }
    const index = rel / 8;
    const target = sym?.name ?? '';
    if (f.maxEntries !== undefined && index >= f.maxEntries) {
      diags.push({
        severity: 'error',
        map: mv.name,
        field: 'values',
        message: `map '${mv.name}': slot [${index}] is beyond max_entries ${f.maxEntries}`,
      });
      continue;
    }
    if (f.valuesAreProgs) {
      if (sym?.type === STT_FUNC && elf.sections[sym.shndx]?.name === '.text') {
        diags.push({
          severity: 'error',
          map: mv.name,
          field: 'values',
          message: `map '${mv.name}': slot [${index}] points to '${target}', a subprogram in .text, not a program`,
        });
        continue;
      }
      if (sym?.type !== STT_FUNC) {
        diags.push({
          severity: 'error',
          map: mv.name,
          field: 'values',
          message: `map '${mv.name}': slot [${index}] must point to a program, '${target}' is not a function`,
        });
        continue;
      }
    } else if (!mapSymbols.has(target) || elf.sections[sym.shndx]?.name !== '.maps') {
      diags.push({
        severity: 'error',
        map: mv.name,
        field: 'values',
        message: `map '${mv.name}': slot [${index}] must point to a map in .maps, '${target}' is not one`,
      });
      continue;
    }
    let list = out.get(mv.name);
    if (!list) out.set(mv.name, (list = []));
    list.push({ index, target });
  }
  for (const list of out.values()) list.sort((a, b) => a.index - b.index);
  return out;
}

/** Map definitions take no initializers except `.values` (through relocations, bytes stay 0). */
function checkNoInitialData(btf: Btf, sec: ElfSection, vars: readonly MapVar[], diags: ObjectDiagnostic[]): void {
  if (sec.type !== SHT_PROGBITS) return;
  for (const mv of vars) {
    const bytes = sec.data.subarray(mv.offset, Math.min(sec.size, mv.offset + mv.size));
    const at = bytes.findIndex((b) => b !== 0);
    if (at < 0) continue;
    const [, def] = mv.defTypeId !== undefined ? skipModsAndTypedefs(btf, mv.defTypeId) : [0, undefined];
    const members = def?.kind === 'STRUCT' ? def.members : [];
    const m = [...members].reverse().find((x) => x.bitsOffset / 8 <= at);
    diags.push({
      severity: 'error',
      map: mv.name,
      ...(m ? { field: m.name } : {}),
      message: `map '${mv.name}': the definition has non-zero data${m ? ` in field '${m.name}'` : ''} (byte ${at}); only '.values' may be initialised`,
    });
  }
}
