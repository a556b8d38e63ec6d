/**
 * Opens a KernelTarget by name: `local` in this process (when it may load here) or through an
 * agent (`local` under sudo -n, an SSH host). Front ends load, unload, list and test-run
 * through what this returns, whatever the kernel is.
 */
import type { ConnectOptions } from '../remote';
import type { KernelTarget } from './target';

export type { KernelTarget, LoadFailure, LoadOutcome, LoadRequest, LoadSummary, ProgressFn } from './target';
export { formatLoadFailureText, formatLoadJson, formatLoadText, type LoadJsonContext, type LoadTextContext } from './format';

export interface OpenTargetOptions extends ConnectOptions {
  /** `local` runs in this process (the pipeline and koffi here) rather than through an agent. */
  readonly inProcess?: boolean;
}

/** TargetError when the target cannot be reached; the kernel and the transport load lazily. */
export async function openTarget(spec: string, o: OpenTargetOptions = {}): Promise<KernelTarget> {
  if (spec === 'local' && o.inProcess) {
    const { LocalTarget } = await import('./local');
    return new LocalTarget();
  }
  const { connectTarget } = await import('../remote');
  const { AgentTarget } = await import('./agent');
  const { inProcess: _, ...connect } = o;
  return new AgentTarget(await connectTarget(spec, connect));
}
