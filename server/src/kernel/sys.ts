// The only place BPF Lens calls into libc: bpf(2) through syscall(), close, dup2/dup3,
// memfd_create, mmap/munmap (ring and perf buffers; cache files read in place), renameat2 (pins put in place), sysconf (the page size) and _exit (exit-now.ts). koffi is loaded on first use so pure code never needs its native module.
// Every FD made here is reported to the active FdTrackers; a fault injector lets tests make
// the k-th call fail.
import { BPF_CMD, nameOf } from '../common/uapi';
import { KernelError, errnoNumber } from './errors';
import { offerQuickExit } from './exit-now';
import { requireKoffi } from './koffi-load';

/** A file descriptor number owned by this process. */
export type Fd = number;

interface Libc {
  syscall: (...args: unknown[]) => number | bigint;
  close: (fd: number) => number;
  dup2: (oldfd: number, newfd: number) => number;
  dup3: (oldfd: number, newfd: number, flags: number) => number;
  memfdCreate: (name: string, flags: number) => number;
  sysconf: (name: number) => number | bigint;
  renameat2: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number) => number;
  errno: () => number;
  address: (buf: Uint8Array) => bigint;
  mmap: (addr: null, length: number, prot: number, flags: number, fd: number, offset: number) => unknown;
  mmapAt: (addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number) => unknown;
  munmap: (addr: unknown, length: number) => number;
  pointerValue: (p: unknown) => bigint;
  view: (p: unknown, length: number) => ArrayBuffer;
}

let libc: Libc | undefined;

/** SYS_bpf for this process's architecture. */
export function sysBpfNumber(arch = process.arch): number {
  switch (arch) {
    case 'x64':
      return 321;
    case 'arm64':
      return 280;
    default:
      throw new Error(`bpf(2): architecture ${arch} is not supported (x64 and arm64 are)`);
  }
}

function load(): Libc {
  if (libc) return libc;
  if (process.platform !== 'linux') throw new Error('bpf(2) exists only on Linux');
  // koffi's declarations are untyped function objects; Libc above is their typed face.
  const koffi = requireKoffi();
  const lib = koffi.load('libc.so.6');
  const memfd = lib.func('int memfd_create(const char *name, unsigned int flags)');
  libc = {
    syscall: lib.func('long syscall(long number, ...)'),
    close: lib.func('int close(int fd)'),
    dup2: lib.func('int dup2(int oldfd, int newfd)'),
    dup3: lib.func('int dup3(int oldfd, int newfd, int flags)'),
    memfdCreate: memfd,
    sysconf: lib.func('long sysconf(int name)'),
    renameat2: lib.func('int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)'),
    errno: () => koffi.errno(),
    address: (buf: Uint8Array) => BigInt(koffi.address(buf)),
    mmap: lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)'),
    mmapAt: lib.func('void *mmap(uintptr_t addr, size_t length, int prot, int flags, int fd, long offset)'),
    munmap: lib.func('int munmap(void *addr, size_t length)'),
    pointerValue: (p: unknown) => (p === null ? 0n : BigInt(koffi.address(p))),
    view: (p: unknown, length: number) => koffi.view(p, length),
  };
  offerQuickExit(lib.func('void _exit(int status)'));
  return libc;
}

/**
 * The user-space address of a buffer, for a `ptr` field of bpf_attr. The caller must keep the
 * buffer referenced until the syscall returns (Node never moves a Buffer's bytes).
 */
export function addressOf(buf: Uint8Array | undefined): bigint {
  if (!buf || buf.length === 0) return 0n;
  return load().address(buf);
}

// ---- fault injection -------------------------------------------------------------------

/** Returns an errno name or number to make call number `n` (1-based, since it was set) fail. */
export type FaultInjector = (command: string, n: number) => number | string | undefined;

let injector: FaultInjector | undefined;
let injectedCalls = 0;

/** Installs (or with undefined removes) a fault injector; the call counter restarts at 1. */
export function setFaultInjector(f: FaultInjector | undefined): void {
  injector = f;
  injectedCalls = 0;
}

/** The fault the injector chose for `command` (counting it as a call), or undefined: for calls made outside this file. */
export function injectedFault(command: string): number | undefined {
  return injected(command);
}

function injected(command: string): number | undefined {
  if (!injector) return undefined;
  const r = injector(command, ++injectedCalls);
  if (r === undefined) return undefined;
  if (typeof r === 'number') return r;
  return errnoNumber(r);
}

// ---- FD tracking ------------------------------------------------------------------------

