// BPF_BTF_LOAD with the BTF checker's log.
import { BTF_LOG_TRUE_SIZE, encodeBtfLoad } from './attr/btf';
import { readU32 } from './attr/layout';
import { type LogOptions, attempt, withLogRetry } from './log';
import { type Fd, addressOf, bpf } from './sys';
import { BPF_CMD } from '../common/uapi';

export interface LoadedBtf {
  readonly fd: Fd;
  readonly log: string;
  readonly attempts: number;
}

/**
 * BPF_BTF_LOAD of a raw BTF blob (header, types, strings, as writeBtf makes it). On failure
 * the KernelError's `log` says which type the kernel refused.
 */
export function btfLoad(
  bytes: Uint8Array,
  opts: { readonly log?: LogOptions; readonly tokenFd?: Fd; readonly context?: string } = {},
): LoadedBtf {
  const blob = Buffer.from(bytes);
  const r = withLogRetry(opts.log ?? {}, ({ level, buf }) => {
    const attr = encodeBtfLoad({
      btf: addressOf(blob),
      btf_size: blob.length,
      btf_log_level: level,
      btf_log_size: buf?.length ?? 0,
      btf_log_buf: addressOf(buf),
      btf_token_fd: opts.tokenFd,
      btf_flags: opts.tokenFd !== undefined ? 1 << 16 : 0,
    });
    return attempt(
      () => bpf(BPF_CMD.BPF_BTF_LOAD, attr, opts.context ?? 'BTF'),
      () => readU32(attr, BTF_LOG_TRUE_SIZE),
    );
  });
  return { fd: r.value, log: r.log, attempts: r.attempts };
}
