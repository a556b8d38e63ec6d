// Attaching: BPF_LINK_CREATE (every link kind), BPF_RAW_TRACEPOINT_OPEN, BPF_PROG_ATTACH/DETACH,
// BPF_LINK_DETACH and BPF_ITER_CREATE.
import {
  ITER_CREATE_LAYOUT,
  LINK_DETACH_LAYOUT,
  type LinkCreateAttrRaw,
  type ProgAttachAttr,
  encodeLinkCreate,
  encodeProgAttach,
  encodeRawTracepoint,
} from './attr/link';
import { encode } from './attr/layout';
import { type Fd, addressOf, bpf } from './sys';
import { BPF_CMD } from '../common/uapi';

export type { ProgAttachAttr } from './attr/link';

/** BPF_LINK_CREATE's request; the per-kind tails take values, not addresses (links.ts lays them out). */
export interface LinkCreateAttr {
  /** The program (or, for struct_ops links, the map) to attach. */
  readonly prog_fd: number;
  /** Cgroup/netns/perf event/prog FD ... */
  readonly target_fd?: number;
  /** ... or interface index (XDP, tcx). */
  readonly target_ifindex?: number;
  readonly attach_type: number;
  /** XDP mode flags, BPF_F_BEFORE/AFTER for tcx, BPF_F_UPROBE_MULTI_RETURN ... */
  readonly flags?: number;
  /** freplace: the BTF FUNC id of the replaced function in the target program. */
  readonly target_btf_id?: number;
  /** iter: a `union bpf_iter_link_info` (map_fd, cgroup, task). */
  readonly iterInfo?: Uint8Array;
  readonly perfEventCookie?: bigint;
  readonly tracingCookie?: bigint;
  readonly tcx?: { readonly relativeFd?: number; readonly relativeId?: number; readonly expectedRevision?: bigint };
  readonly uprobeMulti?: {
    readonly path: string;
    readonly offsets: readonly bigint[];
    readonly refCtrOffsets?: readonly bigint[];
    readonly cookies?: readonly bigint[];
    readonly flags?: number;
    readonly pid?: number;
  };
  readonly kprobeMulti?: {
    readonly syms?: readonly string[];
    readonly addrs?: readonly bigint[];
    readonly cookies?: readonly bigint[];
    readonly flags?: number;
  };
}

/** Lays the request's variable parts into buffers kept alive by `keep`; returns the raw attr. */
export function linkCreateRaw(a: LinkCreateAttr, keep: Buffer[]): LinkCreateAttrRaw {
  const ptr = (b: Buffer) => (keep.push(b), addressOf(b));
  const u64s = (xs: readonly bigint[] | undefined) => {
    if (!xs?.length) return undefined;
    const b = Buffer.alloc(xs.length * 8);
    xs.forEach((x, i) => b.writeBigUInt64LE(BigInt.asUintN(64, x), i * 8));
    return ptr(b);
  };
  const raw: Record<string, number | bigint | undefined> = {
    prog_fd: a.prog_fd,
    target_fd: a.target_fd,
    target_ifindex: a.target_ifindex,
    attach_type: a.attach_type,
    flags: a.flags,
    target_btf_id: a.target_btf_id,
    'perf_event.bpf_cookie': a.perfEventCookie,
    'tracing.cookie': a.tracingCookie,
  };
  if (a.iterInfo?.length) Object.assign(raw, { iter_info: ptr(Buffer.from(a.iterInfo)), iter_info_len: a.iterInfo.length });
  if (a.tcx)
    Object.assign(raw, { 'tcx.relative_fd': a.tcx.relativeFd ?? a.tcx.relativeId, 'tcx.expected_revision': a.tcx.expectedRevision });
  const u = a.uprobeMulti;
  if (u) {
    Object.assign(raw, {
      'uprobe_multi.path': ptr(Buffer.from(`${u.path}\0`)),
      'uprobe_multi.offsets': u64s(u.offsets),
      'uprobe_multi.ref_ctr_offsets': u64s(u.refCtrOffsets),
      'uprobe_multi.cookies': u64s(u.cookies),
      'uprobe_multi.cnt': u.offsets.length,
      'uprobe_multi.flags': u.flags,
      'uprobe_multi.pid': u.pid,
    });
  }
  const k = a.kprobeMulti;
  if (k) {
    const syms = k.syms?.map((s) => ptr(Buffer.from(`${s}\0`)));
    Object.assign(raw, {
      'kprobe_multi.flags': k.flags,
      'kprobe_multi.cnt': syms?.length ?? k.addrs?.length ?? 0,
      'kprobe_multi.syms': u64s(syms),
      'kprobe_multi.addrs': u64s(k.addrs),
      'kprobe_multi.cookies': u64s(k.cookies),
    });
  }
  for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key];
  return raw as LinkCreateAttrRaw;
}

/** BPF_LINK_CREATE: a link FD (the attachment lives as long as the FD or its pin). */
export function linkCreate(attr: LinkCreateAttr, context = ''): Fd {
  const keep: Buffer[] = [];
  const fd = bpf(BPF_CMD.BPF_LINK_CREATE, encodeLinkCreate(linkCreateRaw(attr, keep)), context);
  keep.length = 0; // the buffers had to live until here
  return fd;
}

/** BPF_RAW_TRACEPOINT_OPEN: attach a raw_tp program to tracepoint `name` (or tp_btf/fentry... with name undefined). */
export function rawTracepointOpen(progFd: Fd, name: string | undefined, cookie?: bigint): Fd {
  const n = name !== undefined ? Buffer.from(`${name}\0`) : undefined;
  return bpf(
    BPF_CMD.BPF_RAW_TRACEPOINT_OPEN,
    encodeRawTracepoint({ name: addressOf(n), prog_fd: progFd, cookie }),
    `raw_tracepoint ${name ?? ''}`.trim(),
  );
}

/** BPF_PROG_ATTACH: the pre-link way onto a cgroup, netns (flow_dissector), sockmap or interface. */
export function progAttach(a: ProgAttachAttr, context = ''): void {
  bpf(BPF_CMD.BPF_PROG_ATTACH, encodeProgAttach(a), context);
}

/** BPF_PROG_DETACH: undoes a PROG_ATTACH (attach_bpf_fd names the program for multi-attach cgroups). */
export function progDetach(a: ProgAttachAttr, context = ''): void {
  bpf(BPF_CMD.BPF_PROG_DETACH, encodeProgAttach(a), context);
}

/** BPF_LINK_DETACH: detaches a link's program while the link FD stays (it becomes defunct). */
export function linkDetach(linkFd: Fd, context = ''): void {
  bpf(BPF_CMD.BPF_LINK_DETACH, encode(LINK_DETACH_LAYOUT, { link_fd: linkFd }), context);
}

/** BPF_ITER_CREATE: an FD whose reads run the iterator program of an iter link. */
export function iterCreate(linkFd: Fd, context = ''): Fd {
  return bpf(BPF_CMD.BPF_ITER_CREATE, encode(ITER_CREATE_LAYOUT, { link_fd: linkFd }), context);
}