const trackers = new Set<FdTracker>();

/**
 * Records every FD created through this layer while it is active, so a failed load can close
 * all of them: `const t = new FdTracker(); try { ... } catch { t.closeAll() } finally { t.stop() }`.
 */
export class FdTracker {
  private readonly fds = new Map<Fd, string>();

  constructor() {
    trackers.add(this);
  }

  /** Stops recording new FDs (what it recorded stays). */
  stop(): void {
    trackers.delete(this);
  }

  /** Records new FDs again after stop(). */
  resume(): void {
    trackers.add(this);
  }

  /** FDs recorded and not closed since, with what made them (`BPF_MAP_CREATE`). */
  get open(): ReadonlyMap<Fd, string> {
    return this.fds;
  }

  /** Hands an FD to someone else: closeAll will leave it open. */
  forget(fd: Fd): void {
    this.fds.delete(fd);
  }

  /** Closes every recorded FD still open (newest first); returns how many it closed. */
  closeAll(): number {
    const fds = [...this.fds.keys()].reverse();
    for (const fd of fds) closeFd(fd);
    this.fds.clear();
    return fds.length;
  }

  /** @internal */
  record(fd: Fd, what: string): void {
    this.fds.set(fd, what);
  }

  /** @internal */
  dropped(fd: Fd): void {
    this.fds.delete(fd);
  }
}

function created(fd: Fd, what: string): Fd {
  for (const t of trackers) t.record(fd, what);
  return fd;
}

// ---- calls ---------------------------------------------------------------------------------

/** Commands whose successful result is a new FD. */
const FD_COMMANDS = new Set<number>([
  BPF_CMD.BPF_MAP_CREATE,
  BPF_CMD.BPF_PROG_LOAD,
  BPF_CMD.BPF_OBJ_GET,
  BPF_CMD.BPF_PROG_GET_FD_BY_ID,
  BPF_CMD.BPF_MAP_GET_FD_BY_ID,
  BPF_CMD.BPF_RAW_TRACEPOINT_OPEN,
  BPF_CMD.BPF_BTF_LOAD,
  BPF_CMD.BPF_BTF_GET_FD_BY_ID,
  BPF_CMD.BPF_LINK_CREATE,
  BPF_CMD.BPF_LINK_GET_FD_BY_ID,
  BPF_CMD.BPF_ITER_CREATE,
  BPF_CMD.BPF_ENABLE_STATS,
  BPF_CMD.BPF_TOKEN_CREATE,
]);

/** Name of a bpf(2) command (`BPF_PROG_LOAD`). */
export function bpfCommandName(cmd: number): string {
  return cmd === BPF_CMD.BPF_PROG_TEST_RUN ? 'BPF_PROG_TEST_RUN' : nameOf(BPF_CMD, cmd);
}

/**
 * Tries of a BPF_PROG_LOAD that answers EAGAIN, as libbpf's PROG_LOAD_ATTEMPTS: the verifier
 * stops with EAGAIN when a signal is pending (a profiler's SIGPROF every few µs, a signal storm).
 */
export const PROG_LOAD_ATTEMPTS = 5;

/** Tries of a call that answers EINTR. */
const EINTR_ATTEMPTS = 6;

/**
 * bpf(cmd, attr, attr.length). Returns the kernel's non-negative result (an FD for commands
 * that make one, recorded in the active trackers); throws KernelError on failure. Retries EINTR
 * and, for BPF_PROG_LOAD, EAGAIN (as libbpf does).
 */
export function bpf(cmd: number, attr: Buffer, context = ''): number {
  const name = bpfCommandName(cmd);
  const fake = injected(name);
  if (fake !== undefined) throw new KernelError(name, fake, context);
  const c = load();
  const nr = sysBpfNumber();
  for (let attempt = 0; ; attempt++) {
    // syscall() reads every argument as a long: pass them as such.
    const r = Number(c.syscall(nr, 'long', cmd, 'void *', attr, 'long', attr.length));
    if (r >= 0) return FD_COMMANDS.has(cmd) ? created(r, name) : r;
    const errno = c.errno();
    const eintr = errno === 4;
    const eagain = errno === 11 && cmd === BPF_CMD.BPF_PROG_LOAD;
    if ((eintr && attempt < EINTR_ATTEMPTS - 1) || (eagain && attempt < PROG_LOAD_ATTEMPTS - 1)) continue;
    const hint = eagain
      ? `a signal interrupted the verifier in each of ${PROG_LOAD_ATTEMPTS} tries (libbpf gives up after as many)`
      : undefined;
    throw new KernelError(name, errno, context, undefined, false, hint);
  }
}

