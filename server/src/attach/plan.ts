/**
 * Where each program goes, decided from its SEC() name as libbpf's bpf_program__attach does,
 * and from a place the user gives (`--attach prog=WHERE`) for what libbpf cannot auto-attach
 * (xdp/tc on an interface, cgroup programs on a cgroup, sockmap programs on a map ...). Pure:
 * section name and text in, a plan out; nothing here touches a kernel or a file.
 */
import { secDefFor, type SecMatch } from '../object/section-defs';
import { attachTypeId } from '../object/uapi-names';

export type XdpMode = 'native' | 'generic' | 'offload';

/** What to attach a program to, by mechanism family. */
export type AttachPlan =
  | { readonly kind: 'tracepoint'; readonly category: string; readonly name: string }
  | { readonly kind: 'raw_tp'; readonly name: string }
  /** tp_btf, fentry/fexit/fmod_ret, lsm: a tracing link to the BTF target fixed at load. */
  | { readonly kind: 'tracing'; readonly attachType: number; readonly target: string }
  | { readonly kind: 'kprobe'; readonly func: string; readonly offset: bigint; readonly retprobe: boolean }
  /** kprobe.multi/kretprobe.multi: one link on every kernel function the glob matches. */
  | { readonly kind: 'kprobe_multi'; readonly pattern: string; readonly retprobe: boolean }
  | {
      readonly kind: 'uprobe';
      readonly binary: string;
      readonly func?: string;
      readonly offset: bigint;
      readonly retprobe: boolean;
      readonly pid?: number;
    }
  /** uprobe.multi/uretprobe.multi: one link on every function of the binary the glob matches. */
  | { readonly kind: 'uprobe_multi'; readonly binary: string; readonly pattern: string; readonly retprobe: boolean; readonly pid?: number }
  /** usdt: one uprobe per site of PROVIDER:NAME in the binary, libbpf's USDT spec maps filled. */
  | { readonly kind: 'usdt'; readonly binary: string; readonly provider: string; readonly name: string; readonly pid?: number }
  | { readonly kind: 'iter'; readonly target: string }
  | { readonly kind: 'perf_event'; readonly event: string; readonly freq: number }
  | { readonly kind: 'xdp'; readonly iface: string; readonly mode?: XdpMode }
  | { readonly kind: 'tcx'; readonly iface: string; readonly direction: 'ingress' | 'egress' }
  | { readonly kind: 'cgroup'; readonly path: string; readonly attachType: number }
  | { readonly kind: 'netns'; readonly path: string; readonly attachType: number }
  | { readonly kind: 'sockmap'; readonly map: string; readonly attachType: number }
  /** Nothing to do: libbpf would not attach it and no place was given (the reason says why). */
  | { readonly kind: 'none'; readonly reason: string };

export type AttachKind = AttachPlan['kind'];

/** A program as the planner sees it. */
export interface PlanInput {
  readonly name: string;
  readonly section: string;
}

/** A section or a place that cannot be attached as written: says which program and why. */
export class AttachPlanError extends Error {
  constructor(
    readonly program: string,
    message: string,
  ) {
    super(`program '${program}': ${message}`);
    this.name = 'AttachPlanError';
  }
}

/** `func+0x10` / `func+16` / `func` → name and offset. */
export function parseFuncOffset(text: string): { func: string; offset: bigint } | undefined {
  const m = /^([A-Za-z_.$][\w.$@]*)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(text);
  return m ? { func: m[1], offset: m[2] ? BigInt(m[2]) : 0n } : undefined;
}

/** `binary:func[+off]` or `binary:0x1234` (a file offset), as libbpf's uprobe SEC names write it. */
export function parseUprobeTarget(text: string): { binary: string; func?: string; offset: bigint } | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || colon === text.length - 1) return undefined;
  const binary = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(rest)) return { binary, offset: BigInt(rest) };
  const fo = parseFuncOffset(rest);
  return fo && { binary, ...fo };
}

