/**
 * Runs BTF dumps in worker threads (lsp-worker.ts) so that a vmlinux C dump does not stall
 * hovers. Two lanes: one slow dump does not queue every other behind it. Each dump has a
 * time limit and can be cancelled; either terminates its worker (a new one starts for the
 * next job), and a worker's heap is capped, so hostile BTF costs a worker, not the server.
 * Without the worker file (an unusual bundle) the server dumps inline.
 */
import { existsSync } from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { DumpJob, DumpReply } from './lsp-worker';

const LANES = 2;
/** A vmlinux C dump takes about half a second; a minute is for slow machines. */
export const DUMP_TIMEOUT_MS = 60_000;
const WORKER_HEAP_MB = 1536;

/** What a request gives to be told of cancellation (vscode-languageserver's CancellationToken). */
export interface Cancel {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): unknown;
}

interface Pending {
  readonly job: DumpJob;
  resolve(t: string): void;
  reject(e: Error): void;
  done: boolean;
}

interface Lane {
  worker?: Worker;
  running?: Pending;
  timer?: NodeJS.Timeout;
}

export class DumpPool {
  private readonly lanes: Lane[] = Array.from({ length: LANES }, () => ({}));
  private readonly queue: Pending[] = [];
  private next = 1;
  private readonly file: string;

  constructor(
    private readonly timeoutMs = DUMP_TIMEOUT_MS,
    file = path.join(__dirname, 'lsp-worker.js'),
  ) {
    this.file = file;
  }

  get available(): boolean {
    return existsSync(this.file);
  }

  dump(job: Omit<DumpJob, 'id'>, cancel?: Cancel): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const p: Pending = { job: { ...job, id: this.next++ }, resolve, reject, done: false };
      if (cancel?.isCancellationRequested) return reject(new Error('cancelled'));
      cancel?.onCancellationRequested(() => this.stop(p, new Error(`the ${job.kind} dump of ${job.path} was cancelled`)));
      this.queue.push(p);
      this.pump();
    });
  }

  /** Starts queued jobs on free lanes. */
  private pump(): void {
    for (const lane of this.lanes) {
      if (lane.running) continue;
      const p = this.queue.shift();
      if (!p) return;
      lane.running = p;
      const w = this.worker(lane);
      lane.timer = setTimeout(
        () => this.stop(p, new Error(`the ${p.job.kind} dump of ${p.job.path} took longer than ${this.timeoutMs / 1000} s: stopped`)),
        this.timeoutMs,
      );
      w.postMessage(p.job);
    }
  }

  private worker(lane: Lane): Worker {
    if (lane.worker) return lane.worker;
    const w = new Worker(this.file, { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    w.unref();
    w.on('message', (r: DumpReply) => {
      const p = lane.running;
      if (!p || p.job.id !== r.id) return;
      this.finish(lane, p);
      if ('error' in r) p.reject(new Error(r.error));
      else p.resolve(r.text);
      this.pump();
    });
    const gone = (e: Error) => {
      if (lane.worker !== w) return;
      lane.worker = undefined;
      const p = lane.running;
      if (p) {
        this.finish(lane, p);
        p.reject(new Error(`the ${p.job.kind} dump of ${p.job.path} failed: ${e.message}`));
      }
      this.pump();
    };
    w.on('error', gone);
    w.on('exit', (code) => gone(new Error(`the dump worker exited (${code})`)));
    return (lane.worker = w);
  }

  private finish(lane: Lane, p: Pending): void {
    p.done = true;
    clearTimeout(lane.timer);
    lane.running = undefined;
  }

  /** Ends a job: dropped from the queue, or its worker terminated. */
  private stop(p: Pending, why: Error): void {
    if (p.done) return;
    const q = this.queue.indexOf(p);
    if (q >= 0) {
      this.queue.splice(q, 1);
      p.done = true;
      p.reject(why);
      return;
    }
    const lane = this.lanes.find((l) => l.running === p);
    if (!lane) return;
    const w = lane.worker;
    lane.worker = undefined;
    this.finish(lane, p);
    p.reject(why);
    void w?.terminate();
    this.pump();
  }

  dispose(): void {
    for (const p of this.queue.splice(0)) p.reject(new Error('the server is shutting down'));
    for (const lane of this.lanes) {
      clearTimeout(lane.timer);
      void lane.worker?.terminate();
      lane.worker = undefined;
    }
  }
}
