/**
 * Maps libbpf makes without a `.maps` definition: global data (.data*, .rodata*, .bss),
 * `.kconfig` for kconfig externs, legacy `maps` sections (struct bpf_map_def, and
 * iproute2's longer struct bpf_elf_map), and struct_ops maps from `.struct_ops[.link]`.
 */
import type { Btf } from '../btf/btf';
import type { BtfDatasec } from '../btf/types';
import { BTF_VAR_STATIC } from '../btf/types';
import { SHT_NOBITS, SHT_PROGBITS, STB_LOCAL, STT_SECTION, SHN_LORESERVE } from '../elf/constants';
import type { ElfFile, ElfSection } from '../elf/reader';
import type { BpfExtern, BpfMap, MapKind, ObjectDiagnostic } from './model';
import { skipModsAndTypedefs } from '../btf/skip-mods';
import { kernelObjName } from './maps-btf';
import { BPF_F_LINK, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_MAP_TYPE, BPF_OBJ_NAME_LEN } from '../common/uapi';
import { mapTypeName } from './uapi-names';

const { BPF_MAP_TYPE_ARRAY: MAP_TYPE_ARRAY, BPF_MAP_TYPE_STRUCT_OPS: MAP_TYPE_STRUCT_OPS } = BPF_MAP_TYPE;
/** struct bpf_map_def: type, key_size, value_size, max_entries, map_flags. */
const BPF_MAP_DEF_SIZE = 20;
/** iproute2's struct bpf_elf_map. */
const BPF_ELF_MAP_SIZE = 36;

/** libbpf's internal_map_name: `<obj prefix><section>` in 15 chars (see REFERENCE.md). */
export function internalMapName(objName: string, realName: string): string {
  let sfx = Math.max(7, realName.length);
  sfx = Math.min(sfx, BPF_OBJ_NAME_LEN - 1);
  const pfx = realName.indexOf('.', 1) >= 0 ? 0 : Math.min(BPF_OBJ_NAME_LEN - sfx - 1, objName.length);
  const name = objName.slice(0, pfx) + realName.slice(0, sfx);
  return name.replace(/[^A-Za-z0-9_.]/g, '_');
}

/** The kind of data section a name denotes, or undefined. */
export function dataSectionKind(name: string): MapKind | undefined {
  if (name === '.data' || name.startsWith('.data.')) return 'data';
  if (name === '.rodata' || name.startsWith('.rodata.')) return 'rodata';
  if (name === '.bss' || name.startsWith('.bss.')) return 'bss';
  return undefined;
}

/** BPF_F_MMAPABLE when the DATASEC has a non-static variable (libbpf's map_is_mmapable). */
function mmapable(ds: BtfDatasec | undefined, btf: Btf | undefined): boolean {
  if (!ds || !btf) return false;
  return ds.vars.some((vi) => {
    const v = btf.has(vi.type) ? btf.get(vi.type) : undefined;
    return v?.kind === 'VAR' && v.linkage !== BTF_VAR_STATIC;
  });
}

function internalMap(
  objName: string,
  realName: string,
  kind: MapKind,
  valueSize: number,
  flags: number,
  sec: ElfSection | undefined,
  valueTypeId: number | undefined,
  data: Uint8Array,
): BpfMap {
  return {
    name: realName,
    kernelName: internalMapName(objName, realName),
    kind,
    type: mapTypeName(MAP_TYPE_ARRAY),
    typeId: MAP_TYPE_ARRAY,
    keySize: 4,
    valueSize,
    maxEntries: 1,
    flags,
    numaNode: 0,
    pinning: 'none',
    mapExtra: 0n,
    ...(valueTypeId !== undefined ? { valueTypeId } : {}),
    section: sec?.name ?? realName,
    sectionIndex: sec?.index ?? -1,
    symbolOffset: 0,
    initialData: data,
  };
}

/**
 * A NOBITS section's size is not bounded by the file: a hostile one would have us allocate
 * gigabytes. No kernel's array map takes a value this large (KMALLOC_MAX_SIZE: 4 MiB with
 * 4 KiB pages), so such a section is refused, naming it.
 */
const MAX_NOBITS = 64 << 20;

function zeroes(sec: ElfSection, size: number): Uint8Array {
  if (size > MAX_NOBITS) throw new Error(`section ${sec.name} (NOBITS) of ${size} bytes: larger than any array map value a kernel takes`);
  return new Uint8Array(size);
}