const PERF_EVENTS = new Set([
  'cpu-clock',
  'task-clock',
  'cycles',
  'instructions',
  'cache-misses',
  'branch-misses',
  'page-faults',
  'context-switches',
]);

/** `binary:glob` (uprobe.multi SEC names and places): the binary up to the first ':', as libbpf splits it. */
export function parseUprobeMultiTarget(text: string): { binary: string; pattern: string } | undefined {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) return undefined;
  return { binary: text.slice(0, colon), pattern: text.slice(colon + 1) };
}

/** `binary:provider:name` (usdt SEC names and places); the binary may itself hold ':'. */
export function parseUsdtTarget(text: string): { binary: string; provider: string; name: string } | undefined {
  const m = /^(.+):([^:/]+):([^:/]+)$/.exec(text);
  return m ? { binary: m[1], provider: m[2], name: m[3] } : undefined;
}

/** `[event][@freq]` for perf_event programs: cpu-clock at 99 Hz unless said. */
export function parsePerfPlace(text: string): { event: string; freq: number } | undefined {
  const m = /^([a-z-]*)(?:@(\d+))?$/.exec(text);
  if (!m) return undefined;
  const event = m[1] || 'cpu-clock';
  const freq = m[2] ? Number(m[2]) : 99;
  return PERF_EVENTS.has(event) && freq > 0 ? { event, freq } : undefined;
}

function need(p: PlanInput, what: string, example: string): AttachPlan {
  return { kind: 'none', reason: `'${p.section}' is not attached automatically: give ${what} (--attach ${p.name}=${example})` };
}

/** Plans one program: its SEC() name, and the user's place for it when there is one. */
export function planAttach(p: PlanInput, where?: string): AttachPlan {
  const m = secDefFor(p.section);
  if (!m) throw new AttachPlanError(p.name, `section '${p.section}' is not one libbpf knows: no way to attach it`);
  const bad = (why: string): never => {
    throw new AttachPlanError(p.name, why);
  };
  const prefix = m.def.sec.replace(/\+$/, '');
  switch (m.def.progType) {
    case 'tracepoint':
      return planTracepoint(p, m, where, bad);
    case 'raw_tracepoint':
    case 'raw_tracepoint_writable': {
      const name = where ?? m.attachTo;
      return name ? { kind: 'raw_tp', name } : need(p, 'a raw tracepoint', 'sched_switch');
    }
    case 'tracing':
    case 'lsm':
      if (prefix.startsWith('iter')) return { kind: 'iter', target: m.attachTo ?? '' };
      if (m.def.attachType === 'lsm_cgroup') return cgroupPlace(p, m, where, bad);
      return { kind: 'tracing', attachType: m.attachTypeId, target: m.attachTo ?? '' };
    case 'kprobe':
      return planProbe(p, m, prefix, where, bad);
    case 'perf_event': {
      if (where === undefined) return need(p, 'an event and frequency', 'cpu-clock@99');
      const pe = parsePerfPlace(where);
      return pe ? { kind: 'perf_event', ...pe } : bad(`'${where}' is not [event][@freq] (events: ${[...PERF_EVENTS].join(', ')})`);
    }
    case 'xdp':
      return planXdp(p, m, where, bad);
    case 'sched_cls':
      return planTc(p, m, where, bad);
    case 'cgroup_skb':
    case 'cgroup_sock':
    case 'cgroup_sock_addr':
    case 'cgroup_sysctl':
    case 'cgroup_sockopt':
    case 'cgroup_device':
    case 'sock_ops':
      return cgroupPlace(p, m, where, bad);
    case 'flow_dissector':
    case 'sk_lookup':
      if (where === undefined) return need(p, 'a network namespace', '/proc/self/ns/net');
      return { kind: 'netns', path: netnsPath(where), attachType: m.attachTypeId };
    case 'sk_msg':
    case 'sk_skb': {
      if (where === undefined) return need(p, 'a sockmap/sockhash map of the object', 'sock_map');
      const at = m.attachTypeId || attachTypeId('sk_skb_stream_verdict');
      return { kind: 'sockmap', map: where, attachType: at };
    }
    case 'struct_ops':
      return { kind: 'none', reason: 'a struct_ops program runs when its struct_ops map is registered' };
    case 'ext':
      return { kind: 'none', reason: 'freplace programs are attached by the load (--replace)' };
    default:
      if (where !== undefined) bad(`${m.def.progType} programs cannot be attached by BPF Lens (test-run them instead)`);
      return { kind: 'none', reason: `${m.def.progType} programs are not attached (libbpf has no auto-attach for '${p.section}')` };
  }
}

