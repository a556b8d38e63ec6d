/**
 * The load stages before the kernel holds anything of the object (libbpf's
 * bpf_object_prepare half of bpf_object__load): check the object and pick its programs,
 * CO-RE, link each program, resolve externs, plan struct_ops, placeholder FDs and the
 * map/data/extern relocations onto them, func_info/line_info with the __arg_ctx hook.
 * Each is one function over the LoadContext; index.ts calls them in order.
 */
import { CandidateCache, type CoreReloReport, relocateCore } from '../core';
import { arenaTooSmall } from '../object';
import type { BpfObject, BpfProgram } from '../object/model';
import { ArgCtxRewriter, argCtxFallbackWanted } from './arg-ctx';
import type { LoadContext } from './context';
import { buildFuncInfo, buildLineInfo } from './ext-info';
import { resolveExterns } from './externs';
import { linkProgram } from './link-subprogs';
import { relocateData } from './relocate-data';
import { applyRodataSets } from './rodata-set';
import { findStructOpsType, planStructOps, structOpsTypeMissing } from './struct-ops';
import type { LoadTarget } from './target';
import { LoadError, type LoadOptions } from './types';

/**
 * Which programs load: autoload on and not named in noAutoload; struct_ops programs as libbpf
 * 1.5's bpf_object_adjust_struct_ops_autoload: one a struct_ops map uses loads even from
 * SEC("?struct_ops"), and one no map uses refuses the load (libbpf: "isn't referenced anywhere")
 * unless it is off.
 */
function programsToLoad(obj: BpfObject, opts: LoadOptions): BpfProgram[] {
  const off = new Set(opts.noAutoload ?? []);
  const unknown = [...off].filter((n) => !obj.programs.some((p) => p.name === n));
  if (unknown.length)
    throw new LoadError(
      `--no-autoload: no program named ${unknown.map((n) => `'${n}'`).join(', ')} (programs: ${obj.programs.map((p) => p.name).join(', ')})`,
      'probe',
    );
  const used = new Set(obj.structOps.flatMap((m) => (m.structOpsProgs ?? []).map((s) => s.program)));
  return obj.programs.filter((p) => {
    if (off.has(p.name)) return false;
    if (p.progType !== 'struct_ops') return p.autoload;
    if (used.has(p.name)) return true;
    if (p.autoload)
      throw new LoadError(
        `program '${p.name}': SEC("${p.section}") program no struct_ops map uses (did you forget to use it?); libbpf refuses it too: make it SEC("?${p.section}") or use it in a struct_ops map`,
        'probe',
        { program: p.name },
      );
    return false;
  });
}

/** Stage 'probe': the object is loadable here (byte order, no errors) and its programs are chosen. */
export function checkObject(cx: LoadContext): void {
  const { obj, target } = cx;
  if (obj.littleEndian !== (target.endianness() === 'LE')) {
    throw new LoadError(
      `${obj.file} is ${obj.littleEndian ? 'little' : 'big'}-endian; the target kernel is not (build it with -target ${obj.littleEndian ? 'bpfeb' : 'bpfel'} or plain -target bpf there)`,
      'probe',
    );
  }
  const errors = obj.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new LoadError(`${obj.file} cannot be loaded:\n  ${errors.map((d) => d.message).join('\n  ')}`, 'probe');
  const arena = arenaTooSmall(obj, target.pageSize());
  if (arena) throw new LoadError(arena, 'probe');
  cx.progs = programsToLoad(obj, cx.opts);
  for (const p of cx.progs) {
    if (p.progType === 'unspec')
      throw new LoadError(`program '${p.name}': SEC("${p.section}") is no program type libbpf knows`, 'probe', { program: p.name });
  }
}

/** CO-RE relocation of every executable section that has records; returns the patched copies. */
function relocateSections(
  obj: BpfObject,
  target: LoadTarget,
  reports: CoreReloReport[],
  needed: ReadonlySet<number>,
): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const ext = obj.ext;
  const btf = obj.btf;
  if (!ext || !btf || ext.coreRelos.length === 0) return out;
  let cache: CandidateCache | undefined;
  for (const sec of ext.coreRelos) {
    const elfSec = obj.elf.sections.find((s) => s.name === sec.section);
    // sections no loaded program uses are not relocated (nor is the kernel's BTF read for them)
    if (!elfSec || !needed.has(elfSec.index)) continue;
    cache ??= new CandidateCache(btf, target.coreTargets());
    const insns = Uint8Array.from(elfSec.data);
    const lineInfo = ext.lineInfo.find((l) => l.section === sec.section)?.records;
    const r = relocateCore({ localBtf: btf, relos: sec.records, insns, targets: target.coreTargets(), cache, lineInfo });
    // assigned, not spread: a spread would word every report's lazy explanations (core/relocate.ts)
    for (const x of r.reports) reports.push(Object.assign(x, { section: sec.section }));
    out.set(elfSec.index, insns);
  }
  return out;
}

