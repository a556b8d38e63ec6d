import type { KernelTarget } from '../targets/target';
import type { CliIo } from './command';
import { openCliTarget } from './target-args';

export interface TargetChoice {
  /** `--target`; undefined: this kernel, in-process. */
  readonly target?: string;
  /** false: `--no-sudo`. */
  readonly sudo: boolean;
  /** false: through the agent even for `--target local` (what probe checks); default: in-process only without `--target`. */
  readonly inProcess?: boolean;
}

/**
 * How a command uses its one target: opens it (openCliTarget: a VM says that it boots), runs
 * `f`, closes it. A target that cannot be used, when opened or later, prints as every command
 * prints it (exit 2). Other errors: `bpf-lens <command>: message` and exit 1 when `command` is
 * given, else they propagate.
 */
export async function onTarget(o: TargetChoice, io: CliIo, f: (t: KernelTarget) => Promise<number>, command?: string): Promise<number> {
  const { formatTargetError, TargetError } = await import('../remote/errors');
  let target: KernelTarget;
  try {
    const spec = o.target ?? 'local';
    target = await openCliTarget(spec, io, { inProcess: o.inProcess ?? o.target === undefined, ...(o.sudo ? {} : { sudo: false }) });
  } catch (e) {
    if (!(e instanceof TargetError)) throw e;
    io.err(formatTargetError(e));
    return 2;
  }
  try {
    return await f(target);
  } catch (e) {
    if (e instanceof TargetError) {
      io.err(formatTargetError(e));
      return 2;
    }
    if (command === undefined) throw e;
    io.err(`bpf-lens ${command}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await target.close();
  }
}
