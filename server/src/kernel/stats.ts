// Program run statistics (run_cnt, run_time_ns in bpf_prog_info) are kept only while the
// kernel is told to: by an FD from BPF_ENABLE_STATS (closed when its holder exits, so a
// crashed tool leaves nothing on: what bpftop uses) or by the kernel.bpf_stats_enabled sysctl.
import { readFileSync } from 'fs';
import { BPF_CMD } from '../common/uapi';
import { encodeEnableStats } from './attr/obj';
import { bpf, type Fd } from './sys';

/** enum bpf_stats_type: the only kind there is, run time and count. */
export const BPF_STATS_RUN_TIME = 0;

/** BPF_ENABLE_STATS: an FD that keeps run statistics on while it is open. */
export function enableStats(type = BPF_STATS_RUN_TIME, context = ''): Fd {
  return bpf(BPF_CMD.BPF_ENABLE_STATS, encodeEnableStats(type), context);
}

/** kernel.bpf_stats_enabled: true or false, or undefined when it cannot be read. */
export function statsSysctlEnabled(): boolean | undefined {
  try {
    return readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'latin1').trim() !== '0';
  } catch {
    return undefined;
  }
}
