/**
 * UAPI enum values and their bpftool names (libbpf's libbpf_bpf_*_type_str): the names
 * BPF Lens shows and prints in JSON, the numbers it compares and hands to the loader.
 */

/** enum bpf_prog_type, in value order (index = BPF_PROG_TYPE_*). */
export const PROG_TYPE_NAMES = [
  'unspec',
  'socket_filter',
  'kprobe',
  'sched_cls',
  'sched_act',
  'tracepoint',
  'xdp',
  'perf_event',
  'cgroup_skb',
  'cgroup_sock',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'sock_ops',
  'sk_skb',
  'cgroup_device',
  'sk_msg',
  'raw_tracepoint',
  'cgroup_sock_addr',
  'lwt_seg6local',
  'lirc_mode2',
  'sk_reuseport',
  'flow_dissector',
  'cgroup_sysctl',
  'raw_tracepoint_writable',
  'cgroup_sockopt',
  'tracing',
  'struct_ops',
  'ext',
  'lsm',
  'sk_lookup',
  'syscall',
  'netfilter',
] as const;

/** enum bpf_map_type, in value order (index = BPF_MAP_TYPE_*). */
export const MAP_TYPE_NAMES = [
  'unspec',
  'hash',
  'array',
  'prog_array',
  'perf_event_array',
  'percpu_hash',
  'percpu_array',
  'stack_trace',
  'cgroup_array',
  'lru_hash',
  'lru_percpu_hash',
  'lpm_trie',
  'array_of_maps',
  'hash_of_maps',
  'devmap',
  'sockmap',
  'cpumap',
  'xskmap',
  'sockhash',
  'cgroup_storage',
  'reuseport_sockarray',
  'percpu_cgroup_storage',
  'queue',
  'stack',
  'sk_storage',
  'devmap_hash',
  'struct_ops',
  'ringbuf',
  'inode_storage',
  'task_storage',
  'bloom_filter',
  'user_ringbuf',
  'cgrp_storage',
  'arena',
] as const;

/** enum bpf_attach_type, in value order (index = BPF_*). */
export const ATTACH_TYPE_NAMES = [
  'cgroup_inet_ingress',
  'cgroup_inet_egress',
  'cgroup_inet_sock_create',
  'cgroup_sock_ops',
  'sk_skb_stream_parser',
  'sk_skb_stream_verdict',
  'cgroup_device',
  'sk_msg_verdict',
  'cgroup_inet4_bind',
  'cgroup_inet6_bind',
  'cgroup_inet4_connect',
  'cgroup_inet6_connect',
  'cgroup_inet4_post_bind',
  'cgroup_inet6_post_bind',
  'cgroup_udp4_sendmsg',
  'cgroup_udp6_sendmsg',
  'lirc_mode2',
  'flow_dissector',
  'cgroup_sysctl',
  'cgroup_udp4_recvmsg',
  'cgroup_udp6_recvmsg',
  'cgroup_getsockopt',
  'cgroup_setsockopt',
  'trace_raw_tp',
  'trace_fentry',
  'trace_fexit',
  'modify_return',
  'lsm_mac',
  'trace_iter',
  'cgroup_inet4_getpeername',
  'cgroup_inet6_getpeername',
  'cgroup_inet4_getsockname',
  'cgroup_inet6_getsockname',
  'xdp_devmap',
  'cgroup_inet_sock_release',
  'xdp_cpumap',
  'sk_lookup',
  'xdp',
  'sk_skb_verdict',
  'sk_reuseport_select',
  'sk_reuseport_select_or_migrate',
  'perf_event',
  'trace_kprobe_multi',
  'lsm_cgroup',
  'struct_ops',
  'netfilter',
  'tcx_ingress',
  'tcx_egress',
  'trace_uprobe_multi',
  'cgroup_unix_connect',
  'cgroup_unix_sendmsg',
  'cgroup_unix_recvmsg',
  'cgroup_unix_getpeername',
  'cgroup_unix_getsockname',
  'netkit_primary',
  'netkit_peer',
  'trace_kprobe_session',
  'trace_uprobe_session',
] as const;

export type ProgTypeName = (typeof PROG_TYPE_NAMES)[number];
export type MapTypeName = (typeof MAP_TYPE_NAMES)[number];
export type AttachTypeName = (typeof ATTACH_TYPE_NAMES)[number];

export function progTypeName(id: number): string {
  return PROG_TYPE_NAMES[id] ?? `unknown(${id})`;
}

export function mapTypeName(id: number): string {
  return MAP_TYPE_NAMES[id] ?? `unknown(${id})`;
}

export function attachTypeName(id: number): string {
  return ATTACH_TYPE_NAMES[id] ?? `unknown(${id})`;
}

export function progTypeId(name: ProgTypeName): number {
  return PROG_TYPE_NAMES.indexOf(name);
}

export function mapTypeId(name: MapTypeName): number {
  return MAP_TYPE_NAMES.indexOf(name);
}

export function attachTypeId(name: AttachTypeName): number {
  return ATTACH_TYPE_NAMES.indexOf(name);
}

// Map create and program load flags the object model sets or checks: <linux/bpf.h>'s.
export {
  BPF_F_INNER_MAP,
  BPF_F_LINK,
  BPF_F_MMAPABLE,
  BPF_F_NO_PREALLOC,
  BPF_F_NUMA_NODE,
  BPF_F_RDONLY,
  BPF_F_RDONLY_PROG,
  BPF_F_SLEEPABLE,
  BPF_F_WRONLY,
  BPF_F_WRONLY_PROG,
  BPF_F_XDP_HAS_FRAGS,
  BPF_F_ZERO_SEED,
} from '../common/uapi';
