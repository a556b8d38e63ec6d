/**
 * Program type and expected attach type from an ELF section name, as libbpf's SEC()
 * table decides them (names lower-case without BPF_PROG_TYPE_ / BPF_ prefixes).
 * Used by the language server until the object model provides it.
 */

/** `x+`: x or x/…; `x/`: x/ and something after; else exact. */
const TABLE: readonly (readonly [string, string, string])[] = [
  ['socket', 'socket_filter', ''],
  ['sk_reuseport/migrate', 'sk_reuseport', 'sk_reuseport_select_or_migrate'],
  ['sk_reuseport', 'sk_reuseport', 'sk_reuseport_select'],
  ['kprobe+', 'kprobe', ''], ['uprobe+', 'kprobe', ''], ['uprobe.s+', 'kprobe', ''],
  ['kretprobe+', 'kprobe', ''], ['uretprobe+', 'kprobe', ''], ['uretprobe.s+', 'kprobe', ''],
  ['kprobe.multi+', 'kprobe', 'trace_kprobe_multi'], ['kretprobe.multi+', 'kprobe', 'trace_kprobe_multi'],
  ['kprobe.session+', 'kprobe', 'trace_kprobe_session'],
  ['uprobe.multi+', 'kprobe', 'trace_uprobe_multi'], ['uretprobe.multi+', 'kprobe', 'trace_uprobe_multi'],
  ['uprobe.multi.s+', 'kprobe', 'trace_uprobe_multi'], ['uretprobe.multi.s+', 'kprobe', 'trace_uprobe_multi'],
  ['uprobe.session+', 'kprobe', 'trace_uprobe_session'], ['uprobe.session.s+', 'kprobe', 'trace_uprobe_session'],
  ['ksyscall+', 'kprobe', ''], ['kretsyscall+', 'kprobe', ''], ['usdt+', 'kprobe', ''], ['usdt.s+', 'kprobe', ''],
  ['tc/ingress', 'sched_cls', 'tcx_ingress'], ['tc/egress', 'sched_cls', 'tcx_egress'],
  ['tcx/ingress', 'sched_cls', 'tcx_ingress'], ['tcx/egress', 'sched_cls', 'tcx_egress'],
  ['tc', 'sched_cls', ''], ['classifier', 'sched_cls', ''], ['action', 'sched_act', ''],
  ['netkit/primary', 'sched_cls', 'netkit_primary'], ['netkit/peer', 'sched_cls', 'netkit_peer'],
  ['tracepoint+', 'tracepoint', ''], ['tp+', 'tracepoint', ''],
  ['raw_tracepoint+', 'raw_tracepoint', ''], ['raw_tp+', 'raw_tracepoint', ''],
  ['raw_tracepoint.w+', 'raw_tracepoint_writable', ''], ['raw_tp.w+', 'raw_tracepoint_writable', ''],
  ['tp_btf+', 'tracing', 'trace_raw_tp'],
  ['fentry+', 'tracing', 'trace_fentry'], ['fmod_ret+', 'tracing', 'modify_return'], ['fexit+', 'tracing', 'trace_fexit'],
  ['fentry.s+', 'tracing', 'trace_fentry'], ['fmod_ret.s+', 'tracing', 'modify_return'], ['fexit.s+', 'tracing', 'trace_fexit'],
  ['freplace+', 'ext', ''],
  ['lsm+', 'lsm', 'lsm_mac'], ['lsm.s+', 'lsm', 'lsm_mac'], ['lsm_cgroup+', 'lsm', 'lsm_cgroup'],
  ['iter+', 'tracing', 'trace_iter'], ['iter.s+', 'tracing', 'trace_iter'],
  ['syscall', 'syscall', ''],
  ['xdp.frags/devmap', 'xdp', 'xdp_devmap'], ['xdp/devmap', 'xdp', 'xdp_devmap'],
  ['xdp.frags/cpumap', 'xdp', 'xdp_cpumap'], ['xdp/cpumap', 'xdp', 'xdp_cpumap'],
  ['xdp.frags', 'xdp', 'xdp'], ['xdp', 'xdp', 'xdp'],
  ['perf_event', 'perf_event', ''],
  ['lwt_in', 'lwt_in', ''], ['lwt_out', 'lwt_out', ''], ['lwt_xmit', 'lwt_xmit', ''], ['lwt_seg6local', 'lwt_seg6local', ''],
  ['sockops', 'sock_ops', 'cgroup_sock_ops'],
  ['sk_skb/stream_parser', 'sk_skb', 'sk_skb_stream_parser'], ['sk_skb/stream_verdict', 'sk_skb', 'sk_skb_stream_verdict'],
  ['sk_skb/verdict', 'sk_skb', 'sk_skb_verdict'], ['sk_skb', 'sk_skb', ''],
  ['sk_msg', 'sk_msg', 'sk_msg_verdict'], ['lirc_mode2', 'lirc_mode2', 'lirc_mode2'],
  ['flow_dissector', 'flow_dissector', 'flow_dissector'],
  ['cgroup_skb/ingress', 'cgroup_skb', 'cgroup_inet_ingress'], ['cgroup_skb/egress', 'cgroup_skb', 'cgroup_inet_egress'],
  ['cgroup/skb', 'cgroup_skb', ''],
  ['cgroup/sock_create', 'cgroup_sock', 'cgroup_inet_sock_create'], ['cgroup/sock_release', 'cgroup_sock', 'cgroup_inet_sock_release'],
  ['cgroup/sock', 'cgroup_sock', 'cgroup_inet_sock_create'],
  ['cgroup/post_bind4', 'cgroup_sock', 'cgroup_inet4_post_bind'], ['cgroup/post_bind6', 'cgroup_sock', 'cgroup_inet6_post_bind'],
  ['cgroup/bind4', 'cgroup_sock_addr', 'cgroup_inet4_bind'], ['cgroup/bind6', 'cgroup_sock_addr', 'cgroup_inet6_bind'],
  ['cgroup/connect4', 'cgroup_sock_addr', 'cgroup_inet4_connect'], ['cgroup/connect6', 'cgroup_sock_addr', 'cgroup_inet6_connect'],
  ['cgroup/connect_unix', 'cgroup_sock_addr', 'cgroup_unix_connect'],
  ['cgroup/sendmsg4', 'cgroup_sock_addr', 'cgroup_udp4_sendmsg'], ['cgroup/sendmsg6', 'cgroup_sock_addr', 'cgroup_udp6_sendmsg'],
  ['cgroup/sendmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_sendmsg'],
  ['cgroup/recvmsg4', 'cgroup_sock_addr', 'cgroup_udp4_recvmsg'], ['cgroup/recvmsg6', 'cgroup_sock_addr', 'cgroup_udp6_recvmsg'],
  ['cgroup/recvmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_recvmsg'],
  ['cgroup/getpeername4', 'cgroup_sock_addr', 'cgroup_inet4_getpeername'], ['cgroup/getpeername6', 'cgroup_sock_addr', 'cgroup_inet6_getpeername'],
  ['cgroup/getpeername_unix', 'cgroup_sock_addr', 'cgroup_unix_getpeername'],
  ['cgroup/getsockname4', 'cgroup_sock_addr', 'cgroup_inet4_getsockname'], ['cgroup/getsockname6', 'cgroup_sock_addr', 'cgroup_inet6_getsockname'],
  ['cgroup/getsockname_unix', 'cgroup_sock_addr', 'cgroup_unix_getsockname'],
  ['cgroup/sysctl', 'cgroup_sysctl', 'cgroup_sysctl'],
  ['cgroup/getsockopt', 'cgroup_sockopt', 'cgroup_getsockopt'], ['cgroup/setsockopt', 'cgroup_sockopt', 'cgroup_setsockopt'],
  ['cgroup/dev', 'cgroup_device', 'cgroup_device'],
  ['struct_ops+', 'struct_ops', ''], ['struct_ops.s+', 'struct_ops', ''],
  ['sk_lookup', 'sk_lookup', 'sk_lookup'], ['netfilter', 'netfilter', 'netfilter'],
];

export interface SecMatch {
  readonly progType: string;
  readonly attachType: string;
}

export function programTypeOf(section: string): SecMatch | undefined {
  const name = section.startsWith('?') ? section.slice(1) : section;
  for (const [pat, progType, attachType] of TABLE) {
    const ok = pat.endsWith('+')
      ? name === pat.slice(0, -1) || name.startsWith(`${pat.slice(0, -1)}/`)
      : name === pat;
    if (ok) return { progType, attachType };
  }
  return undefined;
}

export const MAP_TYPES: readonly string[] = [
  'unspec', 'hash', 'array', 'prog_array', 'perf_event_array', 'percpu_hash', 'percpu_array', 'stack_trace',
  'cgroup_array', 'lru_hash', 'lru_percpu_hash', 'lpm_trie', 'array_of_maps', 'hash_of_maps', 'devmap', 'sockmap',
  'cpumap', 'xskmap', 'sockhash', 'cgroup_storage', 'reuseport_sockarray', 'percpu_cgroup_storage', 'queue', 'stack',
  'sk_storage', 'devmap_hash', 'struct_ops', 'ringbuf', 'inode_storage', 'task_storage', 'bloom_filter',
  'user_ringbuf', 'cgrp_storage', 'arena',
];
