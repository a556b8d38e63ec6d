// Legacy kprobes through tracefs, where the kernel has no kprobe PMU: an entry appended to
// kprobe_events (`p:kprobes/NAME func+0xOFF`, `r:kretprobes/NAME ...`) makes a tracepoint
// whose id perf_event_open takes; `-:GROUP/NAME` removes it. As libbpf's
// add_kprobe_event_legacy / remove_kprobe_event_legacy.
import { closeSync, constants, existsSync, openSync, writeSync } from 'fs';
import { tracefsRoot } from './attach-points';
import { KernelError, errnoNumber } from './errors';
import { injectedFault } from './sys';

/** The tracefs group a legacy probe lives in. */
export const kprobeGroup = (retprobe: boolean) => (retprobe ? 'kretprobes' : 'kprobes');

/** `<tracefs>/kprobe_events`, or undefined when this kernel has none (no CONFIG_KPROBE_EVENTS). */
export function kprobeEventsFile(): string | undefined {
  let root: string;
  try {
    root = tracefsRoot();
  } catch {
    return undefined;
  }
  const f = `${root}/kprobe_events`;
  return existsSync(f) ? f : undefined;
}

const EVENT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const FUNC_NAME = /^[A-Za-z_.$][\w.$]*$/;

function append(line: string, command: string, context: string): void {
  const fake = injectedFault(command);
  if (fake !== undefined) throw new KernelError(command, fake, context);
  const file = kprobeEventsFile();
  if (!file) throw new KernelError(command, errnoNumber('ENOENT'), context, undefined, false, 'no tracefs kprobe_events on this kernel');
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_APPEND);
    writeSync(fd, `${line}\n`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let errno: number;
    try {
      errno = errnoNumber(code ?? 'EIO');
    } catch {
      errno = errnoNumber('EIO');
    }
    throw new KernelError(command, errno, context, undefined, false, `writing "${line}" to ${file} (see its error_log)`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Adds `p:kprobes/NAME func+0xOFF` (or `r:kretprobes/...`); its tracepoint is events/GROUP/NAME. */
export function kprobeEventAdd(name: string, func: string, offset: bigint, retprobe: boolean, context = ''): void {
  if (!EVENT_NAME.test(name) || !FUNC_NAME.test(func) || offset < 0n)
    throw new KernelError('write(kprobe_events)', errnoNumber('EINVAL'), context, undefined, false, `not a probe name: ${name} ${func}`);
  const group = kprobeGroup(retprobe);
  append(`${retprobe ? 'r' : 'p'}:${group}/${name} ${func}+0x${offset.toString(16)}`, 'write(kprobe_events)', context);
}

/** Removes the entry (its perf events must be closed first, else the kernel answers EBUSY). */
export function kprobeEventRemove(name: string, retprobe: boolean, context = ''): void {
  if (!EVENT_NAME.test(name)) throw new KernelError('write(kprobe_events)', errnoNumber('EINVAL'), context);
  append(`-:${kprobeGroup(retprobe)}/${name}`, 'write(kprobe_events remove)', context);
}
