/**
 * tc programs on an interface: a tcx link where the kernel has them (6.6+), else what libbpf's
 * bpf_tc_hook_create + bpf_tc_attach do over rtnetlink: a clsact qdisc (made only when absent,
 * and deleted on detach only if we made it and no filter is left on it) and a direct-action
 * bpf filter on its ingress/egress hook. Whether tcx exists is probed as libbpf probes links:
 * LINK_CREATE on an interface that cannot exist (ifindex 0) answers ENODEV where tcx links
 * exist and EINVAL where the kernel does not know the attach type.
 */
import { BPF_ATTACH_TYPE, isKernelError, type Fd, type KernelOps } from '../kernel';
import type { AttachPlan } from './plan';

/** Attach paths a test (or a user on a kernel that misreports) can force: BPF_LENS_LEGACY_ATTACH=tc,kprobe. */
export type LegacyPath = 'tc' | 'kprobe';

export function legacyFromEnv(env: { BPF_LENS_LEGACY_ATTACH?: string } = process.env): ReadonlySet<LegacyPath> {
  const want = (env.BPF_LENS_LEGACY_ATTACH ?? '').split(',').map((s) => s.trim());
  return new Set(want.filter((s): s is LegacyPath => s === 'tc' || s === 'kprobe'));
}

/** True when the kernel has tcx links (the probe's LINK_CREATE fails with ENODEV, never attaching anything). */
export function haveTcxLinks(k: KernelOps, prog: Fd, attachType: number, what: string): boolean {
  try {
    k.closeFd(k.linkCreate({ prog_fd: prog, target_ifindex: 0, attach_type: attachType }, `${what}: tcx probe`));
    return true; // cannot happen (no interface 0), but a link means tcx exists
  } catch (e) {
    if (isKernelError(e, 'ENODEV')) return true;
    if (isKernelError(e, 'EINVAL')) return false;
    throw e;
  }
}

export interface TcContext {
  readonly kernel: KernelOps;
  /** Records an undo step (run newest first). */
  readonly undo: (f: () => void) => void;
  /** Records a link FD (closed on undo). */
  readonly link: (fd: Fd) => Fd;
  readonly legacy: boolean;
}

/** Attaches a sched_cls program: 'link' (tcx) or 'tc filter' (clsact + bpf filter over netlink). */
export function tcAttach(cx: TcContext, prog: Fd, plan: Extract<AttachPlan, { kind: 'tcx' }>, what: string): 'link' | 'tc filter' {
  const k = cx.kernel;
  const ifindex = k.ifIndex(plan.iface);
  if (!cx.legacy) {
    const at = plan.direction === 'ingress' ? BPF_ATTACH_TYPE.BPF_TCX_INGRESS : BPF_ATTACH_TYPE.BPF_TCX_EGRESS;
    try {
      cx.link(k.linkCreate({ prog_fd: prog, target_ifindex: ifindex, attach_type: at }, what));
      return 'link';
    } catch (e) {
      if (!isKernelError(e, 'EINVAL') || haveTcxLinks(k, prog, at, what)) throw e;
    }
  }
  const created = k.tcQdiscCreate(ifindex, `${what}: clsact qdisc`);
  if (created) cx.undo(() => deleteQdiscIfUnused(k, ifindex, what));
  const info = k.progInfo(prog);
  const filter = k.tcFilterAttach({ ifindex, direction: plan.direction, progFd: prog, name: `${info.name}:[${info.id}]` }, what);
  cx.undo(() => k.tcFilterDetach(ifindex, plan.direction, filter, what));
  return 'tc filter';
}

/** Deletes the clsact qdisc we made unless someone else's filter hangs on it now (deleting it would remove theirs). */
function deleteQdiscIfUnused(k: KernelOps, ifindex: number, what: string): void {
  const left = [...k.tcFilterList(ifindex, 'ingress', what), ...k.tcFilterList(ifindex, 'egress', what)];
  if (left.length === 0) k.tcQdiscDelete(ifindex, `${what}: clsact qdisc`);
}
