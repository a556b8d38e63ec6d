/**
 * The load stages that make kernel objects (libbpf's bpf_object__load after prepare):
 * sanitise and load the object's BTF, create the maps onto their placeholders, load each
 * program, fill prog-array / map-in-map slots, pin, register struct_ops and attach freplace,
 * and the result. Each is one function over the LoadContext; index.ts calls them in order.
 */
import { writeBtf } from '../btf/write';
import { BAD_RELO_CALL_IMM, type CoreReloReport, POISON_CALL_KFUNC_BASE } from '../core';
import { type Fd, isKernelError } from '../kernel';
import { BPF_F_LINK, BPF_MAP_TYPE } from '../common/uapi';
import { mapTypeName } from '../object';
import type { BpfObject } from '../object/model';
import { registerStructOps, replaceSlots, structOpsValue } from './attach';
import type { LoadContext, Planned } from './context';
import { encodeFuncInfo, encodeLineInfo } from './ext-info';
import type { LinkedProgram } from './link-subprogs';
import { createMap, type MapEnv } from './maps';
import { parentDir } from './pin';
import { findAttachTarget, loadProgram, rejectionMoved } from './programs';
import { fixupObjectBtf, sanitizeBtf } from './sanitize-btf';
import type { StructOpsPlan } from './struct-ops';
import { LoadError, type LoadedMap, type LoadedProgram, type LoadOptions, type LoadResult } from './types';

/** Program types that cannot load without the object's BTF (libbpf's kernel_needs_btf, widened). */
const NEEDS_BTF = new Set(['struct_ops', 'ext']);

/** Stage 'btf': the object's BTF fixed up, sanitised for this kernel and loaded (dropped, as libbpf, when refused and not needed). */
export function loadObjectBtf(cx: LoadContext): void {
  const { obj, target, objBtf } = cx;
  if (!objBtf || !target.has('btf')) return;
  const sanitized = sanitizeBtf(fixupObjectBtf(obj, objBtf), target.btfFeatures());
  try {
    cx.btfFd = cx.k.btfLoad(writeBtf(sanitized), { log: { level: 0 }, context: `BTF of ${obj.name}` }).fd;
  } catch (e) {
    const needs = obj.structOps.length > 0 || cx.progs.some((p) => NEEDS_BTF.has(p.progType));
    if (needs || !isKernelError(e))
      throw new LoadError(`the object's BTF was refused by the kernel: ${(e as Error).message}`, 'btf', {
        cause: e,
        log: isKernelError(e) ? e.log : undefined,
      });
    cx.warnings.push(`the object's BTF was refused (${e.errnoName}); loading without it, as libbpf does`);
  }
}

/** Where maps with `pinning = LIBBPF_PIN_BY_NAME` are pinned (libbpf's default root). */
function pinRootOf(opts: LoadOptions): string {
  return opts.pinRoot ?? '/sys/fs/bpf';
}

/** `--pin DIR` without its trailing slashes, when given. */
function programsPinDir(opts: LoadOptions): string | undefined {
  return opts.pinProgramsDir === undefined ? undefined : opts.pinProgramsDir.replace(/\/+$/, '') || '/';
}

/** Stage 'maps': each map created (or a pinned one reused) onto its placeholder, data maps filled and frozen. */
export function createMaps(cx: LoadContext): void {
  const { obj, target, opts } = cx;
  const env: MapEnv = {
    kernel: cx.k,
    btfFd: cx.btfFd,
    nrCpus: obj.maps.some((m) => m.typeId === BPF_MAP_TYPE.BPF_MAP_TYPE_PERF_EVENT_ARRAY) ? target.nrCpus() : 1,
    pageSize: target.pageSize(),
    names: target.has('prog_name'),
    mmap: target.has('array_mmap'),
    pinRoot: pinRootOf(opts),
    journal: cx.journal,
    structOps: cx.structOps,
    kernelBtfFd: (n) => target.btfFd(n),
  };
  cx.created = obj.maps.map((m, i) => {
    const data = m.kind === 'kconfig' ? cx.ext.kconfigData : (cx.sets.get(m.name) ?? m.initialData);
    return createMap(m, cx.placeholders[i], env, m.kind === 'btf' || m.kind === 'legacy' ? undefined : data);
  });
}

