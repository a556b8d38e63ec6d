/**
 * What a program's return value means, by program type (and, for tc, by attach type): the
 * names a developer reads in the UAPI headers (XDP_DROP, TC_ACT_SHOT, SK_PASS ...). Pure.
 */

const XDP = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];
const TC_ACT: Record<number, string> = {
  [-1]: 'TC_ACT_UNSPEC',
  0: 'TC_ACT_OK',
  1: 'TC_ACT_RECLASSIFY',
  2: 'TC_ACT_SHOT',
  3: 'TC_ACT_PIPE',
  4: 'TC_ACT_STOLEN',
  5: 'TC_ACT_QUEUED',
  6: 'TC_ACT_REPEAT',
  7: 'TC_ACT_REDIRECT',
  8: 'TC_ACT_TRAP',
};
const TCX: Record<number, string> = { [-1]: 'TCX_NEXT', 0: 'TCX_PASS', 2: 'TCX_DROP', 7: 'TCX_REDIRECT' };
const SK: Record<number, string> = { 0: 'SK_DROP', 1: 'SK_PASS' };
const BPF_RET: Record<number, string> = {
  0: 'BPF_OK',
  2: 'BPF_DROP',
  7: 'BPF_REDIRECT',
  128: 'BPF_LWT_REROUTE',
  129: 'BPF_FLOW_DISSECTOR_CONTINUE',
};
const CGROUP_SKB: Record<number, string> = { 0: 'drop', 1: 'allow', 2: 'drop (congestion notified)', 3: 'allow (congestion notified)' };

/**
 * The name of `retval` (as the kernel returned it, u32) for a program of bpftool type `progType`
 * (`xdp`, `sched_cls` ...); `attachType` is the expected attach type's name when there is one
 * (`tcx_ingress`). Undefined when the type gives return values no names.
 */
export function retvalName(progType: string, retval: number, attachType?: string): string | undefined {
  const s32 = retval | 0;
  switch (progType) {
    case 'xdp':
      return XDP[retval];
    case 'sched_cls':
    case 'sched_act':
      return (attachType?.startsWith('tcx') || attachType?.startsWith('netkit') ? TCX[s32] : undefined) ?? TC_ACT[s32];
    case 'sk_skb':
    case 'sk_msg':
    case 'sk_lookup':
    case 'sk_reuseport':
      return SK[s32];
    case 'flow_dissector':
    case 'lwt_in':
    case 'lwt_out':
    case 'lwt_xmit':
    case 'lwt_seg6local':
      return BPF_RET[s32];
    case 'cgroup_skb':
      return CGROUP_SKB[s32];
    case 'cgroup_sock':
    case 'cgroup_sock_addr':
    case 'cgroup_sockopt':
    case 'cgroup_sysctl':
    case 'cgroup_device':
      return s32 === 1 ? 'allow' : s32 === 0 ? 'reject' : undefined;
    case 'socket_filter':
      return retval === 0 ? 'drop' : retval === 0xffffffff ? 'keep the whole packet' : `keep ${retval} bytes`;
    default:
      return undefined;
  }
}