function planTracepoint(p: PlanInput, m: SecMatch, where: string | undefined, bad: (why: string) => never): AttachPlan {
  const text = where ?? m.attachTo;
  if (!text) return need(p, 'a tracepoint', 'syscalls:sys_enter_getpid');
  const parts = text.split(/[/:]/);
  if (parts.length !== 2 || !parts[0] || !parts[1]) return bad(`'${text}' is not category/name (tracepoint/syscalls/sys_enter_openat)`);
  return { kind: 'tracepoint', category: parts[0], name: parts[1] };
}

function planProbe(p: PlanInput, m: SecMatch, prefix: string, where: string | undefined, bad: (why: string) => never): AttachPlan {
  const retprobe = /^(kretprobe|uretprobe|kretsyscall)/.test(prefix);
  if (prefix === 'kprobe.multi' || prefix === 'kretprobe.multi') {
    const pattern = where ?? m.attachTo;
    if (!pattern) return need(p, 'a function glob', 'tcp_*');
    if (!/^[A-Za-z0-9_.*?]+$/.test(pattern)) return bad(`'${pattern}' is not a kernel function glob (letters, digits, _ . * ?)`);
    return { kind: 'kprobe_multi', pattern, retprobe };
  }
  if (/^u(ret)?probe\.multi/.test(prefix)) {
    const text = where ?? m.attachTo;
    if (!text) return need(p, 'binary:function-glob', '/usr/bin/bash:read*');
    const t = parseUprobeMultiTarget(text);
    return t ? { kind: 'uprobe_multi', ...t, retprobe } : bad(`'${text}' is not binary:function-glob`);
  }
  if (prefix.includes('.multi') || prefix.includes('.session')) return bad(`'${prefix}' (multi probes) is not attached by BPF Lens yet`);
  if (m.def.usdt) {
    const text = where ?? m.attachTo;
    if (!text) return need(p, 'binary:provider:name', '/usr/bin/python3:python:function__entry');
    const t = parseUsdtTarget(text);
    return t ? { kind: 'usdt', ...t } : bad(`'${text}' is not binary:provider:name`);
  }
  if (prefix.startsWith('u')) {
    const text = where ?? m.attachTo;
    if (!text) return need(p, 'binary:function', '/usr/bin/bash:readline');
    const t = parseUprobeTarget(text);
    return t ? { kind: 'uprobe', ...t, retprobe } : bad(`'${text}' is not binary:function[+offset]`);
  }
  const text = where ?? m.attachTo;
  if (!text) return need(p, 'a kernel function', 'do_unlinkat');
  const fo = parseFuncOffset(text);
  if (!fo) return bad(`'${text}' is not function[+offset]`);
  // ksyscall: the arch's syscall wrapper, as libbpf names it on x86-64/arm64.
  if (prefix.startsWith('ksyscall') || prefix.startsWith('kretsyscall'))
    return { kind: 'kprobe', func: `__x64_sys_${fo.func}`, offset: 0n, retprobe };
  return { kind: 'kprobe', ...fo, retprobe };
}

