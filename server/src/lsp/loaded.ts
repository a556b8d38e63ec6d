/**
 * One object as the language server keeps it: read once, parsed once (in a worker thread when
 * there is one), summarised once. Its BTF and disassembly are parsed again on first use.
 * A file that cannot be read becomes an object with an `error`, never an exception.
 */
import { type Stats } from 'fs';
import * as path from 'path';
import { MAX_SOURCE_BYTES, readRegularFile, readRegularFileAsync } from '../host/read-file';
import type { Btf } from '../btf/btf';
import type { MapItem, ObjectSummary } from '../../../protocol/lsp';
import { BtfCatalog } from './btf-types';
import { mapDefinitionLine, splitLines } from './c-text';
import {
  errorText,
  type FileIdentity,
  type IndexedFacts,
  type IndexedObject,
  indexedOf,
  type ParsedObject,
  parseObjectBtf,
  parseObjectBytes,
  parseObjectFile,
} from './parsed-object';
import type { WorkerPool } from './worker-pool';

export interface LoadedObject {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly error?: string;
  /** The same for objects with the same bytes (parsed-object.ts). */
  readonly digest?: string;
  /** Parsed on first use. */
  readonly btf?: Btf;
  /** The raw BTF file `btf` was parsed on, for module BTF split on this kernel's vmlinux. */
  readonly btfBasePath?: string;
  readonly facts?: IndexedFacts;
  /** Absolute paths of the C sources line_info names (those found on disk or in the workspace). */
  readonly sources: readonly string[];
  readonly summary: ObjectSummary;
  /** The BTF type lists for the tree (built on first use). */
  catalog(): BtfCatalog | undefined;
  /** Disassembly with source lines: one program (section or function name), or all. */
  disassembly(program?: string): string;
}

/** The lines of a C source (undefined: unreadable); a scan shares one reader so each source is read once. */
export type SourceLines = (file: string) => Promise<string[] | undefined>;

export async function readSourceLines(file: string): Promise<string[] | undefined> {
  try {
    return splitLines((await readRegularFileAsync(file, MAX_SOURCE_BYTES)).toString('latin1'));
  } catch {
    return undefined;
  }
}

/**
 * readSourceLines with the read done at once: for an object read on this thread for a hover,
 * whose wait would otherwise let the scan's work in between the reads (~5 ms at the start).
 */
export function readSourceLinesNow(file: string): Promise<string[] | undefined> {
  try {
    return Promise.resolve(splitLines(readRegularFile(file, MAX_SOURCE_BYTES).toString('latin1')));
  } catch {
    return Promise.resolve(undefined);
  }
}

export interface LoadOptions {
  readonly maxSize: number;
  readonly resolveSource: (name: string) => string | undefined;
  readonly sourceLines?: SourceLines;
  /** Parses in a worker thread (else here). */
  readonly pool?: WorkerPool;
}

/** Reads and parses the object at `file` (`st` its stat). */
export async function loadObject(file: string, st: Stats, o: LoadOptions): Promise<LoadedObject> {
  const f = { path: file, size: st.size, mtimeMs: st.mtimeMs };
  let ix: IndexedObject;
  let parsed: ParsedObject | undefined;
  if (o.pool?.available) {
    try {
      ix = await o.pool.run<IndexedObject>({ kind: 'index', path: file, size: st.size, mtimeMs: st.mtimeMs, maxSize: o.maxSize });
    } catch (e) {
      ix = { ...f, error: errorText(e), problems: [], btfKinds: [] }; // a worker that died or ran out of time on it
    }
  } else ix = indexedOf(f, (parsed = parseObjectFile(f, o.maxSize)));
  const loaded = toLoaded(ix, o.resolveSource, parsed);
  await locateMaps(loaded, o.sourceLines ?? readSourceLines);
  return loaded;
}

/** Parses an object's bytes (for tests and benchmarks). */
export function fromBytes(f: FileIdentity, bytes: Uint8Array, resolveSource: (name: string) => string | undefined): LoadedObject {
  const parsed = parseObjectBytes(f.path, bytes);
  return toLoaded(indexedOf(f, parsed), resolveSource, parsed);
}

/** Map definition lines per source text: a scan shares one text among the objects built from it. */
const mapLines = new WeakMap<readonly string[], Map<string, number | undefined>>();

function definitionLine(lines: readonly string[], name: string): number | undefined {
  let known = mapLines.get(lines);
  if (!known) mapLines.set(lines, (known = new Map()));
  if (!known.has(name)) known.set(name, mapDefinitionLine(lines, name));
  return known.get(name);
}

/** Fills in where each map is defined in the object's C sources (for the tree's "go to"). */
async function locateMaps(o: LoadedObject, sourceLines: SourceLines): Promise<void> {
  const maps = o.summary.maps as MapItem[];
  if (!maps.length || !o.sources.length) return;
  for (const file of o.sources) {
    const lines = await sourceLines(file);
    if (!lines) continue;
    maps.forEach((m, i) => {
      if (m.source) return;
      const line = definitionLine(lines, m.name);
      if (line !== undefined) maps[i] = { ...m, source: { file, line } };
    });
  }
}

/**
 * The index's object from the parsed data; `parsed` (when it was parsed here) keeps its BTF,
 * else the file is parsed again when the BTF or the disassembly is first asked for.
 */
function toLoaded(ix: IndexedObject, resolveSource: (name: string) => string | undefined, parsed?: ParsedObject): LoadedObject {
  if (ix.error !== undefined) return failed(ix, ix.error);
  const { facts } = ix;
  const sources = new Set<string>();
  for (const name of facts?.lineFiles ?? []) {
    const abs = resolveSource(name);
    if (abs) sources.add(abs);
  }
  let full = parsed;
  const again = (): ParsedObject => (full ??= parseObjectFile(ix, Number.MAX_SAFE_INTEGER));
  let btf = parsed ? { value: parsed.btf } : undefined;
  const btfAgain = () => (btf ??= { value: full ? full.btf : parseObjectBtf(ix) }).value;
  let catalog: BtfCatalog | undefined;
  return {
    path: ix.path,
    size: ix.size,
    mtimeMs: ix.mtimeMs,
    ...(ix.digest ? { digest: ix.digest } : {}),
    get btf() {
      return btfAgain();
    },
    ...(ix.btfBasePath ? { btfBasePath: ix.btfBasePath } : {}),
    ...(facts ? { facts } : {}),
    sources: [...sources],
    summary: summaryOf(ix, resolveSource, [...sources]),
    catalog() {
      const b = btfAgain();
      if (!catalog && b) catalog = new BtfCatalog(b);
      return catalog;
    },
    disassembly(program?: string) {
      const p = again();
      if (!p.facts) throw new Error(p.error ?? `${ix.path} is not a BPF object`);
      return p.facts.disassembly(program);
    },
  };
}

function summaryOf(ix: IndexedObject, resolveSource: (name: string) => string | undefined, sources: string[]): ObjectSummary {
  const { facts } = ix;
  return {
    path: ix.path,
    size: ix.size,
    mtimeMs: ix.mtimeMs,
    name: path.basename(ix.path),
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
    ...(ix.module ? { module: ix.module } : {}),
    ...(facts?.coreRelocations ? { coreRelocations: facts.coreRelocations } : {}),
    btfKinds: ix.btfKinds,
    sources,
    problems: [...ix.problems],
  };
}

function failed(f: FileIdentity, error: string): LoadedObject {
  const base = { path: f.path, size: f.size, mtimeMs: f.mtimeMs };
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
    disassembly: () => {
      throw new Error(error);
    },
  };
}
