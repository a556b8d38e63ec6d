/**
 * One object read and parsed, as plain data: what the index keeps of it (the facts hovers,
 * the tree and diagnostics use), computed in a worker thread and sent to the server thread.
 * Its BTF and disassembly are not sent: the server parses them again when first asked.
 * A file that cannot be read or parsed gives an `error`, never an exception.
 */
import { createHash } from 'crypto';
import { readFileSync } from 'fs';
import { type Btf, isBtf, parseBtf } from '../btf/btf';
import { btfFromBytes } from '../btf/input';
import { EM_BPF } from '../elf/constants';
import { ElfFile, isElf } from '../elf/reader';
import { readRegularObject } from '../host/read-object';
import { VMLINUX_BTF } from '../kernel/sysfs-btf';
import type { BtfKindCount } from '../../../protocol/lsp';
import { BtfCatalog } from './btf-types';
import { factsOf, type ObjectFacts } from './facts';

/** The facts without what cannot cross threads (the parsed BTF, the disassembler). */
export type IndexedFacts = Omit<ObjectFacts, 'btf' | 'disassembly'>;

export interface FileIdentity {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface IndexedObject extends FileIdentity {
  readonly error?: string;
  /** sha1 of the bytes read (DWARF left out): copies of one object in several build directories share it. */
  readonly digest?: string;
  /** The raw BTF file the object's BTF is split on (module BTF on this kernel's vmlinux). */
  readonly btfBasePath?: string;
  readonly facts?: IndexedFacts;
  readonly module?: { readonly distilledBase: boolean };
  readonly problems: readonly string[];
  readonly btfKinds: readonly BtfKindCount[];
}

/** An object fully parsed: what IndexedObject is made from, with the BTF and the disassembler. */
export interface ParsedObject {
  readonly error?: string;
  readonly digest?: string;
  readonly btf?: Btf;
  readonly btfBasePath?: string;
  readonly facts?: ObjectFacts;
  readonly module?: { readonly distilledBase: boolean };
  readonly problems: readonly string[];
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Reads (without DWARF) and parses the object at `f.path`. */
export function parseObjectFile(f: FileIdentity, maxSize: number): ParsedObject {
  if (f.size > maxSize) return { error: `${f.size} bytes is more than bpfLens.maxObjectSize (${maxSize})`, problems: [] };
  let bytes: Uint8Array;
  try {
    // A regular file within the limit (stat says size 0 for devices and FIFOs).
    bytes = readRegularObject(f.path, maxSize);
  } catch (e) {
    return { error: errorText(e), problems: [] };
  }
  return { ...parseObjectBytes(f.path, bytes), digest: createHash('sha1').update(bytes).digest('hex') };
}

/** Parses an object's bytes: a BPF object, a kernel module (split BTF) or raw BTF. */
export function parseObjectBytes(file: string, bytes: Uint8Array): ParsedObject {
  try {
    if (isBtf(bytes)) return { btf: parseBtf(bytes, { file, section: 'BTF' }), problems: [] };
    if (!isElf(bytes)) return { error: `${file}: neither a BPF object, a kernel module nor raw BTF`, problems: [] };
    const facts = factsOf(bytes, file);
    const problems = facts.problems.map((p) => p.message);
    return facts.isBpf ? { btf: facts.btf, facts, problems } : { ...moduleBtf(file, bytes, problems), facts, problems };
  } catch (e) {
    return { error: errorText(e), problems: [] };
  }
}

/**
 * The object's BTF alone (what hovers and the tree need), the file read again: as
 * parseObjectBytes gives it, without the rest of the parse. Undefined if it cannot be had.
 */
export function parseObjectBtf(f: FileIdentity): Btf | undefined {
  try {
    const bytes = readRegularObject(f.path, Number.MAX_SAFE_INTEGER);
    if (isBtf(bytes)) return parseBtf(bytes, { file: f.path, section: 'BTF' });
    if (new ElfFile(bytes, f.path).header.machine === EM_BPF) return btfFromBytes(bytes, f.path);
    return moduleBtf(f.path, bytes, []).btf;
  } catch {
    return undefined;
  }
}

/** Kernel modules: split BTF on their distilled base, else on this machine's vmlinux. */
function moduleBtf(file: string, bytes: Uint8Array, problems: string[]): Pick<ParsedObject, 'btf' | 'btfBasePath' | 'module'> {
  try {
    const elf = new ElfFile(bytes, file);
    const distilledBase = elf.section('.BTF.base') !== undefined;
    const module = elf.section('.BTF') ? { distilledBase } : undefined;
    const onVmlinux = distilledBase ? undefined : vmlinuxBase();
    return { btf: btfFromBytes(bytes, file, onVmlinux), ...(onVmlinux ? { btfBasePath: VMLINUX_BTF } : {}), ...(module ? { module } : {}) };
  } catch (e) {
    problems.push(errorText(e));
    return {};
  }
}

/** The plain-data part of a parsed object. */
export function indexedOf(f: FileIdentity, p: ParsedObject): IndexedObject {
  const base = { path: f.path, size: f.size, mtimeMs: f.mtimeMs };
  if (p.error !== undefined) return { ...base, error: p.error, problems: [], btfKinds: [] };
  const problems = [...p.problems];
  let btfKinds: readonly BtfKindCount[] = [];
  // Kind counts are cheap (one pass over the records) and the tree shows them at once.
  try {
    btfKinds = p.btf ? new BtfCatalog(p.btf).kinds() : [];
  } catch (e) {
    problems.push(`BTF: ${errorText(e)}`);
  }
  return {
    ...base,
    ...(p.digest ? { digest: p.digest } : {}),
    ...(p.btfBasePath ? { btfBasePath: p.btfBasePath } : {}),
    ...(p.facts ? { facts: factsWithoutCode(p.facts) } : {}),
    ...(p.module ? { module: p.module } : {}),
    problems,
    btfKinds,
  };
}

function factsWithoutCode(f: ObjectFacts): IndexedFacts {
  return {
    isBpf: f.isBpf,
    maps: f.maps,
    programs: f.programs,
    externs: f.externs,
    ...(f.defines ? { defines: f.defines } : {}),
    problems: f.problems,
    lineFiles: f.lineFiles,
    ...(f.argCtx ? { argCtx: f.argCtx } : {}),
    ...(f.coreRelocations !== undefined ? { coreRelocations: f.coreRelocations } : {}),
  };
}

let vmlinux: Btf | null | undefined;
/** This machine's kernel BTF, the base of module BTF without `.BTF.base` (read once per thread). */
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
