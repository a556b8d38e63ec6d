// Where attach points live on this system: tracefs (tracepoint ids, mounted when absent), the
// dynamic PMUs (kprobe/uprobe type and retprobe bit), online CPUs, interfaces, and FDs for
// cgroups and network namespaces. Reads sysfs/procfs; the only write is mounting tracefs.
import { constants, existsSync, openSync, readFileSync, readSync } from 'fs';
import { KernelError, errnoNumber } from './errors';
import { type Fd, recordFd, sysCall } from './sys';

const TRACEFS_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** The tracefs root with an `events/` directory; mounts tracefs at /sys/kernel/tracing if none is. */
export function tracefsRoot(): string {
  for (const r of TRACEFS_ROOTS) if (existsSync(`${r}/events`)) return r;
  const target = TRACEFS_ROOTS[0];
  const z = (s: string) => Buffer.from(`${s}\0`);
  sysCall('mount', 'mount(tracefs)', [z('nodev'), z(target), z('tracefs'), 0, 0], false, `mounting tracefs at ${target}`);
  return target;
}

const TRACEFS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The id of tracepoint `category:name` (tracefs `events/<category>/<name>/id`). */
export function tracepointId(category: string, name: string): number {
  const what = `tracepoint ${category}:${name}`;
  if (!TRACEFS_NAME.test(category) || !TRACEFS_NAME.test(name) || category.includes('..') || name.includes('..')) {
    throw new KernelError('tracepoint id', errnoNumber('EINVAL'), what, undefined, false, 'not a tracepoint name');
  }
  const file = `${tracefsRoot()}/events/${category}/${name}/id`;
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (e) {
    throw new KernelError('tracepoint id', errnoOf(e), what, undefined, false, `no ${file}: this kernel has no such tracepoint`);
  }
  const id = Number(text.trim());
  if (!Number.isInteger(id) || id < 0)
    throw new KernelError('tracepoint id', errnoNumber('EINVAL'), what, undefined, false, `${file} holds "${text.trim()}"`);
  return id;
}

/** A dynamic PMU (`kprobe`, `uprobe`): its perf type and which config bit makes a return probe. */
export interface PmuInfo {
  readonly type: number;
  readonly retprobeBit?: number;
  /** uprobe: the first config bit of the reference counter (USDT semaphore) offset, when the kernel takes one (4.20+). */
  readonly refCtrOffsetBit?: number;
}

/** The PMU's type from /sys/bus/event_source/devices/<name>; undefined when the kernel has none. */
export function pmuInfo(name: 'kprobe' | 'uprobe'): PmuInfo | undefined {
  const dir = `/sys/bus/event_source/devices/${name}`;
  let type: number;
  try {
    type = Number(readFileSync(`${dir}/type`, 'latin1').trim());
  } catch {
    return undefined;
  }
  let retprobeBit: number | undefined;
  try {
    const m = /^config:(\d+)/.exec(readFileSync(`${dir}/format/retprobe`, 'latin1').trim());
    if (m) retprobeBit = Number(m[1]);
  } catch {
    // no retprobe format: return probes cannot be made through this PMU
  }
  let refCtrOffsetBit: number | undefined;
  try {
    const m = /^config:(\d+)/.exec(readFileSync(`${dir}/format/ref_ctr_offset`, 'latin1').trim());
    if (m) refCtrOffsetBit = Number(m[1]);
  } catch {
    // no reference counters: USDT semaphores cannot be maintained by this kernel
  }
  return Number.isInteger(type) ? { type, retprobeBit, refCtrOffsetBit } : undefined;
}

/** Parses a sysfs CPU list ("0-3,5"). */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a) || (b !== undefined && !Number.isInteger(b))) throw new Error(`bad CPU list "${text.trim()}"`);
    for (let c = a; c <= (b ?? a); c++) cpus.push(c);
  }
  return cpus;
}

/** CPUs online now (sampling perf events are opened on each). */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'latin1'));
}

/** An interface's index from its name (or a number given as text), in this network namespace. */
export function ifIndex(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  if (!/^[^/\s.][^/\s]{0,15}$/.test(name))
    throw new KernelError('if_nametoindex', errnoNumber('EINVAL'), `interface "${name}"`, undefined, false, 'not an interface name');
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'latin1').trim());
  } catch (e) {
    throw new KernelError('if_nametoindex', errnoOf(e), `interface "${name}"`, undefined, false, 'no such network interface here');
  }
}

/**
 * An FD for a cgroup directory or a network namespace file (`/proc/self/ns/net`,
 * `/var/run/netns/NAME`): the target_fd of links and PROG_ATTACH. Recorded like every FD here.
 */
export function openPath(path: string, kind: 'cgroup' | 'netns'): Fd {
  const flags = constants.O_RDONLY | (kind === 'cgroup' ? constants.O_DIRECTORY : 0) | 0o2000000; /* O_CLOEXEC */
  try {
    return recordFd(openSync(path, flags), `open(${kind})`);
  } catch (e) {
    throw new KernelError(
      'open',
      errnoOf(e),
      `${kind} ${path}`,
      undefined,
      false,
      kind === 'cgroup' ? 'not a cgroup directory' : 'not a network namespace',
    );
  }
}

/** Reads an FD to its end (a BPF iterator's output). */
export function readAll(fd: Fd, context = ''): Uint8Array {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EINTR') continue;
      throw new KernelError('read', errnoOf(e), context);
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function errnoOf(e: unknown): number {
  const code = (e as NodeJS.ErrnoException)?.code;
  try {
    return code ? errnoNumber(code) : errnoNumber('EIO');
  } catch {
    return errnoNumber('EIO');
  }
}