/** attach_btf_id, its module's BTF FD, the program to replace, expected_attach_type: where a program hooks in. */
function attachAttrs(cx: LoadContext, pl: Planned, slotOf: ReadonlyMap<string, { plan: StructOpsPlan; memberIndex: number }>) {
  const p = pl.program;
  const { target } = cx;
  const so = slotOf.get(p.name);
  if (so) {
    return {
      attachBtfId: so.plan.kernel.typeId,
      expectedAttachType: so.memberIndex,
      attachBtfObjFd: so.plan.kernel.btfName !== 'vmlinux' ? target.btfFd(so.plan.kernel.btfName) : undefined,
    };
  }
  if (p.progType === 'ext') {
    if (!cx.replace)
      throw new LoadError(
        `program '${p.name}': SEC("${p.section}") replaces a function of a loaded program: name it (--replace PROG_ID|PINNED_PATH)`,
        'programs',
        { program: p.name },
      );
    return { attachProgFd: cx.opts.replaceTargetFd, attachBtfId: cx.replace.get(p.name) };
  }
  const at = findAttachTarget(p, () => target.kernelBtfs());
  if (!at) return {};
  return { attachBtfId: at.btfId, attachBtfObjFd: at.btfName !== 'vmlinux' ? target.btfFd(at.btfName) : undefined };
}

/** Stage 'programs': each program loaded (a turn for the caller before each one). */
export function* loadPrograms(cx: LoadContext): Generator<void, void, void> {
  const { obj, target, opts } = cx;
  const kernVersion = obj.kernVersion || target.kernelVersion();
  const slotOf = new Map<string, { plan: StructOpsPlan; memberIndex: number }>();
  for (const plan of cx.structOps.values()) for (const s of plan.slots) slotOf.set(s.program, { plan, memberIndex: s.memberIndex });
  if (opts.replaceTargetFd !== undefined && cx.planned.some((pl) => pl.program.progType === 'ext')) cx.replace = replaceSlots(obj, opts);
  // func_info/line_info name FUNCs: without kernel support for them libbpf sends neither
  const withBtf = cx.btfFd !== undefined && target.has('btf_func');
  for (const pl of cx.planned) {
    const p = pl.program;
    yield* cx.enter('programs', p.name);
    const at = attachAttrs(cx, pl, slotOf);
    const r = withPoisonExplained(obj, pl.linked, cx.coreReports, () =>
      loadProgram(cx.k, {
        program: p,
        insns: pl.linked.insns,
        license: obj.license,
        kernVersion,
        btfFd: cx.btfFd,
        funcInfo: withBtf && pl.funcInfo ? encodeFuncInfo(pl.funcInfo) : undefined,
        lineInfo: withBtf && pl.lines.length ? encodeLineInfo(pl.lines) : undefined,
        lines: pl.lines,
        partStarts: pl.linked.parts.map((x) => x.start),
        ...at,
        fdArray: cx.ext.fdArray.length ? cx.ext.fdArray : undefined,
        logLevel: opts.logLevel ?? 0,
        names: target.has('prog_name'),
      }),
    );
    cx.loaded.push({ pl, fd: r.fd, log: r.log });
    bindReadOnlyData(cx, r.fd, p.name);
  }
}

/**
 * libbpf binds every `.rodata*` map to every program it loads (BPF_PROG_BIND_MAP), so the
 * program holds them (and `bpf_metadata_*` shows) though no instruction names them. A kernel
 * without the command: nothing bound, as libbpf, which does not fail the load for it.
 */
function bindReadOnlyData(cx: LoadContext, prog: Fd, name: string): void {
  cx.obj.maps.forEach((m, i) => {
    if (m.kind !== 'rodata') return;
    try {
      cx.k.progBindMap(prog, cx.placeholders[i], `program '${name}', map '${m.name}'`);
    } catch (e) {
      if (!isKernelError(e)) throw e;
      cx.warnings.push(`program '${name}': could not bind map '${m.name}' (${e.errnoName})`);
    }
  });
}

