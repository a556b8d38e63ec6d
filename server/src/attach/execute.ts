/**
 * Carrying out one attach plan through KernelOps, choosing a link where the kernel has one and
 * the older mechanism where it does not (perf event ioctl, RAW_TRACEPOINT_OPEN, PROG_ATTACH).
 * Each step records how to undo what it did; a step that fails half-way undoes its own part.
 */
import { existsSync, readFileSync } from 'fs';
import { BPF_ATTACH_TYPE, PERF_COUNT_HW, PERF_COUNT_SW, PERF_TYPE, isKernelError, type Fd, type KernelOps } from '../kernel';
import { describePlan, type AttachKind, type AttachPlan } from './plan';
import type { Btf } from '../btf/btf';
import { legacyKprobeOpen } from './kprobe-legacy';
import { legacyFromEnv, tcAttach, type LegacyPath } from './tc';
import { functionFileOffset, functionsMatching, resolveBinary } from './uprobe';
import { usdtAttach } from './usdt-attach';
import type { UsdtSpecIds } from './usdt-spec';

/** How an attachment was made (what detach undoes). */
export type Mechanism =
  'link' | 'perf_event link' | 'perf_event ioctl' | 'raw_tracepoint_open' | 'prog_attach' | 'map update' | 'tc filter';

export interface Attachment {
  readonly program: string;
  readonly kind: AttachKind | 'struct_ops';
  /** Where, as the user reads it: `sched:sched_process_exec`, `veth0 ingress`, a cgroup path. */
  readonly target: string;
  readonly mechanism: Mechanism;
  /** The link FDs (one per CPU for perf_event programs). */
  readonly linkFds: readonly Fd[];
  readonly linkIds: readonly number[];
  /** Undo steps, newest first when run. */
  readonly undo: readonly (() => void)[];
}

/** What executing needs besides the kernel: files (uprobe binaries) and the object's maps. */
export interface ExecuteContext {
  readonly kernel: KernelOps;
  readonly mapFd?: (name: string) => Fd | undefined;
  readonly readFile?: (path: string) => Uint8Array;
  readonly exists?: (path: string) => boolean;
  readonly env?: { PATH?: string; LD_LIBRARY_PATH?: string };
  /** The object's BTF: the layout of libbpf's USDT spec struct as the object was compiled. */
  readonly btf?: Btf;
  /** USDT spec ids of the object's __bpf_usdt_specs, shared by every attach of one load. */
  readonly usdtIds?: UsdtSpecIds;
  /** Older mechanisms to use even where the kernel has the newer one (tests; default: BPF_LENS_LEGACY_ATTACH). */
  readonly legacy?: ReadonlySet<LegacyPath>;
}

const legacy = (cx: ExecuteContext): ReadonlySet<LegacyPath> => cx.legacy ?? legacyFromEnv();

const BPF_F_KPROBE_MULTI_RETURN = 1;
const FILTER_FUNCTIONS = ['/sys/kernel/tracing/available_filter_functions', '/sys/kernel/debug/tracing/available_filter_functions'];

/**
 * The kernel functions a kprobe.multi glob names, as libbpf finds them: the traceable ones
 * (available_filter_functions; `func [module]` lines, duplicates once). A name without
 * wildcards is passed as is (the kernel resolves it).
 */
