/**
 * The load pipeline: a BpfObject and a target in, created maps and loaded programs out —
 * libbpf's bpf_object__load, in its order since "stable map FDs":
 *
 *   probe → CO-RE (per section) → link each entry program (subprograms, exception callback)
 *   → resolve externs → placeholder FDs → map/data/extern relocations → func_info/line_info
 *   (ARG-CTX hook) → fix up, sanitise and load BTF → create maps (dup3 onto placeholders),
 *   fill and freeze data maps → load programs → prog-array / map-in-map slots → pin →
 *   struct_ops registered (and freplace attached).
 *
 * Pure steps live in their own files (link-subprogs, relocate-data, externs, sanitize-btf,
 * ext-info, struct-ops, rodata-set); the kernel is reached only through `opts.kernel`. On any
 * failure every FD opened is closed and every pin made is removed before the LoadError leaves.
 */
import { writeBtf } from '../btf/write';
import { BAD_RELO_CALL_IMM, CandidateCache, type CoreReloReport, relocateCore } from '../core';
import { type Fd, isKernelError } from '../kernel';
import { BPF_MAP_TYPE } from '../kernel/uapi';
import { mapTypeName } from '../object';
import type { BpfObject, BpfProgram } from '../object/model';
import { type ArgCtxRewriter, ArgCtxRewriter as Rewriter, argCtxFallbackWanted } from './arg-ctx';
import { buildFuncInfo, buildLineInfo, encodeFuncInfo, encodeLineInfo, type LinkedLine } from './ext-info';
import { type ExternValues, resolveExterns } from './externs';
import { type LinkedProgram, linkProgram } from './link-subprogs';
import { type CreatedMap, createMap, type MapEnv } from './maps';
import { PinJournal } from './pin';
import { findAttachTarget, loadProgram } from './programs';
import { POISON_CALL_KFUNC_BASE, relocateData } from './relocate-data';
import { applyRodataSets } from './rodata-set';
import { fixupObjectBtf, sanitizeBtf } from './sanitize-btf';
import { findStructOpsType, planStructOps, structOpsTypeMissing, type StructOpsPlan } from './struct-ops';
import { registerStructOps, replaceSlots } from './attach';
import { LoadTarget } from './target';
import { LoadError, type LoadedMap, type LoadedProgram, type LoadOptions, type LoadResult, type LoadStage } from './types';
import type { FuncInfoRecord } from './arg-ctx';

export * from './types';

/** Program types that cannot load without the object's BTF (libbpf's kernel_needs_btf, widened). */
const NEEDS_BTF = new Set(['struct_ops', 'ext']);

interface Planned {
  readonly program: BpfProgram;
  readonly linked: LinkedProgram;
  funcInfo?: readonly FuncInfoRecord[];
  readonly lines: LinkedLine[];
}

/** Which programs load: autoload on, not named in noAutoload, struct_ops ones only when a map uses them. */
function programsToLoad(obj: BpfObject, opts: LoadOptions, warnings: string[]): BpfProgram[] {
  const off = new Set(opts.noAutoload ?? []);
  const unknown = [...off].filter((n) => !obj.programs.some((p) => p.name === n));
  if (unknown.length) throw new LoadError(`--no-autoload: no program named ${unknown.map((n) => `'${n}'`).join(', ')} (programs: ${obj.programs.map((p) => p.name).join(', ')})`, 'probe');
  const used = new Set(obj.structOps.flatMap((m) => (m.structOpsProgs ?? []).map((s) => s.program)));
  return obj.programs.filter((p) => {
    if (!p.autoload || off.has(p.name)) return false;
    if (p.progType === 'struct_ops' && !used.has(p.name)) {
      warnings.push(`program '${p.name}': struct_ops program no struct_ops map uses; not loaded (as libbpf)`);
      return false;
    }
    return true;
  });
}

