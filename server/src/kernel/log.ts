// Verifier / BTF-checker log buffers: size, grow on ENOSPC (or a reported true size larger
// than the buffer) and retry, as `bpftool`/libbpf users otherwise do by hand.
import { KernelError, isKernelError } from './errors';

export interface LogOptions {
  /** 0 = no log unless the load fails (then 1); 1 = verifier decisions; 2 = every instruction; 4 = stats. */
  readonly level?: number;
  /** First buffer size in bytes (default 64 KiB). */
  readonly initialSize?: number;
  /** At level 0, load again at level 1 after a failure to get the verifier's words (default true). */
  readonly logOnFailure?: boolean;
  /** Largest buffer we grow to (default 256 MiB - 1, the kernel's UINT_MAX >> 2 limit is larger). */
  readonly maxSize?: number;
}

export const DEFAULT_LOG_SIZE = 64 * 1024;
export const MAX_LOG_SIZE = (1 << 28) - 1;

export interface LogAttempt {
  /** 0 for no log buffer. */
  readonly level: number;
  readonly buf?: Buffer;
}

export interface LogResult<T> {
  readonly value: T;
  /** The log text ('' when none was asked for and the load succeeded). */
  readonly log: string;
  /** How many loads it took (1, or more when the log buffer grew or a log was fetched after a failure). */
  readonly attempts: number;
  /** The log did not fit in the buffer (only possible on success with BPF_LOG_FIXED semantics). */
  readonly logTruncated: boolean;
}

/** Text of a log buffer up to its first NUL. */
export function logText(buf: Buffer | undefined): string {
  if (!buf) return '';
  const nul = buf.indexOf(0);
  return buf.toString('utf8', 0, nul < 0 ? buf.length : nul);
}

/** What one load attempt gives back: the result or the error, and the log_true_size the kernel wrote. */
export type AttemptResult<T> =
  { readonly value: T; readonly trueSize: number } | { readonly error: KernelError; readonly trueSize: number };

/** Runs one bpf(2) call, catching only KernelError, with the true log size read after it. */
export function attempt<T>(call: () => T, trueSize: () => number): AttemptResult<T> {
  try {
    const value = call();
    return { value, trueSize: trueSize() };
  } catch (e) {
    if (!isKernelError(e)) throw e;
    return { error: e, trueSize: trueSize() };
  }
}

/** Errors a log cannot explain: fetching one after them would only repeat the failure. */
const NO_LOG_ERRNOS = new Set(['EPERM', 'EBADF', 'EFAULT', 'ENOMEM', 'EEXIST']);

/**
 * Runs `load` with a log buffer, growing it while the kernel says the log did not fit
 * (ENOSPC, or a true size larger than the buffer). A load that fails at level 0 is retried at
 * level 1 so the error carries the verifier's words (as libbpf does). The KernelError thrown at
 * the end has `log` set.
 */
export function withLogRetry<T>(opts: LogOptions, load: (a: LogAttempt) => AttemptResult<T>): LogResult<T> {
  const maxSize = opts.maxSize ?? MAX_LOG_SIZE;
  let level = opts.level ?? 0;
  let size = Math.min(opts.initialSize ?? DEFAULT_LOG_SIZE, maxSize);
  let attempts = 0;
  for (;;) {
    const buf = level > 0 ? Buffer.alloc(size) : undefined;
    attempts++;
    const r = load({ level, buf });
    const truncated = buf !== undefined && r.trueSize > buf.length;
    if ('value' in r) {
      // Loaded: the object exists, so a cut log is reported as such, not reloaded.
      return { value: r.value, log: logText(buf), attempts, logTruncated: truncated };
    }
    const e = r.error;
    if (level === 0) {
      if (opts.logOnFailure === false || NO_LOG_ERRNOS.has(e.errnoName)) throw e;
      level = 1;
      continue;
    }
    const cut = e.errnoName === 'ENOSPC' || truncated;
    // E2BIG is the verifier's 1M-instruction limit (or a program too long to load): its log is the
    // whole walk, hundreds of MB; the tail the buffer kept (rotating log, 6.4+) holds the reason
    if (cut && size < maxSize && e.errnoName !== 'E2BIG') {
      size = Math.min(maxSize, Math.max(size * 4, r.trueSize + 1));
      continue;
    }
    throw new KernelError(e.command, e.errno, e.context, logText(buf), cut, e.hint);
  }
}
