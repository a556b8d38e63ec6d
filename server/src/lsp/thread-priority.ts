/**
 * Background threads (the workspace readers) run at a lower priority than the server thread:
 * on a two-core machine a reader and the garbage collector's helpers otherwise take the core a
 * hover needs. clangd lowers its background index threads for the same reason.
 */
import { readlinkSync } from 'fs';
import { getPriority, setPriority } from 'os';

/** Nice value of a background thread: under contention the scheduler gives it about a tenth of a core. */
export const BACKGROUND_NICE = 10;

/**
 * This thread's id: `/proc/thread-self` links to `<pid>/task/<tid>`. Undefined off Linux, where
 * a process id would lower the whole server instead.
 */
function threadId(): number | undefined {
  try {
    const link = readlinkSync('/proc/thread-self');
    const tid = Number(link.slice(link.lastIndexOf('/') + 1));
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lowers the calling thread's priority to `nice` (Linux: setpriority on a thread id sets that
 * thread's). Where it cannot, the thread keeps its priority: that costs hovers time, not
 * correctness.
 */
export function lowerThisThread(nice: number): void {
  const tid = threadId();
  if (tid === undefined) return;
  try {
    if (getPriority(tid) < nice) setPriority(tid, nice);
  } catch {
    // refused (a seccomp filter, another OS's semantics): run at the priority we have
  }
}