/** CO-RE relocation of every executable section that has records; returns the patched copies. */
function relocateSections(obj: BpfObject, target: LoadTarget, reports: CoreReloReport[], needed: ReadonlySet<number>): Map<number, Uint8Array> {
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
    reports.push(...r.reports.map((x) => ({ ...x, section: sec.section })));
    out.set(elfSec.index, insns);
  }
  return out;
}

function asLoadError(e: unknown, stage: LoadStage): LoadError {
  if (e instanceof LoadError) return e;
  if (isKernelError(e)) {
    const hint = e.errnoName === 'EPERM' && !e.hint && process.getuid?.() !== 0
      ? ' — loading BPF needs root, or CAP_BPF with CAP_PERFMON (tracing) / CAP_NET_ADMIN (networking)' : '';
    return new LoadError(`${e.message}${hint}`, stage, { cause: e, log: e.log });
  }
  return new LoadError(e instanceof Error ? e.message : String(e), stage, { cause: e });
}

/**
 * Loads `obj` into the target. Synchronous (bpf(2) through koffi is). Throws LoadError; by
 * then nothing this load made is left open or pinned.
 */
export function loadObject(obj: BpfObject, opts: LoadOptions): LoadResult {
  const steps = loadSteps(obj, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

let asyncQueue: Promise<unknown> = Promise.resolve();

/**
 * loadObject that gives the event loop a turn after each stage (and each program), so a
 * language server's progress notifications reach the editor while the load runs rather than
 * all at its end. Async loads of one process run one after another.
 */
export function loadObjectAsync(obj: BpfObject, opts: LoadOptions): Promise<LoadResult> {
  const run = async (): Promise<LoadResult> => {
    const steps = loadSteps(obj, opts);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  const p = asyncQueue.then(run, run);
  asyncQueue = p.catch(() => undefined);
  return p;
}

/** The pipeline; it yields after each progress report (loadObject runs it straight through). */
function* loadSteps(obj: BpfObject, opts: LoadOptions): Generator<void, LoadResult, void> {
  const k = opts.kernel;
  const tracker = k.trackFds();
  // While the caller has the event loop, FDs others open are not this load's to close.
  function* pause(): Generator<void, void, void> {
    tracker.stop();
    try {
      yield;
    } finally {
      tracker.resume();
    }
  }
  const journal = new PinJournal(k);
  const target = new LoadTarget(opts);
  const undo: (() => void)[] = [];
  const warnings: string[] = [];
  let stage: LoadStage = 'probe';
  const progress = (s: LoadStage, detail: string) => {
    stage = s;
    opts.onProgress?.(s, detail);
  };
  try {
    progress('probe', obj.file);
    yield* pause();
    if (obj.littleEndian !== (target.endianness() === 'LE')) {
      throw new LoadError(`${obj.file} is ${obj.littleEndian ? 'little' : 'big'}-endian; the target kernel is not (build it with -target ${obj.littleEndian ? 'bpfeb' : 'bpfel'} or plain -target bpf there)`, 'probe');
    }
    const errors = obj.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length) throw new LoadError(`${obj.file} cannot be loaded:\n  ${errors.map((d) => d.message).join('\n  ')}`, 'probe');
    const progs = programsToLoad(obj, opts, warnings);
    for (const p of progs) {
      if (p.progType === 'unspec') throw new LoadError(`program '${p.name}': SEC("${p.section}") is no program type libbpf knows`, 'probe', { program: p.name });
    }

    // ---- relocate (pure, except reading the target's BTF/config) ----
    progress('relocate', 'CO-RE');
    yield* pause();
    const coreReports: CoreReloReport[] = [];
    const needed = new Set(progs.flatMap((p) => linkProgram(obj, p, (i) => obj.elf.sections[i].data).parts.map((x) => x.fn.sectionIndex)));
    const patched = relocateSections(obj, target, coreReports, needed);
    const sectionBytes = (i: number) => patched.get(i) ?? obj.elf.sections[i].data;
    const planned: Planned[] = progs.map((p) => {
      const linked = linkProgram(obj, p, sectionBytes);
      return { program: p, linked, lines: buildLineInfo(obj, linked) };
    });
    const used = (sec: string, insn: number) => planned.some((pl) => pl.linked.parts.some(({ fn }) =>
      obj.elf.sections[fn.sectionIndex]?.name === sec && insn >= fn.insnOffset && insn < fn.insnOffset + fn.insnCount));
    const fatal = coreReports.filter((r) => r.fatal && used((r as CoreReloReport & { section: string }).section, r.sectionInsnIndex));
    if (fatal.length) {
      const lines = fatal.map((r) => `${r.source ? `${r.source.file}:${r.source.line}: ` : ''}${r.kindName} ${r.access}: ${r.message ?? r.status}`);
      throw new LoadError(`CO-RE relocation failed:\n  ${lines.join('\n  ')}`, 'relocate', { source: fatal[0].source ? { ...fatal[0].source } : undefined });
    }
    const ext: ExternValues = resolveExterns(obj, {
      btfs: () => target.kernelBtfs(), btfFd: (n) => target.btfFd(n), kconfig: () => target.kconfig(),
      linuxValue: (n) => target.linuxValue(n), kallsyms: (n) => target.kallsyms(n),
    });
    const sets = opts.set && Object.keys(opts.set).length ? applyRodataSets(obj, opts.set) : new Map<string, Uint8Array>();

    // struct_ops kernel types (needed to create the maps and to load their programs)
    const structOps = new Map<string, StructOpsPlan>();
    for (const m of obj.structOps) {
      const kt = findStructOpsType(target.kernelBtfs(), m.structOpsType ?? '');
      if (!kt) throw structOpsTypeMissing(m, target.kernelBtfs());
      structOps.set(m.name, planStructOps(obj, m, kt));
    }

    // placeholders: every map gets its FD number now; the real map is dup2-ed onto it later
    const placeholders: Fd[] = obj.maps.map((m) => k.memfdCreate(`bpf-lens:${m.name}`));
    for (const pl of planned) relocateData(obj, pl.linked, (i) => placeholders[i], ext);

    // func_info per program, then the __arg_ctx fallback may re-point it
    let argCtx: ArgCtxRewriter | undefined;
    if (obj.btf && opts.argCtxFallback !== 'never' && planned.some((pl) => pl.linked.parts.length > 1)) {
      const native = target.has('arg_ctx_tag');
      if (argCtxFallbackWanted(opts.argCtxFallback, native)) argCtx = new Rewriter(obj.btf, { machine: target.machine() });
    }
    for (const pl of planned) {
      const recs = buildFuncInfo(obj, pl.linked);
      // ARG-CTX hook: the fallback clones FUNC/FUNC_PROTO per program and re-points its records
      pl.funcInfo = recs && argCtx ? argCtx.program(pl.program.name, pl.program.progType, recs) : recs;
    }
    argCtx?.throwIfImpossible(opts.argCtxFallback === 'always' ? '--arg-ctx-fallback always' : 'the kernel lacks native __arg_ctx support');
    const objBtf = argCtx ? argCtx.finish() : obj.btf;
    if (argCtx) warnings.push(...argCtx.warnings);

    // ---- BTF ----
    progress('btf', 'sanitise and load');
    yield* pause();
    let btfFd: Fd | undefined;
    if (objBtf && target.has('btf')) {
      const sanitized = sanitizeBtf(fixupObjectBtf(obj, objBtf), target.btfFeatures());
      try {
        btfFd = k.btfLoad(writeBtf(sanitized), { log: { level: 0 }, context: `BTF of ${obj.name}` }).fd;
      } catch (e) {
        const needs = obj.structOps.length > 0 || progs.some((p) => NEEDS_BTF.has(p.progType));
        if (needs || !isKernelError(e)) throw new LoadError(`the object's BTF was refused by the kernel: ${(e as Error).message}`, 'btf', { cause: e, log: isKernelError(e) ? e.log : undefined });
        warnings.push(`the object's BTF was refused (${e.errnoName}); loading without it, as libbpf does`);
      }
    }

    // ---- maps ----
    progress('maps', `${obj.maps.length} maps`);
    yield* pause();
    const env: MapEnv = {
      kernel: k, btfFd, nrCpus: obj.maps.some((m) => m.typeId === BPF_MAP_TYPE.BPF_MAP_TYPE_PERF_EVENT_ARRAY) ? target.nrCpus() : 1, pageSize: target.pageSize(),
      names: target.has('prog_name'), mmap: target.has('array_mmap'), pinRoot: opts.pinRoot ?? '/sys/fs/bpf', journal, structOps,
      kernelBtfFd: (n) => target.btfFd(n),
    };
    const created: CreatedMap[] = obj.maps.map((m, i) => {
      const data = m.kind === 'kconfig' ? ext.kconfigData : sets.get(m.name) ?? m.initialData;
      return createMap(m, placeholders[i], env, m.kind === 'btf' || m.kind === 'legacy' ? undefined : data);
    });

    // ---- programs ----
    progress('programs', `${planned.length} programs`);
    yield* pause();
    const kernVersion = obj.kernVersion || target.kernelVersion();
    const slotOf = new Map<string, { plan: StructOpsPlan; memberIndex: number }>();
    for (const plan of structOps.values()) for (const s of plan.slots) slotOf.set(s.program, { plan, memberIndex: s.memberIndex });
    let replace: Map<string, number> | undefined;
    if (opts.replaceTargetFd !== undefined && planned.some((pl) => pl.program.progType === 'ext')) replace = replaceSlots(obj, opts);
    const loaded: { pl: Planned; fd: Fd; log: string; linkFd?: Fd }[] = [];
    for (const pl of planned) {
      const p = pl.program;
      progress('programs', p.name);
      yield* pause();
      let attachBtfId: number | undefined;
      let attachBtfObjFd: Fd | undefined;
      let attachProgFd: Fd | undefined;
      let expectedAttachType: number | undefined;
      const so = slotOf.get(p.name);
      if (so) {
        attachBtfId = so.plan.kernel.typeId;
        expectedAttachType = so.memberIndex;
        if (so.plan.kernel.btfName !== 'vmlinux') attachBtfObjFd = target.btfFd(so.plan.kernel.btfName);
      } else if (p.progType === 'ext') {
        if (!replace) throw new LoadError(`program '${p.name}': SEC("${p.section}") replaces a function of a loaded program: name it (--replace PROG_ID|PINNED_PATH)`, 'programs', { program: p.name });
        attachProgFd = opts.replaceTargetFd;
        attachBtfId = replace.get(p.name);
      } else {
        const at = findAttachTarget(p, () => target.kernelBtfs());
        if (at) {
          attachBtfId = at.btfId;
          if (at.btfName !== 'vmlinux') attachBtfObjFd = target.btfFd(at.btfName);
        }
      }
      // func_info/line_info name FUNCs: without kernel support for them libbpf sends neither
      const withBtf = btfFd !== undefined && target.has('btf_func');
      const r = withPoisonExplained(obj, pl.linked, coreReports, () => loadProgram(k, {
        program: p, insns: pl.linked.insns, license: obj.license, kernVersion, btfFd,
        funcInfo: withBtf && pl.funcInfo ? encodeFuncInfo(pl.funcInfo) : undefined,
        lineInfo: withBtf && pl.lines.length ? encodeLineInfo(pl.lines) : undefined,
        lines: pl.lines, partStarts: pl.linked.parts.map((x) => x.start), attachBtfId, attachBtfObjFd, attachProgFd, expectedAttachType,
        fdArray: ext.fdArray.length ? ext.fdArray : undefined, logLevel: opts.logLevel ?? 0, names: target.has('prog_name'),
      }));
      loaded.push({ pl, fd: r.fd, log: r.log });
    }
    const progFd = (name: string) => loaded.find((l) => l.pl.program.name === name)?.fd;

    // prog-array and map-in-map slots from .rel.maps
    created.forEach((c, i) => {
      for (const s of c.map.initialSlots ?? []) {
        const isProgArray = c.map.typeId === BPF_MAP_TYPE.BPF_MAP_TYPE_PROG_ARRAY;
        const fd = isProgArray ? progFd(s.target) : placeholders[obj.maps.findIndex((m) => m.name === s.target)];
        if (fd === undefined) {
          warnings.push(`map '${c.map.name}' slot ${s.index}: program '${s.target}' was not loaded; slot left empty`);
          continue;
        }
        const key = Buffer.alloc(4);
        key.writeUInt32LE(s.index);
        const val = Buffer.alloc(4);
        val.writeUInt32LE(fd);
        try {
          k.mapUpdateElem(placeholders[i], key, val);
        } catch (e) {
          throw new LoadError(`map '${c.map.name}': setting slot ${s.index} to '${s.target}' failed: ${(e as Error).message}`, 'maps', { cause: e });
        }
      }
    });

    // ---- pin ----
    progress('pin', '');
    yield* pause();
    for (const c of created) {
      if (!c.pinnedAt || c.reused) continue;
      journal.ensureDir(c.pinnedAt.slice(0, c.pinnedAt.lastIndexOf('/')));
      k.objPin(c.fd, c.pinnedAt, `pin map "${c.map.name}"`);
      journal.pinned(c.pinnedAt);
    }
    const progPins = new Map<string, string>();
    if (opts.pinProgramsDir) {
      const dir = opts.pinProgramsDir.replace(/\/+$/, '');
      journal.ensureDir(dir);
      for (const l of loaded) {
        const path = `${dir}/${l.pl.program.name}`;
        k.objPin(l.fd, path, `pin program "${l.pl.program.name}"`);
        journal.pinned(path);
        progPins.set(l.pl.program.name, path);
      }
    }

    // ---- struct_ops registration, freplace attachment ----
    const mapLinks = registerStructOps(k, obj, structOps.values(), (i) => placeholders[i], progFd, undo);
    const progLinkPins = new Map<string, string>();
    if (replace) {
      for (const l of loaded) {
        const id = replace.get(l.pl.program.name);
        if (id === undefined) continue;
        l.linkFd = k.linkCreate({ prog_fd: l.fd, target_fd: opts.replaceTargetFd, attach_type: 0, target_btf_id: id }, `freplace "${l.pl.program.name}"`);
        if (opts.pinProgramsDir) {
          const path = `${opts.pinProgramsDir.replace(/\/+$/, '')}/${l.pl.program.name}_link`;
          k.objPin(l.linkFd, path, `pin link of "${l.pl.program.name}"`);
          journal.pinned(path);
          progLinkPins.set(l.pl.program.name, path);
        }
      }
    }

    // ---- result ----
    const programs: LoadedProgram[] = loaded.map((l) => {
      const info = k.progInfo(l.fd);
      const p = l.pl.program;
      return {
        name: p.name, section: p.section, type: p.progType, fd: l.fd, id: info.id, verifiedInsns: info.verifiedInsns,
        ...(progPins.has(p.name) ? { pinnedAt: progPins.get(p.name) } : {}), ...(l.log ? { log: l.log } : {}),
        ...(l.linkFd !== undefined ? { linkFd: l.linkFd } : {}), ...(progLinkPins.has(p.name) ? { linkPinnedAt: progLinkPins.get(p.name) } : {}),
      };
    });
    const maps: LoadedMap[] = created.map((c) => {
      const info = k.mapInfo(c.fd);
      return {
        name: c.map.name, kernelName: c.map.kernelName, fd: c.fd, id: info.id, type: mapTypeName(info.type),
        keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, flags: info.mapFlags,
        ...(c.pinnedAt ? { pinnedAt: c.pinnedAt } : {}), ...(c.reused ? { reused: true } : {}),
        ...(mapLinks.has(c.map.name) ? { linkFd: mapLinks.get(c.map.name) } : {}),
      };
    });
    progress('done', `${programs.length} programs, ${maps.length} maps`);
    tracker.stop();
    target.close();
    const unregister = undo.slice();
    let closed = false;
    return {
      object: obj, programs, maps, ...(btfFd !== undefined ? { btfFd } : {}), coreReports, warnings,
      close(): void {
        if (closed) return;
        closed = true;
        for (const u of unregister.reverse()) {
          try { u(); } catch { /* already gone */ }
        }
        for (const p of programs) {
          if (p.linkFd !== undefined) k.closeFd(p.linkFd);
          k.closeFd(p.fd);
        }
        for (const m of maps) {
          if (m.linkFd !== undefined) k.closeFd(m.linkFd);
          k.closeFd(m.fd);
        }
        if (btfFd !== undefined) k.closeFd(btfFd);
      },
    };
  } catch (e) {
    for (const u of undo.reverse()) {
      try { u(); } catch { /* best effort */ }
    }
    journal.undo();
    target.close();
    tracker.closeAll();
    tracker.stop();
    throw asLoadError(e, stage);
  }
}

/** The CO-RE report of the relocation at linked instruction `insn` (inside `part`). */
function reportAt(obj: BpfObject, part: LinkedProgram['parts'][number], insn: number, reports: readonly CoreReloReport[]): CoreReloReport | undefined {
  const sec = obj.elf.sections[part.fn.sectionIndex]?.name;
  const secInsn = part.fn.insnOffset + insn - part.start;
  return reports.find((x) => (x as CoreReloReport & { section?: string }).section === sec && x.sectionInsnIndex === secInsn);
}

/**
 * A rejection on a poisoned instruction says which CO-RE relocation (local type, access, what the
 * target lacks) or which weak kfunc it was, instead of libbpf's `unknown#195896080`.
 */
function withPoisonExplained<T>(obj: BpfObject, linked: LinkedProgram, reports: readonly CoreReloReport[], load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (!(e instanceof LoadError) || e.details.insn === undefined || !e.details.log) throw e;
    const m = /invalid func unknown#(\d+)/.exec(e.details.log);
    if (!m) throw e;
    const insn = e.details.insn;
    const part = linked.parts.find((p) => insn >= p.start && insn < p.start + p.fn.insnCount);
    let why: string | undefined;
    if (Number(m[1]) === BAD_RELO_CALL_IMM && part) {
      const r = reportAt(obj, part, insn, reports);
      if (r) why = `CO-RE relocation #${r.index} ${r.kindName} of ${r.localType} (${r.access}) did not resolve on this kernel: ${r.message ?? r.status}`;
    } else if (Number(m[1]) >= POISON_CALL_KFUNC_BASE) {
      const x = obj.externs[Number(m[1]) - POISON_CALL_KFUNC_BASE];
      if (x) why = `weak kfunc '${x.name}' is missing on this kernel and its call is reachable (guard it with bpf_ksym_exists())`;
    }
    if (!why) throw e;
    // A poisoned relocation points at the C line that names its field (see relocateCore).
    const source = Number(m[1]) === BAD_RELO_CALL_IMM && part ? reportAt(obj, part, insn, reports)?.source : undefined;
    throw new LoadError(`${e.message.replace(/ — a CO-RE relocation.*?(?= \(instruction)| — a call to a weak kfunc.*?(?= \(instruction)/, '')}\n  ${why}`, e.stage, source ? { ...e.details, source } : e.details);
  }
}
