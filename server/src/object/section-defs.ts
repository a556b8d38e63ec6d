/**
 * libbpf's SEC() table: ELF section name → program type, expected attach type, flags.
 *
 * Matching (libbpf's sec_def_matches): `x+` matches `x` or `x/…`; `x/` requires something
 * after the slash; anything else must match exactly. A leading `?` (autoload off) is
 * stripped before matching. The first matching entry wins, so order matters.
 */
import { attachTypeId, type AttachTypeName, progTypeId, type ProgTypeName, BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS } from './uapi-names';

/** One SEC() table entry. */
export interface SecDef {
  /** As libbpf writes it: `fentry+`, `xdp/devmap`, `socket`. */
  readonly sec: string;
  readonly progType: ProgTypeName;
  /** null when libbpf passes expected_attach_type 0 (unset). */
  readonly attachType: AttachTypeName | null;
  readonly sleepable: boolean;
  /** Section names the BTF target (fentry/…, lsm/…, iter/…, freplace/…). */
  readonly attachBtf: boolean;
  readonly xdpFrags: boolean;
  /** libbpf may drop expected_attach_type on kernels that lack it (SEC_EXP_ATTACH_OPT). */
  readonly attachOptional: boolean;
  readonly usdt: boolean;
}

/** A section name matched against the table. */
export interface SecMatch {
  readonly def: SecDef;
  /** The section name without a leading `?`. */
  readonly section: string;
  readonly autoload: boolean;
  readonly progTypeId: number;
  /** 0 when the entry has none. */
  readonly attachTypeId: number;
  /** BPF_F_SLEEPABLE / BPF_F_XDP_HAS_FRAGS. */
  readonly progFlags: number;
  /** What follows the first `/` for `x+` entries (`do_unlinkat` in `fentry/do_unlinkat`). */
  readonly attachTo?: string;
}

type Flag = 's' | 'btf' | 'frags' | 'opt' | 'usdt';

function d(sec: string, progType: ProgTypeName, attachType: AttachTypeName | null, ...flags: Flag[]): SecDef {
  return {
    sec,
    progType,
    attachType,
    sleepable: flags.includes('s'),
    attachBtf: flags.includes('btf'),
    xdpFrags: flags.includes('frags'),
    attachOptional: flags.includes('opt'),
    usdt: flags.includes('usdt'),
  };
}

