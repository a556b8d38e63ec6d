/**
 * openObject: ELF bytes → BpfObject. Fatal problems (not ELF, not BPF, broken tables or BTF)
 * throw FormatError; what libbpf reports per map/program goes to diagnostics.
 */
import { isBtf, parseBtf } from '../btf/btf';
import { parseBtfExt } from '../btf/ext';
import { FormatError } from '../common/errors';
import { ElfFile, isElf } from '../elf/reader';
import { withArenaData } from './arena';
import { collectExterns } from './externs';
import { collectBtfMaps } from './maps-btf';
import { collectDataMaps, collectLegacyMaps, collectStructOps, kconfigMap } from './maps-internal';
import type { BpfMap, BpfObject, BpfReloc, ObjectDiagnostic, OpenOptions } from './model';
import { sectionRelocs } from './relocs';
import { collectFunctions, collectPrograms } from './programs';
import { locateDiagnostics, locateMaps } from './source';

/** ELF e_machine of BPF objects. */
export const EM_BPF = 247;

/** libbpf's object name: the file's basename up to its first '.'. */
export function objectName(file: string): string {
  const base = file.replace(/\\/g, '/').split('/').pop() ?? file;
  const dot = base.indexOf('.');
  return dot < 0 ? base : base.slice(0, dot);
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString('latin1');
}

/** Reads a BPF object. Throws FormatError (only) on input it cannot read. */
export function openObject(bytes: Uint8Array, file: string, opts: OpenOptions = {}): BpfObject {
  try {
    return read(bytes, file, opts);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    // hostile input that slipped past a check: still one clear line, never a crash
    throw new FormatError(file, 'object', 0, `malformed object: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function read(bytes: Uint8Array, file: string, opts: OpenOptions): BpfObject {
  if (!isElf(bytes)) {
    throw new FormatError(file, 'ELF header', 0, isBtf(bytes) ? 'raw BTF, not an ELF object (try `bpf-lens btf dump`)' : 'not an ELF file');
  }
  const elf = new ElfFile(bytes, file);
  const diagnostics: ObjectDiagnostic[] = [];
  if (elf.header.machine !== EM_BPF) {
    throw new FormatError(file, 'ELF header', 18, `not a BPF object (e_machine ${elf.header.machine}, expected EM_BPF ${EM_BPF})`);
  }
  const btfSec = elf.section('.BTF');
  // broken BTF is reported, and the rest of the object is still read (libbpf goes on without
  // BTF too when nothing needs it; here every consumer of BTF then says what it is missing)
  const btf = btfSec ? readOrReport(() => parseBtf(btfSec.data, { file, section: '.BTF' }), '.BTF', diagnostics) : undefined;
  const extSec = elf.section('.BTF.ext');
  const ext = extSec && btf ? readOrReport(() => parseBtfExt(extSec.data, btf, file), '.BTF.ext', diagnostics) : undefined;
  const licSec = elf.section('license');
  const license = licSec ? cString(licSec.data) : '';
  const verSec = elf.section('version');
  const kernVersion = verSec && verSec.size >= 4 ? elf.reader(verSec).u32(0) : 0;
  const name = objectName(file);

  const externs = collectExterns(elf, btf, diagnostics);
  const structOps = collectStructOps(elf, btf, diagnostics);
  const kconfig = kconfigMap(btf, name, externs);
  let maps: BpfMap[] = [
    ...withArenaData(elf, collectBtfMaps(elf, btf, diagnostics), diagnostics),
    ...collectLegacyMaps(elf, diagnostics),
    ...collectDataMaps(elf, btf, name),
    ...(kconfig ? [kconfig] : []),
    ...structOps,
  ];
  const funcs = collectFunctions(elf, btf, ext, diagnostics);
  const relocs = new Map<number, BpfReloc[]>();
  for (const idx of new Set(funcs.map((f) => f.sectionIndex)))
    relocs.set(idx, sectionRelocs(elf, elf.sections[idx], maps, externs, diagnostics));
  // calls through a section symbol name the function that starts at the target
  const named = (r: BpfReloc): BpfReloc => {
    if (r.kind !== 'call' && r.kind !== 'func_addr') return r;
    const t = funcs.find((f) => f.sectionIndex === r.targetSection && f.insnOffset === r.targetInsn);
    return t ? { ...r, name: t.name } : r;
  };
  const functions = funcs.map((f) => ({ ...f, relocs: within(relocs.get(f.sectionIndex) ?? [], f.insnOffset, f.insnCount).map(named) }));
  const programs = collectPrograms(elf, functions, ext, diagnostics);
  const sourceFiles = [...new Set((ext?.lineInfo ?? []).flatMap((s) => s.records.map((r) => r.file)))];
  let diags: readonly ObjectDiagnostic[] = diagnostics;
  if (opts.readSource) {
    maps = locateMaps(maps, sourceFiles, opts.readSource);
    diags = locateDiagnostics(diagnostics, maps, sourceFiles, opts.readSource);
  }
  return {
    file,
    name,
    elf,
    littleEndian: elf.littleEndian,
    ...(btf ? { btf } : {}),
    ...(ext ? { ext } : {}),
    license,
    kernVersion,
    programs,
    functions,
    maps,
    externs,
    structOps: maps.filter((m) => m.kind === 'struct_ops'),
    diagnostics: diags,
    sourceFiles,
  };
}

/** Relocations of one function, re-based on its first instruction. */
function within(all: readonly BpfReloc[], start: number, count: number): BpfReloc[] {
  return all.filter((r) => r.insn >= start && r.insn < start + count).map((r) => ({ ...r, insn: r.insn - start }));
}

function readOrReport<T>(read: () => T, section: string, diags: ObjectDiagnostic[]): T | undefined {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    diags.push({ severity: 'error', section, message: `${section} is unreadable, going on without it: ${e.message}` });
    return undefined;
  }
}
