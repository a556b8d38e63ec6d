/**
 * `--target` as every command reads it: `local`, `vm:IMAGE[,...]` or an SSH host, given once
 * or (load, verify) several times. A `vm:` spelling that does not parse is a usage error
 * (an unknown option, a bad number); an SSH spelling is checked when it is opened.
 */
import { badTargetTimeout, parseVmSpec, TARGET_TIMEOUT_DEFAULT_S } from '../../../protocol/target-spec';
import type { OpenTargetOptions } from '../targets';
import type { KernelTarget } from '../targets/target';
import { type CliIo, UsageError } from './command';

export const TARGET_FORMS = 'local|vm:IMAGE[,modules=DIR][,memory=MB][,cpus=N][,insmod=MODULE]...|ssh://[user@]host[:port]|HOST';

export function checkTargetSpecs(specs: readonly string[]): void {
  for (const s of specs) {
    if (!s.startsWith('vm:')) continue;
    const r = parseVmSpec(s);
    if (!r.ok) throw new UsageError(r.reason);
  }
}

/** `--parallel N` (targets at once) and `--timeout SECONDS` (per target). */
export function fanoutArgs(parallel: string | undefined, timeout: string | undefined): { parallel: number; timeoutMs: number } {
  const p = parallel !== undefined ? Number(parallel) : 4;
  if (!Number.isInteger(p) || p < 1 || p > 64) throw new UsageError(`--parallel wants 1..64 targets at once, not '${parallel}'`);
  const t = timeout !== undefined ? Number(timeout) : TARGET_TIMEOUT_DEFAULT_S;
  if (badTargetTimeout(t)) throw new UsageError(`--timeout wants seconds per target, not '${timeout}'`);
  return { parallel: p, timeoutMs: t * 1000 };
}

/** Opens a target for a command; a VM says on stderr that it boots, under which accelerator, and when it is up. */
export async function openCliTarget(spec: string, io: CliIo, o: OpenTargetOptions = {}): Promise<KernelTarget> {
  const { openTarget } = await import('../targets');
  return openTarget(spec, { ...o, ...(spec.startsWith('vm:') ? { onStatus: (l: string) => io.err(`bpf-lens: ${l}\n`) } : {}) });
}