/** libbpf's table (libbpf 1.5+ order). */
export const SEC_DEFS: readonly SecDef[] = [
  d('socket', 'socket_filter', null),
  d('sk_reuseport/migrate', 'sk_reuseport', 'sk_reuseport_select_or_migrate'),
  d('sk_reuseport', 'sk_reuseport', 'sk_reuseport_select'),
  d('kprobe+', 'kprobe', null),
  d('uprobe+', 'kprobe', null),
  d('uprobe.s+', 'kprobe', null, 's'),
  d('kretprobe+', 'kprobe', null),
  d('uretprobe+', 'kprobe', null),
  d('uretprobe.s+', 'kprobe', null, 's'),
  d('kprobe.multi+', 'kprobe', 'trace_kprobe_multi'),
  d('kretprobe.multi+', 'kprobe', 'trace_kprobe_multi'),
  d('kprobe.session+', 'kprobe', 'trace_kprobe_session'),
  d('uprobe.multi+', 'kprobe', 'trace_uprobe_multi'),
  d('uretprobe.multi+', 'kprobe', 'trace_uprobe_multi'),
  d('uprobe.session+', 'kprobe', 'trace_uprobe_session'),
  d('uprobe.multi.s+', 'kprobe', 'trace_uprobe_multi', 's'),
  d('uretprobe.multi.s+', 'kprobe', 'trace_uprobe_multi', 's'),
  d('uprobe.session.s+', 'kprobe', 'trace_uprobe_session', 's'),
  d('ksyscall+', 'kprobe', null),
  d('kretsyscall+', 'kprobe', null),
  d('usdt+', 'kprobe', null, 'usdt'),
  d('usdt.s+', 'kprobe', null, 'usdt', 's'),
  d('tc/ingress', 'sched_cls', 'tcx_ingress'),
  d('tc/egress', 'sched_cls', 'tcx_egress'),
  d('tcx/ingress', 'sched_cls', 'tcx_ingress'),
  d('tcx/egress', 'sched_cls', 'tcx_egress'),
  d('tc', 'sched_cls', null),
  d('classifier', 'sched_cls', null),
  d('action', 'sched_act', null),
  d('netkit/primary', 'sched_cls', 'netkit_primary'),
  d('netkit/peer', 'sched_cls', 'netkit_peer'),
  d('tracepoint+', 'tracepoint', null),
  d('tp+', 'tracepoint', null),
  d('raw_tracepoint+', 'raw_tracepoint', null),
  d('raw_tp+', 'raw_tracepoint', null),
  d('raw_tracepoint.w+', 'raw_tracepoint_writable', null),
  d('raw_tp.w+', 'raw_tracepoint_writable', null),
  d('tp_btf+', 'tracing', 'trace_raw_tp', 'btf'),
  d('fentry+', 'tracing', 'trace_fentry', 'btf'),
  d('fmod_ret+', 'tracing', 'modify_return', 'btf'),
  d('fexit+', 'tracing', 'trace_fexit', 'btf'),
  d('fentry.s+', 'tracing', 'trace_fentry', 'btf', 's'),
  d('fmod_ret.s+', 'tracing', 'modify_return', 'btf', 's'),
  d('fexit.s+', 'tracing', 'trace_fexit', 'btf', 's'),
  d('freplace+', 'ext', null, 'btf'),
  d('lsm+', 'lsm', 'lsm_mac', 'btf'),
  d('lsm.s+', 'lsm', 'lsm_mac', 'btf', 's'),
  d('lsm_cgroup+', 'lsm', 'lsm_cgroup', 'btf'),
  d('iter+', 'tracing', 'trace_iter', 'btf'),
  d('iter.s+', 'tracing', 'trace_iter', 'btf', 's'),
  d('syscall', 'syscall', null, 's'),
  d('xdp.frags/devmap', 'xdp', 'xdp_devmap', 'frags'),
  d('xdp/devmap', 'xdp', 'xdp_devmap'),
  d('xdp.frags/cpumap', 'xdp', 'xdp_cpumap', 'frags'),
  d('xdp/cpumap', 'xdp', 'xdp_cpumap'),
  d('xdp.frags', 'xdp', 'xdp', 'frags'),
  d('xdp', 'xdp', 'xdp', 'opt'),
  d('perf_event', 'perf_event', null),
  d('lwt_in', 'lwt_in', null),
  d('lwt_out', 'lwt_out', null),
  d('lwt_xmit', 'lwt_xmit', null),
  d('lwt_seg6local', 'lwt_seg6local', null),
  d('sockops', 'sock_ops', 'cgroup_sock_ops', 'opt'),
  d('sk_skb/stream_parser', 'sk_skb', 'sk_skb_stream_parser', 'opt'),
  d('sk_skb/stream_verdict', 'sk_skb', 'sk_skb_stream_verdict', 'opt'),
  d('sk_skb/verdict', 'sk_skb', 'sk_skb_verdict', 'opt'),
  d('sk_skb', 'sk_skb', null),
  d('sk_msg', 'sk_msg', 'sk_msg_verdict', 'opt'),
  d('lirc_mode2', 'lirc_mode2', 'lirc_mode2', 'opt'),
  d('flow_dissector', 'flow_dissector', 'flow_dissector', 'opt'),
  d('cgroup_skb/ingress', 'cgroup_skb', 'cgroup_inet_ingress', 'opt'),
  d('cgroup_skb/egress', 'cgroup_skb', 'cgroup_inet_egress', 'opt'),
  d('cgroup/skb', 'cgroup_skb', null),
  d('cgroup/sock_create', 'cgroup_sock', 'cgroup_inet_sock_create'),
  d('cgroup/sock_release', 'cgroup_sock', 'cgroup_inet_sock_release'),
  d('cgroup/sock', 'cgroup_sock', 'cgroup_inet_sock_create', 'opt'),
  d('cgroup/post_bind4', 'cgroup_sock', 'cgroup_inet4_post_bind'),
  d('cgroup/post_bind6', 'cgroup_sock', 'cgroup_inet6_post_bind'),
  d('cgroup/bind4', 'cgroup_sock_addr', 'cgroup_inet4_bind'),
  d('cgroup/bind6', 'cgroup_sock_addr', 'cgroup_inet6_bind'),
  d('cgroup/connect4', 'cgroup_sock_addr', 'cgroup_inet4_connect'),
  d('cgroup/connect6', 'cgroup_sock_addr', 'cgroup_inet6_connect'),
  d('cgroup/connect_unix', 'cgroup_sock_addr', 'cgroup_unix_connect'),
  d('cgroup/sendmsg4', 'cgroup_sock_addr', 'cgroup_udp4_sendmsg'),
  d('cgroup/sendmsg6', 'cgroup_sock_addr', 'cgroup_udp6_sendmsg'),
  d('cgroup/sendmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_sendmsg'),
  d('cgroup/recvmsg4', 'cgroup_sock_addr', 'cgroup_udp4_recvmsg'),
  d('cgroup/recvmsg6', 'cgroup_sock_addr', 'cgroup_udp6_recvmsg'),
  d('cgroup/recvmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_recvmsg'),
  d('cgroup/getpeername4', 'cgroup_sock_addr', 'cgroup_inet4_getpeername'),
  d('cgroup/getpeername6', 'cgroup_sock_addr', 'cgroup_inet6_getpeername'),
  d('cgroup/getpeername_unix', 'cgroup_sock_addr', 'cgroup_unix_getpeername'),
  d('cgroup/getsockname4', 'cgroup_sock_addr', 'cgroup_inet4_getsockname'),
  d('cgroup/getsockname6', 'cgroup_sock_addr', 'cgroup_inet6_getsockname'),
  d('cgroup/getsockname_unix', 'cgroup_sock_addr', 'cgroup_unix_getsockname'),
  d('cgroup/sysctl', 'cgroup_sysctl', 'cgroup_sysctl'),
  d('cgroup/getsockopt', 'cgroup_sockopt', 'cgroup_getsockopt'),
  d('cgroup/setsockopt', 'cgroup_sockopt', 'cgroup_setsockopt'),
  d('cgroup/dev', 'cgroup_device', 'cgroup_device', 'opt'),
  d('struct_ops+', 'struct_ops', null),
  d('struct_ops.s+', 'struct_ops', null, 's'),
  d('sk_lookup', 'sk_lookup', 'sk_lookup'),
  d('netfilter', 'netfilter', 'netfilter'),
];