/** Closes an FD (and tells the trackers). Errors other than EBADF are ignored: nothing to do. */
export function closeFd(fd: Fd): void {
  if (fd < 0) return;
  for (const t of trackers) t.dropped(fd);
  load().close(fd);
}

function check(name: string, r: number, context: string): number {
  if (r >= 0) return r;
  throw new KernelError(name, load().errno(), context);
}

/**
 * Makes `newFd` refer to what `oldFd` refers to (closing what newFd was). The loader's
 * placeholder FDs become real maps this way, so instructions keep the FD they were given.
 */
export function dup2(oldFd: Fd, newFd: Fd, context = ''): Fd {
  const fake = injected('dup2');
  if (fake !== undefined) throw new KernelError('dup2', fake, context);
  return check('dup2', load().dup2(oldFd, newFd), context);
}

export const O_CLOEXEC = 0o2000000;

/** dup3 with O_CLOEXEC by default (dup2 that cannot leak into children). */
export function dup3(oldFd: Fd, newFd: Fd, flags = O_CLOEXEC, context = ''): Fd {
  const fake = injected('dup3');
  if (fake !== undefined) throw new KernelError('dup3', fake, context);
  return check('dup3', load().dup3(oldFd, newFd, flags), context);
}

export const MFD_CLOEXEC = 1;

/** An empty memfd: a placeholder FD that a real object is later dup2-ed onto (libbpf's trick). */
export function memfdCreate(name = 'bpf-lens-placeholder', flags = MFD_CLOEXEC, context = ''): Fd {
  const fake = injected('memfd_create');
  if (fake !== undefined) throw new KernelError('memfd_create', fake, context);
  return created(check('memfd_create', load().memfdCreate(name, flags), context), 'memfd_create');
}

// ---- other system calls (perf events, ioctl, mount) ------------------------------------------

/** Numbers of the other system calls BPF Lens makes, per architecture. */
const SYSCALL_NUMBERS = {
  perf_event_open: { x64: 298, arm64: 241 },
  epoll_create1: { x64: 291, arm64: 20 },
  epoll_ctl: { x64: 233, arm64: 21 },
  // arm64 has no epoll_wait: epoll_pwait with a NULL mask is the same call on both.
  epoll_pwait: { x64: 281, arm64: 22 },
  ioctl: { x64: 16, arm64: 29 },
  mount: { x64: 165, arm64: 40 },
  // rtnetlink (tc filters where the kernel has no tcx links)
  socket: { x64: 41, arm64: 198 },
  bind: { x64: 49, arm64: 200 },
  sendto: { x64: 44, arm64: 206 },
  recvfrom: { x64: 45, arm64: 207 },
  setsockopt: { x64: 54, arm64: 208 },
} as const;

export type SyscallName = keyof typeof SYSCALL_NUMBERS;

export function syscallNumber(name: SyscallName, arch = process.arch): number {
  const n = (SYSCALL_NUMBERS[name] as Record<string, number>)[arch];
  if (n === undefined) throw new Error(`${name}: architecture ${arch} is not supported (x64 and arm64 are)`);
  return n;
}

/** One argument of a raw system call: a number (passed as a long) or a buffer (its address). */
export type SyscallArg = number | bigint | Buffer;

/**
 * syscall(name, args...) for calls other than bpf(2). `command` names it in errors and for the
 * fault injector (`perf_event_open`, `ioctl(PERF_EVENT_IOC_SET_BPF)`); `makesFd` records the
 * result in the active FdTrackers. Retries EINTR. `inject: false` for calls whose caller injects
 * faults itself at a better place (a netlink request as a whole).
 */
export function sysCall(
  name: SyscallName,
  command: string,
  args: readonly SyscallArg[],
  makesFd: boolean,
  context = '',
  inject = true,
): number {
  const fake = inject ? injected(command) : undefined;
  if (fake !== undefined) throw new KernelError(command, fake, context);
  const c = load();
  const typed: unknown[] = [];
  for (const a of args) typed.push(...(Buffer.isBuffer(a) ? ['void *', a] : ['long', a]));
  for (let attempt = 0; ; attempt++) {
    const r = Number(c.syscall(syscallNumber(name), ...typed));
    if (r >= 0) return makesFd ? created(r, command) : r;
    const errno = c.errno();
    if (errno === 4 && attempt < 5) continue;
    throw new KernelError(command, errno, context);
  }
}

