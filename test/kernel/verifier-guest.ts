// Runs inside a qemu guest (see verifier-qemu.test.ts): loads each verifier_* fixture with BPF
// Lens's pipeline at log levels 1 and 2 and prints the guest kernel's verifier logs as one JSON line.
import { readdirSync, readFileSync } from 'fs';
import { localKernel, systemInfo } from '../../server/src/kernel';
import { loadObject } from '../../server/src/load';
import { LoadError } from '../../server/src/load/types';
import { openObject } from '../../server/src/object';
import { writeGuestResult } from './guest-result';

const [fixtures, kconfigFile] = process.argv.slice(2);
const kconfig = readFileSync(kconfigFile, 'latin1');

/** A log of a million instructions is a hundred megabytes of serial console: keep its head and tail. */
export function capLog(log: string, head = 200, tail = 2000): string {
  const lines = log.split('\n');
  if (lines.length <= head + tail) return log;
  return [...lines.slice(0, head), ...lines.slice(-tail)].join('\n');
}

/** The log of one load: the rejection's, or the loaded programs' (level > 0 asked for). */
function logOf(file: string, level: number): { rejected: boolean; log: string } {
  const obj = openObject(new Uint8Array(readFileSync(`${fixtures}/${file}`)), file);
  try {
    const r = loadObject(obj, { kernel: localKernel, kconfig, logLevel: level });
    r.close();
    return { rejected: false, log: capLog(r.programs.map((p) => p.log ?? '').join('\n')) };
  } catch (e) {
    if (e instanceof LoadError) return { rejected: true, log: capLog(e.details.log ?? `NOT VERIFIER: ${e.message}`) };
    return { rejected: true, log: `ERROR ${String(e)}` };
  }
}

writeGuestResult(() => {
  const logs: Record<string, Record<number, { rejected: boolean; log: string }>> = {};
  const files = readdirSync(fixtures)
    .filter((f) => /^verifier_[a-z_]+\.o$/.test(f))
    .sort();
  for (const f of files) {
    // a level-2 log of a program that runs to the 1M-instruction limit is megabytes of console
    const levels = f.includes('too_large') ? [1] : [1, 2];
    logs[f.replace(/\.o$/, '')] = Object.fromEntries(levels.map((l) => [l, logOf(f, l)]));
  }
  return { release: systemInfo().release, logs };
});