/** .data/.rodata/.bss (and suffixed) sections as single-entry ARRAY maps; empty ones skipped. */
export function collectDataMaps(elf: ElfFile, btf: Btf | undefined, objName: string): BpfMap[] {
  const out: BpfMap[] = [];
  for (const sec of elf.sections) {
    const kind = dataSectionKind(sec.name);
    if (!kind || sec.size === 0) continue;
    // as libbpf: .bss* only as NOBITS, .data*/.rodata* only as PROGBITS (others are skipped)
    if (kind === 'bss' ? sec.type !== SHT_NOBITS : sec.type !== SHT_PROGBITS) continue;
    const ds = btf?.find('DATASEC', sec.name) as BtfDatasec | undefined;
    let flags = kind === 'rodata' ? BPF_F_RDONLY_PROG : 0;
    if (mmapable(ds, btf)) flags |= BPF_F_MMAPABLE;
    const data = sec.type === SHT_NOBITS ? zeroes(sec, sec.size) : sec.data;
    out.push(
      internalMap(
        objName,
        sec.name,
        kind,
        sec.size,
        flags,
        sec,
        ds ? btf!.byName(sec.name).find((id) => btf!.get(id)?.kind === 'DATASEC') : undefined,
        data,
      ),
    );
  }
  return out;
}

/** The `.kconfig` map: one value holding every kconfig extern at its assigned offset. */
export function kconfigMap(btf: Btf | undefined, objName: string, externs: readonly BpfExtern[]): BpfMap | undefined {
  const kc = externs.filter((e) => e.kind === 'kconfig');
  if (kc.length === 0) return undefined;
  const size = Math.max(...kc.map((e) => (e.offset ?? 0) + (e.size ?? 0)));
  const dsId = btf?.byName('.kconfig').find((id) => btf.get(id)?.kind === 'DATASEC');
  const ds = dsId !== undefined ? (btf!.get(dsId) as BtfDatasec) : undefined;
  let flags = BPF_F_RDONLY_PROG;
  if (mmapable(ds, btf)) flags |= BPF_F_MMAPABLE;
  return internalMap(objName, '.kconfig', 'kconfig', size, flags, undefined, dsId, new Uint8Array(size));
}

/** Legacy `maps` section: struct bpf_map_def (5 u32) or iproute2's bpf_elf_map (9 u32). */
export function collectLegacyMaps(elf: ElfFile, diags: ObjectDiagnostic[]): BpfMap[] {
  const sec = elf.sections.find((s) => s.name === 'maps' || s.name.startsWith('maps/'));
  if (!sec || sec.size === 0) return [];
  const syms = elf.symbols.filter((y) => y.shndx === sec.index && y.shndx < SHN_LORESERVE && y.type !== STT_SECTION && y.name !== '');
  if (syms.length === 0) {
    diags.push({ severity: 'error', section: sec.name, message: `${sec.name}: legacy map section has no symbols` });
    return [];
  }
  const r = elf.reader(sec);
  const defaultSize = Math.floor(sec.size / syms.length);
  diags.push({
    severity: 'warning',
    section: sec.name,
    message: `${sec.name}: legacy map definitions (struct bpf_map_def) are refused by libbpf 1.x; use BTF-defined maps in SEC(".maps")`,
  });
  const out: BpfMap[] = [];
  for (const y of syms) {
    const off = Number(y.value);
    const size = Number(y.size) || defaultSize;
    if (size < BPF_MAP_DEF_SIZE || off + size > sec.size || off % 4 !== 0) {
      diags.push({
        severity: 'error',
        map: y.name,
        section: sec.name,
        message: `map '${y.name}': legacy definition at ${off} (+${size}) doesn't fit a struct bpf_map_def in ${sec.name} (${sec.size} bytes)`,
      });
      continue;
    }
    if (y.bind === STB_LOCAL) {
      diags.push({
        severity: 'error',
        map: y.name,
        section: sec.name,
        message: `map '${y.name}': static map definitions are not supported (make it global)`,
      });
    }
    const typeId = r.u32(off);
    // iproute2's struct bpf_elf_map (36 bytes): id, pinning, inner_id, inner_idx follow the five fields
    const iproute2 = size === BPF_ELF_MAP_SIZE;
    const pin = iproute2 ? r.u32(off + 24) : 0;
    if (!iproute2 && size > BPF_MAP_DEF_SIZE) {
      const extra = sec.data.subarray(off + BPF_MAP_DEF_SIZE, off + size);
      const at = extra.findIndex((b) => b !== 0);
      if (at >= 0) {
        diags.push({
          severity: 'error',
          map: y.name,
          section: sec.name,
          message: `map '${y.name}': legacy definition has ${size - BPF_MAP_DEF_SIZE} bytes after struct bpf_map_def that are not zero (byte ${BPF_MAP_DEF_SIZE + at}): unrecognized options`,
        });
      }
    }
    out.push({
      name: y.name,
      kernelName: kernelObjName(y.name),
      kind: 'legacy',
      type: mapTypeName(typeId),
      typeId,
      keySize: r.u32(off + 4),
      valueSize: r.u32(off + 8),
      maxEntries: r.u32(off + 12),
      flags: r.u32(off + 16),
      numaNode: 0,
      pinning: pin === 0 ? 'none' : 'by_name',
      mapExtra: 0n,
      section: sec.name,
      sectionIndex: sec.index,
      symbolOffset: off,
      ...(iproute2 ? { iproute2: { id: r.u32(off + 20), pinning: pin, innerId: r.u32(off + 28), innerIdx: r.u32(off + 32) } } : {}),
    });
  }
  return out;
}