/** libbpf's rule for one entry. */
export function secDefMatches(def: SecDef, section: string): boolean {
  const pat = def.sec;
  if (pat.endsWith('+')) {
    const p = pat.slice(0, -1);
    return section === p || section.startsWith(p + '/');
  }
  if (pat.endsWith('/')) return section.startsWith(pat) && section.length > pat.length;
  return section === pat;
}

/** The SEC() entry for an ELF section name, or undefined (libbpf: "unrecognized section"). */
export function secDefFor(sectionName: string): SecMatch | undefined {
  const autoload = !sectionName.startsWith('?');
  const section = autoload ? sectionName : sectionName.slice(1);
  const def = SEC_DEFS.find((x) => secDefMatches(x, section));
  if (!def) return undefined;
  let attachTo: string | undefined;
  if (def.sec.endsWith('+')) {
    const slash = section.indexOf('/');
    if (slash >= 0) attachTo = section.slice(slash + 1);
  }
  return {
    def,
    section,
    autoload,
    progTypeId: progTypeId(def.progType),
    attachTypeId: def.attachType ? attachTypeId(def.attachType) : 0,
    progFlags: (def.sleepable ? BPF_F_SLEEPABLE : 0) | (def.xdpFrags ? BPF_F_XDP_HAS_FRAGS : 0),
    attachTo,
  };
}
