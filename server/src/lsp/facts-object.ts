/**
 * ObjectFacts from the object model's BpfObject (server/src/object): what hovers, the tree
 * and diagnostics show, plus disassembly listings built on the model's functions.
 */
import { objectDefinitions, objectExterns } from '../link/externs';
import { EM_BPF } from '../elf/constants';
import { ElfFile, type ElfSection } from '../elf/reader';
import { openObject } from '../object';
import { analyzeArgCtx } from '../object/arg-ctx';
import type { BpfMap, BpfObject } from '../object';
import type { MapFacts, ObjectFacts, ProgFacts } from './facts';
import { type Func, listing, type SectionCode, sectionCode } from './listing';

const INTERNAL = new Set(['data', 'rodata', 'bss', 'kconfig']);

function mapFacts(m: BpfMap): MapFacts {
  return {
    name: m.name,
    section: m.section,
    mapType: m.type.startsWith('unknown') ? '' : m.type,
    mapTypeId: m.typeId,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    mapFlags: m.flags,
    numaNode: m.numaNode,
    mapExtra: m.mapExtra,
    pinning: m.pinning === 'by_name' ? 1 : 0,
    keyTypeId: m.keyTypeId,
    valueTypeId: m.valueTypeId,
    inner: m.innerMap && mapFacts(m.innerMap),
    initialSlots: (m.initialSlots ?? []).map((s) => ({ slot: s.index, target: s.target })),
    internal: INTERNAL.has(m.kind),
  };
}

/** Facts of any ELF file: BPF objects through openObject; others (modules) have none. */
export function factsOf(bytes: Uint8Array, file: string): ObjectFacts {
  const elf = new ElfFile(bytes, file);
  if (elf.header.machine !== EM_BPF) {
    return { isBpf: false, maps: [], programs: [], externs: [], problems: [], lineFiles: [], disassembly: () => '' };
  }
  return factsFromObject(openObject(bytes, file));
}

export function factsFromObject(obj: BpfObject): ObjectFacts {
  const elf = obj.elf;
  const funcs: Func[] = obj.functions.map((f) => ({
    name: f.name,
    section: elf.sections[f.sectionIndex],
    start: f.insnOffset,
    count: f.insnCount,
    global: f.linkage === 'global',
    entry: f.isEntry,
    callees: new Set(f.callees),
  }));
  const code = new Map<number, SectionCode>();
  const codeOf = (s: ElfSection): SectionCode => {
    let c = code.get(s.index);
    if (!c) code.set(s.index, (c = sectionCode(elf, s, elf.symbols, funcs, obj.ext)));
    return c;
  };
  const progs = new Map(obj.programs.map((p) => [p.name, p]));
  const programs: ProgFacts[] = obj.functions.map((f) => {
    const p = f.isEntry ? progs.get(f.name) : undefined;
    return {
      name: f.name,
      section: f.section,
      entry: f.isEntry,
      global: f.linkage === 'global',
      progType: p && p.progType !== 'unspec' ? p.progType : '',
      attachType: p?.expectedAttachType ?? '',
      insnCount: f.insnCount,
      line: f.source && { file: f.source.file, line: f.source.line },
      callers: obj.programs
        .filter((q) => q.subprograms.includes(f.name))
        .map((q) => q.name)
        .sort(),
      callees: [...f.callees].sort(),
      attachTo: p?.attachTo,
      sleepable: p?.sleepable,
      autoload: p?.autoload,
    };
  });
  const byName = new Map(funcs.map((f) => [f.name, f]));
  return {
    isBpf: true,
    btf: obj.btf,
    maps: obj.maps.map(mapFacts),
    programs,
    externs: objectExterns(obj),
    defines: objectDefinitions(obj),
    problems: obj.diagnostics.map((d) => ({
      message: d.message,
      severity: d.severity,
      map: d.map,
      program: d.program,
      extern: d.extern,
      source: d.source && { file: d.source.file, line: d.source.line },
    })),
    lineFiles: obj.sourceFiles,
    argCtx: analyzeArgCtx(obj),
    coreRelocations: (obj.ext?.coreRelos ?? []).reduce((n, sec) => n + sec.records.length, 0),
    disassembly: (program?: string) => listing(funcs, byName, codeOf, program),
  };
}