/** struct_ops maps: each VAR of the `.struct_ops`/`.struct_ops.link` DATASEC. */
export function collectStructOps(elf: ElfFile, btf: Btf | undefined, diags: ObjectDiagnostic[]): BpfMap[] {
  const out: BpfMap[] = [];
  for (const sec of elf.sections) {
    const bare = sec.name.startsWith('?') ? sec.name.slice(1) : sec.name;
    if (bare !== '.struct_ops' && bare !== '.struct_ops.link') continue;
    if (!btf) {
      diags.push({ severity: 'error', section: sec.name, message: `${sec.name}: struct_ops needs BTF, but the object has none` });
      continue;
    }
    const ds = btf.find('DATASEC', sec.name) as BtfDatasec | undefined;
    if (!ds) {
      diags.push({ severity: 'error', section: sec.name, message: `${sec.name}: no DATASEC in BTF` });
      continue;
    }
    const relocs = elf.relocationsFor(sec.index);
    for (const vi of ds.vars) {
      const v = btf.has(vi.type) ? btf.get(vi.type) : undefined;
      if (v?.kind !== 'VAR') continue;
      const [, st] = skipModsAndTypedefs(btf, v.type);
      if (st?.kind !== 'STRUCT') {
        diags.push({
          severity: 'error',
          map: v.name,
          message: `struct_ops map '${v.name}': type is ${st ? st.kind : 'void'}, not a struct`,
        });
        continue;
      }
      const sym = elf.symbols.find((y) => y.shndx === sec.index && y.name === v.name);
      const varOff = sym ? Number(sym.value) : vi.offset;
      const varSize = sym && Number(sym.size) ? Number(sym.size) : vi.size || st.size;
      const progs: { member: string; program: string }[] = [];
      for (const rel of relocs) {
        const off = Number(rel.offset) - varOff;
        if (off < 0 || off >= varSize) continue;
        const m = st.members.find((mm) => mm.bitsOffset / 8 === off);
        const sym = elf.symbols[rel.symbol];
        if (m && sym) progs.push({ member: m.name, program: sym.name });
      }
      const data = sec.type === SHT_NOBITS ? zeroes(sec, varSize) : sec.data.slice(varOff, varOff + varSize);
      out.push({
        name: v.name,
        kernelName: kernelObjName(v.name),
        kind: 'struct_ops',
        type: mapTypeName(MAP_TYPE_STRUCT_OPS),
        typeId: MAP_TYPE_STRUCT_OPS,
        keySize: 4,
        valueSize: st.size,
        maxEntries: 1,
        flags: bare.endsWith('.link') ? BPF_F_LINK : 0,
        numaNode: 0,
        pinning: 'none',
        mapExtra: 0n,
        valueTypeId: v.type,
        defTypeId: vi.type,
        section: sec.name,
        sectionIndex: sec.index,
        symbolOffset: varOff,
        initialData: data,
        structOpsType: st.name,
        structOpsProgs: progs,
      });
    }
  }
  return out;
}
