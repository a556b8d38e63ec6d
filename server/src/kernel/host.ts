// What a load reads from the kernel besides bpf(2): its config (/proc/config.gz, else
// /boot/config-<release>) and its symbols (/proc/kallsyms). Text only; parsing is load/'s.
import { existsSync, readFileSync } from 'fs';
import * as os from 'os';
import { gunzipSync } from 'zlib';

/** This machine's kernel config text; undefined when neither /proc/config.gz nor /boot/config-<release> exists. */
export function kconfigText(release = os.release()): string | undefined {
  try {
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