/** prog-array and map-in-map slots from `.rel.maps` (libbpf's init_prog_array_slots / init_map_in_map_slots). */
export function fillSlots(cx: LoadContext): void {
  const { obj, placeholders } = cx;
  cx.created.forEach((c, i) => {
    for (const s of c.map.initialSlots ?? []) {
      const isProgArray = c.map.typeId === BPF_MAP_TYPE.BPF_MAP_TYPE_PROG_ARRAY;
      const fd = isProgArray ? cx.progFd(s.target) : placeholders[obj.maps.findIndex((m) => m.name === s.target)];
      if (fd === undefined) {
        cx.warnings.push(`map '${c.map.name}' slot ${s.index}: program '${s.target}' was not loaded; slot left empty`);
        continue;
      }
      const key = Buffer.alloc(4);
      key.writeUInt32LE(s.index);
      const val = Buffer.alloc(4);
      val.writeUInt32LE(fd);
      try {
        cx.k.mapUpdateElem(placeholders[i], key, val);
      } catch (e) {
        throw new LoadError(`map '${c.map.name}': setting slot ${s.index} to '${s.target}' failed: ${(e as Error).message}`, 'maps', {
          cause: e,
        });
      }
    }
  });
}

/**
 * First of all: the temporary pins dead loads left where this load pins (the pin root when a map
 * is pinned by name; `--pin DIR` and the folder it goes in) are removed.
 */
export function sweepPinDirs(cx: LoadContext): void {
  const { obj, opts, journal } = cx;
  const dirs: string[] = [];
  if (obj.maps.some((m) => m.pinning === 'by_name')) dirs.push(pinRootOf(opts));
  const dir = programsPinDir(opts);
  if (dir !== undefined) dirs.push(dir, parentDir(dir));
  journal.sweepAhead(dirs);
}

/** Stage 'pin': maps pinned by name, and programs under `--pin DIR`, under temporary names until commitPins. */
export function pinObjects(cx: LoadContext): void {
  const { journal, opts } = cx;
  for (const c of cx.created) {
    if (!c.pinnedAt || c.reused) continue;
    journal.pin(c.fd, c.pinnedAt, `pin map "${c.map.name}"`);
  }
  const dir = programsPinDir(opts);
  if (dir === undefined) return;
  journal.stageDir(dir);
  for (const l of cx.loaded) {
    const path = `${dir}/${l.pl.program.name}`;
    journal.pin(l.fd, path, `pin program "${l.pl.program.name}"`);
    cx.progPins.set(l.pl.program.name, path);
  }
}

/**
 * struct_ops values filled with program FDs (registered only with `registerStructOps`: libbpf
 * registers at attach); freplace programs attached to their targets (links pinned under `--pin DIR`).
 */
export function attachObjects(cx: LoadContext): void {
  const { k, obj, opts } = cx;
  for (const plan of cx.structOps.values()) {
    const notLoaded: string[] = [];
    const value = structOpsValue(plan, (n) => cx.progFd(n), notLoaded);
    if (notLoaded.length)
      cx.warnings.push(`struct_ops map '${plan.map.name}': ${notLoaded.join(', ')} not loaded; registering it will fail`);
    cx.structOpsValues.set(plan.map.name, { value, link: (plan.map.flags & BPF_F_LINK) !== 0, ...(notLoaded.length ? { notLoaded } : {}) });
  }
  if (opts.registerStructOps)
    cx.mapLinks = registerStructOps(
      k,
      obj,
      cx.structOps.values(),
      (i) => cx.placeholders[i],
      (n) => cx.progFd(n),
      cx.undo,
    );
  if (!cx.replace) return;
  for (const l of cx.loaded) {
    const id = cx.replace.get(l.pl.program.name);
    if (id === undefined) continue;
    l.linkFd = k.linkCreate(
      { prog_fd: l.fd, target_fd: opts.replaceTargetFd, attach_type: 0, target_btf_id: id },
      `freplace "${l.pl.program.name}"`,
    );
    if (opts.pinProgramsDir) {
      const path = `${opts.pinProgramsDir.replace(/\/+$/, '')}/${l.pl.program.name}_link`;
      cx.journal.pin(l.linkFd, path, `pin link of "${l.pl.program.name}"`);
      cx.progLinkPins.set(l.pl.program.name, path);
    }
  }
}

/** Every pin of the load appears under its final name (renames, in one go at the end). */
export function commitPins(cx: LoadContext): void {
  cx.journal.commit();
}

