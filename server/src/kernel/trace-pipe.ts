// The trace pipe (bpf_printk's output): tracefs's trace_pipe opened non-blocking (tracefs is
// mounted first when it is not), read without ever waiting.
import { constants, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'fs';
import { tracefsRoot } from './attach-points';
import { KernelError, errnoNumber } from './errors';
import { type Fd, recordFd } from './sys';

function errnoOf(e: unknown): number {
  const code = (e as NodeJS.ErrnoException)?.code;
  try {
    return code ? errnoNumber(code) : errnoNumber('EIO');
  } catch {
    return errnoNumber('EIO');
  }
}

/** Opens <tracefs>/trace_pipe O_RDONLY|O_NONBLOCK (libuv adds O_CLOEXEC), mounting tracefs when absent. */
export function tracePipeOpen(): Fd {
  const path = `${tracefsRoot()}/trace_pipe`;
  try {
    return recordFd(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), 'open(trace_pipe)');
  } catch (e) {
    const errno = errnoOf(e);
    const busy = (e as NodeJS.ErrnoException)?.code === 'EBUSY';
    throw new KernelError('open', errno, path, undefined, false, busy ? busyHint() : undefined);
  }
}

/**
 * The kernel lets one reader at a time hold trace_pipe (a second open is EBUSY), so the hint
 * names who holds it: the processes with an open FD on it, found under /proc.
 */
function busyHint(): string {
  const holders = tracePipeHolders();
  const who = holders.map((h) => `pid ${h.pid} (${h.comm})`).join(', ');
  return holders.length
    ? `only one reader may hold trace_pipe, and ${who} has it open`
    : 'only one reader may hold trace_pipe, and another process has it open (bpftool prog tracelog, cat trace_pipe, another BPF Lens)';
}

/** The processes (this one too) with the top-level trace_pipe open, by their /proc FD links; what cannot be read is skipped. */
export function tracePipeHolders(): { pid: number; comm: string }[] {
  const found: { pid: number; comm: string }[] = [];
  for (const pid of safeList('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    if (!safeList(`/proc/${pid}/fd`).some((fd) => isTopPipe(safeLink(`/proc/${pid}/fd/${fd}`)))) continue;
    let comm = '?';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      // gone meanwhile
    }
    found.push({ pid: Number(pid), comm });
  }
  return found;
}

/** The top-level pipe, through /sys/kernel/tracing or debugfs's tracing (an instance's pipe is its own). */
function isTopPipe(link: string | undefined): boolean {
  return link?.endsWith('/tracing/trace_pipe') ?? false;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeLink(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}

/** A task's name as /proc has it now, or undefined when the task is gone (or not visible here). */
export function taskComm(pid: number): string | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/** Reads what the FD has now into `buf`; 0 when nothing is ready (EAGAIN). */
export function readNonBlocking(fd: Fd, buf: Uint8Array, context = ''): number {
  for (;;) {
    try {
      return readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return 0;
      if (code === 'EINTR') continue;
      throw new KernelError('read', errnoOf(e), context);
    }
  }
}
