import { constants } from 'os';

const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);
// Kernel-internal, but bpf(2) returns it (e.g. an unsupported helper on a device-bound program).
ERRNO_NAMES.set(524, 'ENOTSUPP');

/** `EPERM` for 1 and so on (the first name when several share a number); `E<n>` if unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** The errno number of a name (`ENOSPC` → 28) on this machine. */
export function errnoNumber(name: string): number {
  const n = name === 'ENOTSUPP' ? 524 : (constants.errno as Record<string, number>)[name];
  if (n === undefined) throw new Error(`unknown errno name ${name}`);
  return n;
}

/**
 * A failed system call: which one (`BPF_PROG_LOAD`, `dup2`), errno as a number and a name, and
 * for loads the verifier's (or BTF checker's) log. Callers test `errnoName`, never the message.
 */
export class KernelError extends Error {
  override readonly name = 'KernelError';
  readonly errnoName: string;

  constructor(
    /** The bpf(2) command name (`BPF_MAP_CREATE`) or the libc call (`dup2`). */
    readonly command: string,
    readonly errno: number,
    /** What we were doing, in the caller's words (`map "counts"`), or ''. */
    readonly context = '',
    /** The kernel's log when a load failed (verifier for programs, BTF checker for BTF). */
    readonly log?: string,
    /** True when the log buffer was too small for the whole log (it ends truncated). */
    readonly logTruncated = false,
    /** What probably caused it, when the kernel says nothing more (e.g. EPERM under lockdown). */
    readonly hint?: string,
  ) {
    const name = errnoName(errno);
    super(
      `${context ? `${context}: ` : ''}${command} failed: ${name} (${describe(errno)})${hint ? ` — ${hint}` : ''}${log ? `\n${lastLines(log, 30)}` : ''}`,
    );
    this.errnoName = name;
  }

  /**
   * True when the kernel refused for lack of privilege or lockdown (EPERM). Not EACCES: the
   * verifier returns that for an unsafe program.
   */
  get isPermission(): boolean {
    return this.errnoName === 'EPERM';
  }
}

export function isKernelError(e: unknown, errno?: string): e is KernelError {
  return e instanceof KernelError && (errno === undefined || e.errnoName === errno);
}

const DESCRIPTIONS: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted',
  EIO: 'input/output error',
  E2BIG: 'argument list too long',
  EBADF: 'bad file descriptor',
  EAGAIN: 'try again',
  ENOMEM: 'out of memory',
  EACCES: 'permission denied',
  EFAULT: 'bad address',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  ENODEV: 'no such device',
  ENOTDIR: 'not a directory',
  EINVAL: 'invalid argument',
  ENFILE: 'file table overflow',
  EMFILE: 'too many open files',
  ENOSPC: 'no space left (log buffer too small?)',
  ERANGE: 'result out of range',
  ENOSYS: 'function not implemented',
  ENOTSUPP: 'operation not supported',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUP: 'operation not supported',
  ELOOP: 'too many levels of symbolic links',
  ENXIO: 'no such device or address',
};

function describe(errno: number): string {
  return DESCRIPTIONS[errnoName(errno)] ?? `errno ${errno}`;
}

function lastLines(text: string, n: number): string {
  const lines = text.replace(/\0+$/, '').trimEnd().split('\n');
  return lines.length <= n ? lines.join('\n') : ['...', ...lines.slice(-n)].join('\n');
}
