// What a load reads from the host besides bpf(2): its kernel config (/proc/config.gz, else
// /boot/config-<release>), its symbols (/proc/kallsyms), whether a PID lives. Text only;
// parsing is load/'s.
import { existsSync, readFileSync, readlinkSync } from 'fs';
import * as os from 'os';
import type * as Zlib from 'zlib';

/** This machine's kernel config text; undefined when neither /proc/config.gz nor /boot/config-<release> exists. */
export function kconfigText(release = os.release()): string | undefined {
  try {
    // zlib on demand: most loads never read the config, and loading zlib costs every cold process
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { gunzipSync } = require('zlib') as typeof Zlib;
    if (existsSync('/proc/config.gz')) return gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
  } catch {
    // unreadable: try /boot
  }
  const boot = `/boot/config-${release}`;
  return existsSync(boot) ? readFileSync(boot, 'latin1') : undefined;
}

/** /proc/kallsyms (addresses read as zero without CAP_SYSLOG). */
export function kallsymsText(): string {
  return readFileSync('/proc/kallsyms', 'latin1');
}

/** Whether process `pid` (of this PID namespace) still exists (EPERM: it does, someone else's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process's PID namespace (its inode number), so PIDs from other namespaces are not mistaken for ours. */
export function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}