function planXdp(p: PlanInput, m: SecMatch, where: string | undefined, bad: (why: string) => never): AttachPlan {
  if (m.def.attachType === 'xdp_devmap' || m.def.attachType === 'xdp_cpumap')
    return { kind: 'none', reason: `'${p.section}' runs from a ${m.def.attachType.slice(4)} entry, not an interface` };
  if (where === undefined) return need(p, 'an interface', 'eth0');
  const [iface, mode, ...rest] = where.split(':');
  if (!iface || rest.length) bad(`'${where}' is not interface[:native|generic|offload]`);
  if (mode !== undefined && mode !== 'native' && mode !== 'generic' && mode !== 'offload')
    bad(`XDP mode '${mode}' is not native, generic or offload`);
  return { kind: 'xdp', iface, mode: mode as XdpMode | undefined };
}

function planTc(p: PlanInput, m: SecMatch, where: string | undefined, bad: (why: string) => never): AttachPlan {
  if (m.def.attachType?.startsWith('netkit')) return bad('netkit programs are not attached by BPF Lens yet');
  if (where === undefined) return need(p, 'an interface', 'eth0');
  const [iface, dir, ...rest] = where.split(':');
  const fromSec = m.def.attachType === 'tcx_ingress' ? 'ingress' : m.def.attachType === 'tcx_egress' ? 'egress' : undefined;
  const direction = dir ?? fromSec;
  if (!iface || rest.length || (direction !== 'ingress' && direction !== 'egress')) {
    return bad(`'${where}' is not interface:ingress or interface:egress${fromSec ? '' : ` ('${p.section}' does not say which)`}`);
  }
  return { kind: 'tcx', iface, direction };
}

function cgroupPlace(p: PlanInput, m: SecMatch, where: string | undefined, bad: (why: string) => never): AttachPlan {
  if (where === undefined) return need(p, 'a cgroup (v2) directory', '/sys/fs/cgroup/unified/my');
  if (!where.startsWith('/')) bad(`'${where}' is not a cgroup directory path (absolute)`);
  if (!m.attachTypeId) bad(`'${p.section}' does not say which cgroup hook (use e.g. cgroup_skb/ingress)`);
  return { kind: 'cgroup', path: where, attachType: m.attachTypeId };
}

/** A netns given as a path, or as a name `ip netns` knows. */
function netnsPath(where: string): string {
  return where.startsWith('/') ? where : `/var/run/netns/${where}`;
}

/** Parses `--attach PROG=WHERE` values (later ones win). */
export function parsePlaces(values: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new Error(`--attach '${v}' is not PROG=WHERE`);
    out.set(v.slice(0, eq), v.slice(eq + 1));
  }
  return out;
}

/** One line saying where a plan goes (what `run` prints and JSON's "target"). */
export function describePlan(plan: AttachPlan): string {
  switch (plan.kind) {
    case 'tracepoint':
      return `${plan.category}:${plan.name}`;
    case 'raw_tp':
      return plan.name;
    case 'tracing':
    case 'iter':
      return plan.target;
    case 'kprobe':
      return `${plan.func}${plan.offset ? `+0x${plan.offset.toString(16)}` : ''}`;
    case 'kprobe_multi':
      return plan.pattern;
    case 'uprobe':
      return `${plan.binary}:${plan.func ?? `0x${plan.offset.toString(16)}`}${plan.func && plan.offset ? `+0x${plan.offset.toString(16)}` : ''}`;
    case 'uprobe_multi':
      return `${plan.binary}:${plan.pattern}`;
    case 'usdt':
      return `${plan.binary}:${plan.provider}:${plan.name}`;
    case 'perf_event':
      return `${plan.event}@${plan.freq}Hz on every CPU`;
    case 'xdp':
      return `${plan.iface}${plan.mode ? ` (${plan.mode})` : ''}`;
    case 'tcx':
      return `${plan.iface} ${plan.direction}`;
    case 'cgroup':
    case 'netns':
      return plan.path;
    case 'sockmap':
      return `map ${plan.map}`;
    case 'none':
      return '';
  }
}
