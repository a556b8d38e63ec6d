/**
 * BTF dumps in worker threads (lsp-worker.ts) so that a vmlinux C dump does not stall
 * hovers. Two lanes: one slow dump does not queue every other behind it. Without the worker
 * file (an unusual bundle) the server dumps inline.
 */
import type { DumpJob } from './lsp-worker';
import { type Cancel, WorkerPool } from './worker-pool';

export type { Cancel } from './worker-pool';

const LANES = 2;
/** A vmlinux C dump takes about half a second; a minute is for slow machines. */
export const DUMP_TIMEOUT_MS = 60_000;

export class DumpPool {
  private readonly pool: WorkerPool;

  constructor(timeoutMs = DUMP_TIMEOUT_MS, file?: string) {
    this.pool = new WorkerPool({ lanes: LANES, timeoutMs, ...(file ? { file } : {}) });
  }

  get available(): boolean {
    return this.pool.available;
  }

  dump(job: Omit<DumpJob, 'id'>, cancel?: Cancel): Promise<string> {
    return this.pool.run<string>(job, cancel);
  }

  dispose(): void {
    this.pool.dispose();
  }
}