/** What the load made, read back from the kernel (ids, verified instructions, sizes), with close(). */
export function loadResult(cx: LoadContext): LoadResult {
  const { k, obj } = cx;
  const programs: LoadedProgram[] = cx.loaded.map((l) => {
    const info = k.progInfo(l.fd);
    const p = l.pl.program;
    return {
      name: p.name,
      section: p.section,
      type: p.progType,
      fd: l.fd,
      id: info.id,
      verifiedInsns: info.verifiedInsns,
      ...(cx.progPins.has(p.name) ? { pinnedAt: cx.progPins.get(p.name) } : {}),
      ...(l.log ? { log: l.log } : {}),
      ...(l.linkFd !== undefined ? { linkFd: l.linkFd } : {}),
      ...(cx.progLinkPins.has(p.name) ? { linkPinnedAt: cx.progLinkPins.get(p.name) } : {}),
    };
  });
  const maps: LoadedMap[] = cx.created.map((c) => {
    const info = k.mapInfo(c.fd);
    return {
      name: c.map.name,
      kernelName: c.map.kernelName,
      fd: c.fd,
      id: info.id,
      type: mapTypeName(info.type),
      keySize: info.keySize,
      valueSize: info.valueSize,
      maxEntries: info.maxEntries,
      flags: info.mapFlags,
      ...(c.pinnedAt ? { pinnedAt: c.pinnedAt } : {}),
      ...(c.reused ? { reused: true } : {}),
      ...(cx.mapLinks.has(c.map.name) ? { linkFd: cx.mapLinks.get(c.map.name) } : {}),
      ...(cx.structOpsValues.has(c.map.name) ? { structOps: cx.structOpsValues.get(c.map.name) } : {}),
    };
  });
  cx.opts.onProgress?.('done', `${programs.length} programs, ${maps.length} maps`);
  cx.stage = 'done';
  return {
    object: obj,
    programs,
    maps,
    ...(cx.btfFd !== undefined ? { btfFd: cx.btfFd } : {}),
    coreReports: cx.coreReports,
    warnings: cx.warnings,
    close: closer(cx, programs, maps),
  };
}

/** LoadResult.close: unregister struct_ops, close links, programs, maps and BTF (pins stay). */
function closer(cx: LoadContext, programs: readonly LoadedProgram[], maps: readonly LoadedMap[]): () => void {
  const { k, btfFd } = cx;
  const unregister = cx.undo.slice();
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    for (const u of unregister.reverse()) {
      try {
        u();
      } catch {
        // already gone
      }
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
  };
}

/** The CO-RE report of the relocation at linked instruction `insn` (inside `part`). */
function reportAt(
  obj: BpfObject,
  part: LinkedProgram['parts'][number],
  insn: number,
  reports: readonly CoreReloReport[],
): CoreReloReport | undefined {
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
      if (r)
        why = `CO-RE relocation #${r.index} ${r.kindName} of ${r.localType} (${r.access}) did not resolve on this kernel: ${r.message ?? r.status}`;
    } else if (Number(m[1]) >= POISON_CALL_KFUNC_BASE) {
      const x = obj.externs[Number(m[1]) - POISON_CALL_KFUNC_BASE];
      if (x) why = `weak kfunc '${x.name}' is missing on this kernel and its call is reachable (guard it with bpf_ksym_exists())`;
    }
    if (!why) throw e;
    // A poisoned relocation points at the C line that names its field (see relocateCore).
    const source = Number(m[1]) === BAD_RELO_CALL_IMM && part ? reportAt(obj, part, insn, reports)?.source : undefined;
    // The reason leads (a matrix cell shows the first line only); the verifier's words follow it.
    const raw = `invalid func unknown#${m[1]}`;
    const [head, ...rest] = e.message.split('\n');
    const first = head.includes(raw)
      ? head
          .replace(/ — a CO-RE relocation.*?(?= \(instruction)| — a call to a weak kfunc.*?(?= \(instruction)/, '')
          .replace(raw, `${why} (the verifier: ${raw})`)
      : `${head}\n  ${why}`;
    const message = [first, ...rest].join('\n');
    throw source ? rejectionMoved(e, message, source) : new LoadError(message, e.stage, e.details);
  }
}