/** Records an FD made outside bpf(2)/sysCall (an open(2) by Node) in the active trackers. */
export function recordFd(fd: Fd, what: string): Fd {
  return created(fd, what);
}

/** sysconf's _SC_PAGESIZE (the same number on every Linux architecture glibc supports). */
const SC_PAGESIZE = 30;
let page: number | undefined;

/**
 * The page size of this machine (4K on x86_64; 4K, 16K or 64K on arm64), as libbpf asks
 * sysconf for it: ring buffer sizes are multiples of it.
 */
export function pageSize(): number {
  if (page !== undefined) return page;
  const r = Number(load().sysconf(SC_PAGESIZE));
  if (!(r > 0) || (r & (r - 1)) !== 0) throw new KernelError('sysconf', load().errno() || 22, `_SC_PAGESIZE gave ${r}`);
  return (page = r);
}

const AT_FDCWD = -100;
const RENAME_NOREPLACE = 1;

/** rename(2) that fails with EEXIST instead of replacing `to` (renameat2 RENAME_NOREPLACE). */
export function renameNoReplace(from: string, to: string, context = ''): void {
  const fake = injected('renameat2');
  if (fake !== undefined) throw new KernelError('renameat2', fake, context);
  check('renameat2', load().renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE), context);
}

// ---- shared memory (ring buffers, perf buffers) ----------------------------------------------

export const PROT_READ = 1;
export const PROT_WRITE = 2;
const MAP_SHARED = 1;
/** MAP_FIXED that fails with EEXIST instead of replacing what is mapped there (Linux 4.17). */
const MAP_FIXED_NOREPLACE = 0x100000;
const MAP_FAILED = 0xffffffffffffffffn;

/**
 * A MAP_SHARED mapping of an FD: `bytes` reads and writes the kernel's pages directly. It must
 * not be touched after unmap() (the memory is gone: a read would fault the process), so holders
 * drop it when they unmap.
 */
export interface Mapping {
  readonly bytes: ArrayBuffer;
  readonly length: number;
  /** munmap; a second call does nothing. */
  unmap(): void;
}

const MAP_PRIVATE = 2;

/**
 * A whole regular file mapped MAP_PRIVATE for the rest of the process, or undefined when it
 * cannot be. Only the pages read are faulted in (reading a 5.5 MB vmlinux BTF copy into fresh
 * memory costs ~20 ms of page faults; a CO-RE load touches a few hundred pages of it); writes
 * land in private pages (the index decoder marks chain ends in place). Never unmapped, so views
 * stay valid; meant for files only ever replaced by rename, never rewritten in place (a file
 * cut short under a mapping faults the process).
 */
export function mapFilePrivate(fd: Fd, length: number): Uint8Array | undefined {
  if (length <= 0) return undefined;
  const c = load();
  const p = c.mmap(null, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (p === null || c.pointerValue(p) === MAP_FAILED) return undefined;
  return new Uint8Array(c.view(p, length));
}

const liveMappings = new Set<Mapping>();

/** How many mappings made here are not unmapped yet (tests check that a stop leaves none). */
export function mappingCount(): number {
  return liveMappings.size;
}

/**
 * mmap(NULL, length, PROT_READ[|PROT_WRITE], MAP_SHARED, fd, offset); with `at`, exactly there
 * (an ARENA map created with map_extra), never over something already mapped: EEXIST.
 */
export function mmapFd(fd: Fd, length: number, prot: number, offset: number, context = '', at?: bigint): Mapping {
  const fake = injected('mmap');
  if (fake !== undefined) throw new KernelError('mmap', fake, context);
  const c = load();
  const p = at
    ? c.mmapAt(at, length, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, offset)
    : c.mmap(null, length, prot, MAP_SHARED, fd, offset);
  if (c.pointerValue(p) === MAP_FAILED || p === null) throw new KernelError('mmap', c.errno(), context);
  if (at && c.pointerValue(p) !== at) {
    // a kernel without MAP_FIXED_NOREPLACE takes the address as a hint only
    c.munmap(p, length);
    throw new KernelError('mmap', 17, `${context}: the kernel placed it elsewhere than 0x${at.toString(16)}`);
  }
  const bytes = c.view(p, length);
  let mapped = true;
  const m: Mapping = {
    bytes,
    length,
    unmap() {
      if (!mapped) return;
      mapped = false;
      liveMappings.delete(m);
      c.munmap(p, length);
    },
  };
  liveMappings.add(m);
  return m;
}