/**
 * Stage 'relocate', CO-RE then linking (libbpf's bpf_object__relocate_core, then each entry
 * program gets its subprograms appended): a relocation that fails inside code a loaded
 * program uses stops the load here, naming the source line.
 */
export function relocateAndLink(cx: LoadContext): void {
  const { obj, target } = cx;
  const needed = new Set(cx.progs.flatMap((p) => linkProgram(obj, p, (i) => obj.elf.sections[i].data).parts.map((x) => x.fn.sectionIndex)));
  const patched = relocateSections(obj, target, cx.coreReports, needed);
  const sectionBytes = (i: number) => patched.get(i) ?? obj.elf.sections[i].data;
  cx.planned = cx.progs.map((p) => {
    const linked = linkProgram(obj, p, sectionBytes);
    return { program: p, linked, lines: buildLineInfo(obj, linked) };
  });
  const used = (sec: string, insn: number) =>
    cx.planned.some((pl) =>
      pl.linked.parts.some(
        ({ fn }) => obj.elf.sections[fn.sectionIndex]?.name === sec && insn >= fn.insnOffset && insn < fn.insnOffset + fn.insnCount,
      ),
    );
  const fatal = cx.coreReports.filter((r) => r.fatal && used((r as CoreReloReport & { section: string }).section, r.sectionInsnIndex));
  if (fatal.length) {
    const lines = fatal.map(
      (r) => `${r.source ? `${r.source.file}:${r.source.line}: ` : ''}${r.kindName} ${r.access}: ${r.message ?? r.status}`,
    );
    throw new LoadError(`CO-RE relocation failed:\n  ${lines.join('\n  ')}`, 'relocate', {
      source: fatal[0].source ? { ...fatal[0].source } : undefined,
    });
  }
}

/** Externs (kconfig, ksyms, kfuncs) resolved against the target, and `--set` values checked and encoded. */
export function resolveExternsAndSets(cx: LoadContext): void {
  const { obj, target, opts } = cx;
  cx.ext = resolveExterns(obj, {
    btfs: () => target.kernelBtfs(),
    btfFd: (n) => target.btfFd(n),
    kconfig: () => target.kconfig(),
    linuxValue: (n) => target.linuxValue(n),
    kallsyms: (n) => target.kallsyms(n),
  });
  if (opts.set && Object.keys(opts.set).length) cx.sets = applyRodataSets(obj, opts.set);
}

/** struct_ops maps: their kernel types (needed to create the maps and to load their programs). */
export function planStructOpsMaps(cx: LoadContext): void {
  for (const m of cx.obj.structOps) {
    const kt = findStructOpsType(cx.target.kernelBtfs(), m.structOpsType ?? '');
    if (!kt) throw structOpsTypeMissing(m, cx.target.kernelBtfs());
    cx.structOps.set(m.name, planStructOps(cx.obj, m, kt));
  }
}

/**
 * Every map gets its FD number now, a memfd placeholder (libbpf's "stable map FDs"); the real
 * map is dup3-ed onto it later. Map, data and extern references in the instructions point at it.
 */
export function relocateOntoPlaceholders(cx: LoadContext): void {
  cx.placeholders = cx.obj.maps.map((m) => cx.k.memfdCreate(`bpf-lens:${m.name}`));
  for (const pl of cx.planned) relocateData(cx.obj, pl.linked, (i) => cx.placeholders[i], cx.ext);
}

/** func_info per program; the __arg_ctx fallback (ARG-CTX hook) may clone FUNC/FUNC_PROTO per program and re-point it. */
export function buildExtInfo(cx: LoadContext): void {
  const { obj, opts, target } = cx;
  let argCtx: ArgCtxRewriter | undefined;
  if (obj.btf && opts.argCtxFallback !== 'never' && cx.planned.some((pl) => pl.linked.parts.length > 1)) {
    const native = target.has('arg_ctx_tag');
    if (argCtxFallbackWanted(opts.argCtxFallback, native)) argCtx = new ArgCtxRewriter(obj.btf, { machine: target.machine() });
  }
  for (const pl of cx.planned) {
    const recs = buildFuncInfo(obj, pl.linked);
    pl.funcInfo = recs && argCtx ? argCtx.program(pl.program.name, pl.program.progType, recs) : recs;
  }
  argCtx?.throwIfImpossible(opts.argCtxFallback === 'always' ? '--arg-ctx-fallback always' : 'the kernel lacks native __arg_ctx support');
  cx.objBtf = argCtx ? argCtx.finish() : obj.btf;
  if (argCtx) cx.warnings.push(...argCtx.warnings);
}