function kprobeMultiSyms(cx: ExecuteContext, pattern: string, what: string): string[] {
  if (!/[*?]/.test(pattern)) return [pattern];
  const file = FILTER_FUNCTIONS.find((f) => (cx.exists ?? existsSync)(f));
  if (!file)
    throw new Error(`${what}: no available_filter_functions to match '${pattern}' against (tracefs missing: kprobes are off here)`);
  const re = new RegExp(`^${pattern.replace(/[.]/g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const text = Buffer.from((cx.readFile ?? readFileSync)(file)).toString('latin1');
  const syms = [
    ...new Set(
      text
        .split('\n')
        .map((l) => l.split(/\s/)[0])
        .filter((n) => n && re.test(n)),
    ),
  ];
  if (!syms.length) throw new Error(`${what}: no traceable kernel function matches '${pattern}'`);
  return syms;
}

const XDP_FLAGS = { generic: 1 << 1, native: 1 << 2, offload: 1 << 3 } as const;
const BPF_F_ALLOW_MULTI = 1 << 1;

/** Collects undo steps while a step runs; runs them (newest first) if the step fails. */
class Steps {
  readonly undo: (() => void)[] = [];
  add(f: () => void): void {
    this.undo.unshift(f);
  }
  rollback(): void {
    runUndo(this.undo);
  }
}

/** Runs undo steps, each once, carrying on past failures (the rest must still run). */
export function runUndo(undo: readonly (() => void)[]): string[] {
  const errors: string[] = [];
  for (const f of undo) {
    try {
      f();
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  return errors;
}

/** Attaches one program as planned; throws (with nothing left behind) on failure. */
export function executePlan(cx: ExecuteContext, program: string, progFd: Fd, plan: Exclude<AttachPlan, { kind: 'none' }>): Attachment {
  const s = new Steps();
  const links: Fd[] = [];
  try {
    const mechanism = run(cx, s, links, progFd, plan);
    const k = cx.kernel;
    const linkIds = links.map((fd) => k.linkInfo(fd).id);
    return { program, kind: plan.kind, target: describePlan(plan), mechanism, linkFds: links, linkIds, undo: s.undo };
  } catch (e) {
    s.rollback();
    throw e;
  }
}

function run(cx: ExecuteContext, s: Steps, links: Fd[], prog: Fd, plan: Exclude<AttachPlan, { kind: 'none' }>): Mechanism {
  const k = cx.kernel;
  const link = (fd: Fd): Fd => {
    s.add(() => k.closeFd(fd));
    links.push(fd);
    return fd;
  };
  const what = `${plan.kind} ${describePlan(plan)}`;
  switch (plan.kind) {
    case 'tracepoint': {
      const id = k.tracepointId(plan.category, plan.name);
      return perfAttach(k, s, links, prog, openPerf(k, s, { type: PERF_TYPE.TRACEPOINT, config: BigInt(id) }, -1, 0, what), what);
    }
    case 'raw_tp':
      link(k.rawTracepointOpen(prog, plan.name));
      return 'raw_tracepoint_open';
    case 'tracing':
      return tracingAttach(k, link, prog, plan.attachType, what);
    case 'iter':
      link(k.linkCreate({ prog_fd: prog, attach_type: BPF_ATTACH_TYPE.BPF_TRACE_ITER }, what));
      return 'link';
    case 'kprobe':
    case 'uprobe':
      return probeAttach(cx, s, links, prog, plan, what);
    case 'uprobe_multi':
      link(uprobeMultiLink(cx, prog, plan, what));
      return 'link';
    case 'usdt':
      return usdtAttach(cx, plan, what, {
        add: (f) => s.add(f),
        uprobe: (site) => uprobeAttach(k, s, links, prog, { ...site, retprobe: false }, what),
      });
    case 'kprobe_multi': {
      const syms = kprobeMultiSyms(cx, plan.pattern, what);
      const create = (attr: Parameters<KernelOps['linkCreate']>[0]) => {
        try {
          return k.linkCreate(attr, what);
        } catch (e) {
          if (isKernelError(e, 'ENOTSUP') || isKernelError(e, 'EOPNOTSUPP'))
            throw new Error(`${what}: this kernel has no multi-kprobe links (CONFIG_FPROBE, Linux 5.18+): ${(e as Error).message}`, {
              cause: e,
            });
          throw e;
        }
      };
      link(
        create({
          prog_fd: prog,
          attach_type: BPF_ATTACH_TYPE.BPF_TRACE_KPROBE_MULTI,
          // the return flag goes in kprobe_multi.flags (link_create.flags must stay 0)
          kprobeMulti: { syms, flags: plan.retprobe ? BPF_F_KPROBE_MULTI_RETURN : 0 },
        }),
      );
      return 'link';
    }
    case 'perf_event':
      return samplingAttach(k, s, links, prog, plan);
    case 'xdp':
      link(
        k.linkCreate(
          {
            prog_fd: prog,
            target_ifindex: k.ifIndex(plan.iface),
            attach_type: BPF_ATTACH_TYPE.BPF_XDP,
            flags: plan.mode ? XDP_FLAGS[plan.mode] : 0,
          },
          what,
        ),
      );
      return 'link';
    case 'tcx':
      return tcAttach({ kernel: k, undo: (f) => s.add(f), link, legacy: legacy(cx).has('tc') }, prog, plan, what);
    case 'cgroup':
    case 'netns':
      return targetFdAttach(k, s, link, prog, plan.kind === 'cgroup' ? 'cgroup' : 'netns', plan.path, plan.attachType, what);
    case 'sockmap': {
      const map = cx.mapFd?.(plan.map);
      if (map === undefined) throw new Error(`${what}: the object has no map '${plan.map}'`);
      return progAttachOnly(k, s, prog, map, plan.attachType, 0, what);
    }
  }
}

function openPerf(k: KernelOps, s: Steps, spec: Parameters<KernelOps['perfEventOpen']>[0], pid: number, cpu: number, what: string): Fd {
  const fd = k.perfEventOpen(spec, pid, cpu, what);
  s.add(() => k.closeFd(fd));
  return fd;
}

/**
 * A perf event runs the program through a perf link (with its BPF cookie), or (kernels before
 * 5.15, which have no cookies either) the SET_BPF ioctl.
 */
function perfAttach(k: KernelOps, s: Steps, links: Fd[], prog: Fd, pfd: Fd, what: string, cookie = 0n): Mechanism {
  let mechanism: Mechanism = 'perf_event link';
  try {
    const attr = { prog_fd: prog, target_fd: pfd, attach_type: BPF_ATTACH_TYPE.BPF_PERF_EVENT };
    const l = k.linkCreate(cookie ? { ...attr, perfEventCookie: cookie } : attr, what);
    s.add(() => k.closeFd(l));
    links.push(l);
  } catch (e) {
    if (!isKernelError(e, 'EINVAL') || cookie) throw e;
    k.perfEventIoctl(pfd, 'SET_BPF', prog, what);
    mechanism = 'perf_event ioctl';
  }
  k.perfEventIoctl(pfd, 'ENABLE', 0, what);
  s.add(() => k.perfEventIoctl(pfd, 'DISABLE', 0, what));
  return mechanism;
}

/** tp_btf/fentry/fexit/fmod_ret/lsm: a tracing link, or RAW_TRACEPOINT_OPEN on kernels before 5.x links. */
function tracingAttach(k: KernelOps, link: (fd: Fd) => Fd, prog: Fd, attachType: number, what: string): Mechanism {
  try {
    link(k.linkCreate({ prog_fd: prog, attach_type: attachType }, what));
    return 'link';
  } catch (e) {
    if (!isKernelError(e, 'EINVAL')) throw e;
    link(k.rawTracepointOpen(prog, undefined));
    return 'raw_tracepoint_open';
  }
}

function probeAttach(
  cx: ExecuteContext,
  s: Steps,
  links: Fd[],
  prog: Fd,
  plan: Extract<AttachPlan, { kind: 'kprobe' | 'uprobe' }>,
  what: string,
): Mechanism {
  const k = cx.kernel;
  const pmu = k.pmuInfo(plan.kind);
  if (plan.kind === 'kprobe' && (!pmu || legacy(cx).has('kprobe')))
    return perfAttach(
      k,
      s,
      links,
      prog,
      legacyKprobeOpen(k, (f) => s.add(f), plan, what),
      what,
    );
  if (!pmu) {
    throw new Error(
      `${what}: this kernel has no ${plan.kind} PMU (/sys/bus/event_source/devices/${plan.kind})${plan.kind === 'kprobe' ? ': kprobes are off here (CONFIG_KPROBE_EVENTS, or lockdown)' : ''}`,
    );
  }
  if (plan.retprobe && pmu.retprobeBit === undefined) throw new Error(`${what}: the ${plan.kind} PMU has no retprobe format bit`);
  const config = plan.retprobe ? 1n << BigInt(pmu.retprobeBit!) : 0n;
  if (plan.kind === 'kprobe') {
    return perfAttach(
      k,
      s,
      links,
      prog,
      openPerf(k, s, { type: pmu.type, config, probeName: plan.func, probeOffset: plan.offset }, -1, 0, what),
      what,
    );
  }
  const path = resolveBinary(plan.binary, cx.exists ?? existsSync, cx.env ?? process.env);
  const offset =
    plan.func !== undefined ? functionFileOffset((cx.readFile ?? readFileSync)(path), path, plan.func) + plan.offset : plan.offset;
  return uprobeAttach(
    k,
    s,
    links,
    prog,
    { path, offset, refCtrOffset: 0n, cookie: 0n, pid: plan.pid ?? -1, retprobe: plan.retprobe },
    what,
  );
}

/** A uprobe PMU event at a file offset (with a USDT semaphore as reference counter) running the program. */
function uprobeAttach(
  k: KernelOps,
  s: Steps,
  links: Fd[],
  prog: Fd,
  u: { path: string; offset: bigint; refCtrOffset: bigint; cookie: bigint; pid: number; retprobe: boolean },
  what: string,
): Mechanism {
  const pmu = k.pmuInfo('uprobe');
  if (!pmu) throw new Error(`${what}: this kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe)`);
  if (u.retprobe && pmu.retprobeBit === undefined) throw new Error(`${what}: the uprobe PMU has no retprobe format bit`);
  let config = u.retprobe ? 1n << BigInt(pmu.retprobeBit!) : 0n;
  if (u.refCtrOffset) {
    if (pmu.refCtrOffsetBit === undefined)
      throw new Error(`${what}: the probe has a semaphore and this kernel's uprobes take no reference counter (Linux 4.20+)`);
    config |= u.refCtrOffset << BigInt(pmu.refCtrOffsetBit);
  }
  const spec = { type: pmu.type, config, probeName: u.path, probeOffset: u.offset };
  return perfAttach(k, s, links, prog, openPerf(k, s, spec, u.pid, u.pid === -1 ? 0 : -1, what), what, u.cookie);
}

