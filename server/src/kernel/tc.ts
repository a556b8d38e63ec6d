// tc programs on kernels without tcx links (before 6.6), as libbpf's bpf_tc_hook_create,
// bpf_tc_attach, bpf_tc_detach and bpf_tc_hook_destroy do over rtnetlink: a clsact qdisc on
// the interface, and a direct-action `bpf` filter on its ingress or egress hook, protocol
// ETH_P_ALL, handle and priority chosen by the kernel and read back from the echo.
import { isKernelError } from './errors';
import { NLM_F, RTM, type NlAttr, encodeAttrs, netlinkOpen, netlinkRequest, parseAttrs } from './netlink';
import { type Fd, closeFd } from './sys';

export type TcDirection = 'ingress' | 'egress';

const TC_H_CLSACT = 0xfffffff1;
const CLSACT_HANDLE = 0xffff0000; // TC_H_MAKE(TC_H_CLSACT, 0)
const TC_H_MIN = { ingress: 0xfff2, egress: 0xfff3 } as const;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL)
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF = { FD: 6, NAME: 7, FLAGS: 8, ID: 11 } as const;
const TCA_BPF_FLAG_ACT_DIRECT = 1;
const TCMSG_LEN = 20;

/** The hook a filter hangs on: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS/EGRESS). */
const parentOf = (d: TcDirection) => (0xffff0000 | TC_H_MIN[d]) >>> 0;
/** tcm_info: TC_H_MAKE(priority << 16, htons(ETH_P_ALL)). */
const infoOf = (priority: number) => ((priority << 16) | ETH_P_ALL_BE) >>> 0;

function tcmsg(ifindex: number, handle: number, parent: number, info: number, attrs: readonly NlAttr[]): Buffer {
  const h = Buffer.alloc(TCMSG_LEN); // tcm_family AF_UNSPEC
  h.writeInt32LE(ifindex, 4);
  h.writeUInt32LE(handle >>> 0, 8);
  h.writeUInt32LE(parent >>> 0, 12);
  h.writeUInt32LE(info >>> 0, 16);
  return Buffer.concat([h, encodeAttrs(attrs)]);
}

function withSocket<T>(context: string, f: (fd: Fd) => T): T {
  const fd = netlinkOpen(context);
  try {
    return f(fd);
  } finally {
    closeFd(fd);
  }
}

/**
 * bpf_tc_hook_create: a clsact qdisc on the interface. True when this call created it, false
 * when one was there already (EEXIST, which libbpf's callers take as success).
 */
export function tcQdiscCreate(ifindex: number, context = ''): boolean {
  return withSocket(context, (fd) => {
    try {
      const body = tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0, [{ type: TCA_KIND, value: 'clsact' }]);
      netlinkRequest(fd, RTM.NEWQDISC, NLM_F.ACK | NLM_F.EXCL | NLM_F.CREATE, body, context);
      return true;
    } catch (e) {
      if (isKernelError(e, 'EEXIST')) return false;
      throw e;
    }
  });
}

/** bpf_tc_hook_destroy: deletes the clsact qdisc (and with it every filter on both hooks). */
export function tcQdiscDelete(ifindex: number, context = ''): void {
  withSocket(context, (fd) => {
    const body = tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0, [{ type: TCA_KIND, value: 'clsact' }]);
    netlinkRequest(fd, RTM.DELQDISC, NLM_F.ACK, body, context);
  });
}

/** A bpf filter as the kernel numbered it. */
export interface TcFilter {
  readonly handle: number;
  readonly priority: number;
  /** The program's id as the filter reports it (TCA_BPF_ID). */
  readonly progId?: number;
}

export interface TcAttachSpec {
  readonly ifindex: number;
  readonly direction: TcDirection;
  readonly progFd: Fd;
  /** TCA_BPF_NAME: libbpf writes `<prog name>:[<prog id>]`, which `tc filter show` prints. */
  readonly name: string;
}

/** One filter from an RTM_NEWTFILTER message (the echo of ours, or a dump's entry). */
function filterOf(body: Uint8Array): TcFilter & { kind?: string } {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const attrs = parseAttrs(body, TCMSG_LEN);
  const kind = attrs.get(TCA_KIND);
  const opts = attrs.get(TCA_OPTIONS);
  const id = opts && parseAttrs(opts).get(TCA_BPF.ID);
  return {
    handle: dv.getUint32(8, true),
    priority: dv.getUint32(16, true) >>> 16,
    ...(id && id.length >= 4 ? { progId: new DataView(id.buffer, id.byteOffset, 4).getUint32(0, true) } : {}),
    ...(kind ? { kind: Buffer.from(kind).toString('latin1').replace(/\0.*$/s, '') } : {}),
  };
}

/**
 * bpf_tc_attach with libbpf's defaults: a new (NLM_F_EXCL) direct-action bpf filter for every
 * protocol, handle and priority left to the kernel and read back from the echo.
 */
export function tcFilterAttach(spec: TcAttachSpec, context = ''): TcFilter {
  return withSocket(context, (fd) => {
    const body = tcmsg(spec.ifindex, 0, parentOf(spec.direction), infoOf(0), [
      { type: TCA_KIND, value: 'bpf' },
      {
        type: TCA_OPTIONS,
        value: [
          { type: TCA_BPF.FD, value: spec.progFd },
          { type: TCA_BPF.NAME, value: spec.name },
          { type: TCA_BPF.FLAGS, value: TCA_BPF_FLAG_ACT_DIRECT },
        ],
      },
    ]);
    const replies = netlinkRequest(fd, RTM.NEWTFILTER, NLM_F.ACK | NLM_F.EXCL | NLM_F.CREATE | NLM_F.ECHO, body, context);
    const echo = replies.find((m) => m.type === RTM.NEWTFILTER);
    if (!echo) throw new Error(`${context ? `${context}: ` : ''}RTM_NEWTFILTER: the kernel did not echo the new filter`);
    const { kind: _kind, ...f } = filterOf(echo.body);
    void _kind;
    return f;
  });
}

/** bpf_tc_detach: deletes the bpf filter with this handle and priority from the hook. */
export function tcFilterDetach(ifindex: number, direction: TcDirection, f: TcFilter, context = ''): void {
  withSocket(context, (fd) => {
    const body = tcmsg(ifindex, f.handle, parentOf(direction), infoOf(f.priority), [{ type: TCA_KIND, value: 'bpf' }]);
    netlinkRequest(fd, RTM.DELTFILTER, NLM_F.ACK, body, context);
  });
}

/** The filters on a clsact hook (an RTM_GETTFILTER dump), any classifier: e.g. before deleting the qdisc. */
export function tcFilterList(ifindex: number, direction: TcDirection, context = ''): (TcFilter & { kind?: string })[] {
  return withSocket(context, (fd) =>
    netlinkRequest(fd, RTM.GETTFILTER, NLM_F.DUMP, tcmsg(ifindex, 0, parentOf(direction), 0, []), context)
      .filter((m) => m.type === RTM.NEWTFILTER)
      .map((m) => filterOf(m.body)),
  );
}
