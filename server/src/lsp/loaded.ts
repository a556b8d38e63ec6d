/**
 * One object as the language server keeps it: read once, parsed once, summarised once.
 * A file that cannot be read becomes an object with an `error`, never an exception.
 */
import { readFileSync, type Stats } from 'fs';
import { MAX_SOURCE_BYTES, readRegularFileAsync } from '../host/read-file';
import * as path from 'path';
import { type Btf, isBtf, parseBtf } from '../btf/btf';
import { btfFromBytes } from '../btf/input';
import { ElfFile, isElf } from '../elf/reader';
import { VMLINUX_BTF } from '../kernel/sysfs-btf';
import { BtfCatalog } from './btf-types';
import { factsOf, type ObjectFacts } from './facts';
import type { MapItem, ObjectSummary } from '../../../protocol/lsp';
import { mapDefinitionLine, splitLines } from './c-text';

export interface LoadedObject {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly error?: string;
  readonly btf?: Btf;
  /** The raw BTF file `btf` was parsed on, for module BTF split on this kernel's vmlinux. */
  readonly btfBasePath?: string;
  readonly facts?: ObjectFacts;
  /** Absolute paths of the C sources line_info names (those found on disk or in the workspace). */
  readonly sources: readonly string[];
  readonly summary: ObjectSummary;
  /** The BTF type lists for the tree (built on first use). */
  catalog(): BtfCatalog | undefined;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function loadObject(
  file: string,
  st: Stats,
  maxSize: number,
  resolveSource: (name: string) => string | undefined,
): Promise<LoadedObject> {
  const base = { path: file, size: st.size, mtimeMs: st.mtimeMs };
  if (st.size > maxSize) return failed(base, `${st.size} bytes is more than bpfLens.maxObjectSize (${maxSize})`);
  let bytes: Uint8Array;
  try {
    // a regular file within the limit (the stat above says size 0 for devices and FIFOs)
    const buf = await readRegularFileAsync(file, maxSize);
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    return failed(base, errorText(e));
  }
  const o = fromBytes(base, bytes, resolveSource);
  await locateMaps(o);
  return o;
}

/** Fills in where each map is defined in the object's C sources (for the tree's "go to"). */
async function locateMaps(o: LoadedObject): Promise<void> {
  const maps = o.summary.maps as MapItem[];
  if (!maps.length || !o.sources.length) return;
  for (const file of o.sources) {
    let lines: string[];
    try {
      lines = splitLines((await readRegularFileAsync(file, MAX_SOURCE_BYTES)).toString('latin1'));
    } catch {
      continue;
    }
    maps.forEach((m, i) => {
      if (m.source) return;
      const line = mapDefinitionLine(lines, m.name);
      if (line !== undefined) maps[i] = { ...m, source: { file, line } };
    });
  }
}

/** Parses an object's bytes (exported for tests and benchmarks). */
export function fromBytes(
  base: { path: string; size: number; mtimeMs: number },
  bytes: Uint8Array,
  resolveSource: (name: string) => string | undefined,
): LoadedObject {
  let btf: Btf | undefined;
  let btfBasePath: string | undefined;
  let facts: ObjectFacts | undefined;
  let module: { distilledBase: boolean } | undefined;
  const problems: string[] = [];
  try {
    if (isBtf(bytes)) btf = parseBtf(bytes, { file: base.path, section: 'BTF' });
    else if (!isElf(bytes)) return failed(base, `${base.path}: neither a BPF object, a kernel module nor raw BTF`);
    else {
      facts = factsOf(bytes, base.path);
      btf = facts.btf;
      problems.push(...facts.problems.map((p) => p.message));
      if (!facts.isBpf) {
        // Kernel modules: split BTF on their distilled base, else on this machine's vmlinux.
        try {
          const elf = new ElfFile(bytes, base.path);
          const distilledBase = elf.section('.BTF.base') !== undefined;
          if (elf.section('.BTF')) module = { distilledBase };
          const onVmlinux = distilledBase ? undefined : vmlinuxBase();
          btf = btfFromBytes(bytes, base.path, onVmlinux);
          if (onVmlinux) btfBasePath = VMLINUX_BTF;
        } catch (e) {
          problems.push(errorText(e));
        }
      }
    }
  } catch (e) {
    return failed(base, errorText(e));
  }
  const sources = new Set<string>();
  for (const name of facts?.lineFiles ?? []) {
    const abs = resolveSource(name);
    if (abs) sources.add(abs);
  }
  let catalog: BtfCatalog | undefined;
  const obj: LoadedObject = {
    ...base,
    btf,
    btfBasePath,
    facts,
    sources: [...sources],
    summary: {
      ...base,
      name: path.basename(base.path),
      programs:
        facts?.programs
          .filter((p) => p.entry)
          .map((p) => ({
            name: p.name,
            section: p.section,
            progType: p.progType,
            attachType: p.attachType,
            insnCount: p.insnCount,
            source: p.line ? { file: resolveSource(p.line.file) ?? p.line.file, line: p.line.line - 1 } : undefined,
          })) ?? [],
      maps:
        facts?.maps.map((m) => ({
          name: m.name,
          mapType: m.mapType,
          keySize: m.keySize,
          valueSize: m.valueSize,
          maxEntries: m.maxEntries,
        })) ?? [],
      externs: facts?.externs.map((e) => ({ name: e.name, kind: e.kind, weak: e.weak })) ?? [],
      ...(facts?.defines ? { defines: facts.defines } : {}),
      ...(module ? { module } : {}),
      ...(facts?.coreRelocations ? { coreRelocations: facts.coreRelocations } : {}),
      btfKinds: [],
      sources: [...sources],
      problems,
    },
    catalog() {
      if (!catalog && btf) catalog = new BtfCatalog(btf);
      return catalog;
    },
  };
  // Kind counts are cheap (one pass over the records) and the tree shows them at once.
  try {
    (obj.summary as { btfKinds: unknown }).btfKinds = obj.catalog()?.kinds() ?? [];
  } catch (e) {
    problems.push(`BTF: ${errorText(e)}`);
  }
  return obj;
}

let vmlinux: Btf | null | undefined;
/** This machine's kernel BTF, the base of module BTF without `.BTF.base` (read once). */
function vmlinuxBase(): Btf | undefined {
  if (vmlinux === undefined) {
    try {
      vmlinux = parseBtf(new Uint8Array(readFileSync(VMLINUX_BTF)), { file: VMLINUX_BTF });
    } catch {
      vmlinux = null;
    }
  }
  return vmlinux ?? undefined;
}

function failed(base: { path: string; size: number; mtimeMs: number }, error: string): LoadedObject {
  return {
    ...base,
    error,
    sources: [],
    summary: {
      ...base,
      name: path.basename(base.path),
      error,
      programs: [],
      maps: [],
      externs: [],
      btfKinds: [],
      sources: [],
      problems: [],
    },
    catalog: () => undefined,
  };
}