const BPF_F_UPROBE_MULTI_RETURN = 1;

/** uprobe.multi: one BPF_TRACE_UPROBE_MULTI link on every function the glob matches (Linux 6.6+). */
function uprobeMultiLink(cx: ExecuteContext, prog: Fd, plan: Extract<AttachPlan, { kind: 'uprobe_multi' }>, what: string): Fd {
  const path = resolveBinary(plan.binary, cx.exists ?? existsSync, cx.env ?? process.env);
  const funcs = functionsMatching((cx.readFile ?? readFileSync)(path), path, plan.pattern);
  const attr = {
    prog_fd: prog,
    attach_type: BPF_ATTACH_TYPE.BPF_TRACE_UPROBE_MULTI,
    uprobeMulti: {
      path,
      offsets: funcs.map((f) => f.offset),
      flags: plan.retprobe ? BPF_F_UPROBE_MULTI_RETURN : 0,
      ...(plan.pid !== undefined && plan.pid > 0 ? { pid: plan.pid } : {}),
    },
  };
  try {
    return cx.kernel.linkCreate(attr, what);
  } catch (e) {
    if (isKernelError(e, 'EINVAL') || isKernelError(e, 'EOPNOTSUPP') || isKernelError(e, 'ENOTSUP'))
      throw new Error(
        `${what}: the kernel refused a uprobe multi link (they need Linux 6.6+ with CONFIG_UPROBES): ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    throw e;
  }
}

const SAMPLING: Record<string, { type: number; config: number }> = {
  'cpu-clock': { type: PERF_TYPE.SOFTWARE, config: PERF_COUNT_SW.CPU_CLOCK },
  'task-clock': { type: PERF_TYPE.SOFTWARE, config: PERF_COUNT_SW.TASK_CLOCK },
  'page-faults': { type: PERF_TYPE.SOFTWARE, config: PERF_COUNT_SW.PAGE_FAULTS },
  'context-switches': { type: PERF_TYPE.SOFTWARE, config: PERF_COUNT_SW.CONTEXT_SWITCHES },
  cycles: { type: PERF_TYPE.HARDWARE, config: PERF_COUNT_HW.CPU_CYCLES },
  instructions: { type: PERF_TYPE.HARDWARE, config: PERF_COUNT_HW.INSTRUCTIONS },
  'cache-misses': { type: PERF_TYPE.HARDWARE, config: PERF_COUNT_HW.CACHE_MISSES },
  'branch-misses': { type: PERF_TYPE.HARDWARE, config: PERF_COUNT_HW.BRANCH_MISSES },
};

/** perf_event programs: one sampling event per online CPU, each with the program. */
function samplingAttach(k: KernelOps, s: Steps, links: Fd[], prog: Fd, plan: Extract<AttachPlan, { kind: 'perf_event' }>): Mechanism {
  const ev = SAMPLING[plan.event];
  let mechanism: Mechanism = 'perf_event link';
  for (const cpu of k.onlineCpus()) {
    const what = `perf_event ${plan.event} on CPU ${cpu}`;
    const pfd = openPerf(k, s, { type: ev.type, config: BigInt(ev.config), sampleFreq: BigInt(plan.freq) }, -1, cpu, what);
    mechanism = perfAttach(k, s, links, prog, pfd, what);
  }
  return mechanism;
}

/** cgroup and netns programs: a link on the directory's/namespace's FD, else PROG_ATTACH. */
function targetFdAttach(
  k: KernelOps,
  s: Steps,
  link: (fd: Fd) => Fd,
  prog: Fd,
  kind: 'cgroup' | 'netns',
  path: string,
  attachType: number,
  what: string,
): Mechanism {
  const target = k.openPath(path, kind);
  try {
    link(k.linkCreate({ prog_fd: prog, target_fd: target, attach_type: attachType }, what));
    k.closeFd(target); // the link holds the cgroup/netns
    return 'link';
  } catch (e) {
    if (!isKernelError(e, 'EINVAL')) {
      k.closeFd(target);
      throw e;
    }
  }
  s.add(() => k.closeFd(target));
  return progAttachOnly(k, s, prog, target, attachType, kind === 'cgroup' ? BPF_F_ALLOW_MULTI : 0, what);
}

function progAttachOnly(k: KernelOps, s: Steps, prog: Fd, target: Fd, attachType: number, flags: number, what: string): Mechanism {
  k.progAttach({ target_fd: target, attach_bpf_fd: prog, attach_type: attachType, attach_flags: flags }, what);
  // Detach names the program (several may share a multi-attach cgroup hook) and no flags.
  s.add(() => k.progDetach({ target_fd: target, attach_bpf_fd: prog, attach_type: attachType }, what));
  return 'prog_attach';
}

/** A loaded struct_ops map with its value (program FDs filled in) as the load left it. */
export interface StructOpsMap {
  readonly name: string;
  readonly fd: Fd;
  readonly value: Uint8Array;
  /** `.struct_ops.link`: registered through a BPF_STRUCT_OPS link, else by the value update. */
  readonly link: boolean;
  /** Members whose program was not loaded (`member -> program`): the map cannot register. */
  readonly notLoaded?: readonly string[];
}

/**
 * Registers a struct_ops map as libbpf's bpf_map__attach_struct_ops: the value update (which
 * registers a plain map; EBUSY on a link map whose value is already set is fine), then for
 * `.struct_ops.link` maps a link. Undo: close the link, or delete the value (unregister).
 */
export function attachStructOps(k: KernelOps, m: StructOpsMap): Attachment {
  const s = new Steps();
  const links: Fd[] = [];
  const what = `struct_ops map "${m.name}"`;
  const key = new Uint8Array(4);
  // libbpf puts the unloaded program's -EINVAL in the value and the kernel refuses it
  if (m.notLoaded?.length) throw new Error(`${what}: its programs ${m.notLoaded.join(', ')} were not loaded`);
  try {
    try {
      k.mapUpdateElem(m.fd, key, m.value);
    } catch (e) {
      if (!(m.link && isKernelError(e, 'EBUSY'))) throw e;
    }
    if (m.link) {
      const l = k.linkCreate({ prog_fd: m.fd, attach_type: BPF_ATTACH_TYPE.BPF_STRUCT_OPS }, what);
      s.add(() => k.closeFd(l));
      links.push(l);
    } else {
      s.add(() => k.mapDeleteElem(m.fd, key));
    }
    const linkIds = links.map((fd) => k.linkInfo(fd).id);
    return {
      program: m.name,
      kind: 'struct_ops',
      target: `map ${m.name}`,
      mechanism: m.link ? 'link' : 'map update',
      linkFds: links,
      linkIds,
      undo: s.undo,
    };
  } catch (e) {
    s.rollback();
    throw e;
  }
}
