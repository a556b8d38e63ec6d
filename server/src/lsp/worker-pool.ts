/**
 * Jobs run in worker threads (lsp-worker.ts) on a few lanes, so that slow work (a vmlinux C
 * dump, parsing a thousand objects) does not stall hovers. Each job has a time limit and can
 * be cancelled; either terminates its worker (a new one starts for the next job), and a
 * worker's heap is capped, so hostile bytes cost a worker, not the server.
 */
import { existsSync } from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { WorkerJob, WorkerReply, WorkerSetup } from './lsp-worker';
import { BACKGROUND_NICE } from './thread-priority';

const WORKER_HEAP_MB = 1536;

/** What a request gives to be told of cancellation (vscode-languageserver's CancellationToken). */
export interface Cancel {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): unknown;
}

interface Pending {
  readonly job: WorkerJob;
  resolve(v: unknown): void;
  reject(e: Error): void;
  done: boolean;
}

interface Lane {
  worker?: Worker;
  /** Jobs posted to the worker, in order; the first is running. */
  sent: Pending[];
  timer?: NodeJS.Timeout;
}

export interface PoolOptions {
  readonly lanes: number;
  /** Jobs posted to a lane's worker ahead (default 1): more keep a worker busy through many short jobs. */
  readonly depth?: number;
  readonly timeoutMs: number;
  /** The worker script (default: lsp-worker.js beside this bundle). */
  readonly file?: string;
  /** Background work (reading the workspace): its threads yield the cores to the server thread. */
  readonly background?: boolean;
}

/** Names a job in errors: "the c dump of /x", "reading /x.o". */
export function jobName(job: WorkerJob): string {
  if (job.kind === 'index') return `reading ${job.path}`;
  if (job.kind === 'core') return `the CO-RE check of ${job.path}`;
  return `the ${job.kind} dump of ${job.path}`;
}

type JobInput = WorkerJob extends infer J ? (J extends WorkerJob ? Omit<J, 'id'> : never) : never;

export class WorkerPool {
  private readonly laneStates: Lane[];
  private readonly queue: Pending[] = [];
  private next = 1;
  readonly file: string;
  readonly timeoutMs: number;
  private readonly depth: number;
  private readonly setup: WorkerSetup;

  constructor(o: PoolOptions) {
    this.laneStates = Array.from({ length: o.lanes }, () => ({ sent: [] }));
    this.depth = Math.max(1, o.depth ?? 1);
    this.timeoutMs = o.timeoutMs;
    this.file = o.file ?? path.join(__dirname, 'lsp-worker.js');
    this.setup = o.background ? { nice: BACKGROUND_NICE } : {};
  }

  get lanes(): number {
    return this.laneStates.length;
  }

  get available(): boolean {
    return existsSync(this.file);
  }

  /** Starts every lane's worker now (a worker takes ~100 ms to start), if the worker file is there. */
  warm(): void {
    if (this.available) for (const lane of this.laneStates) this.worker(lane);
  }

  /** Runs a job on the first free lane; resolves with the worker's value. */
  run<R>(job: JobInput, cancel?: Cancel): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const p: Pending = { job: { ...job, id: this.next++ }, resolve, reject, done: false };
      if (cancel?.isCancellationRequested) return reject(new Error('cancelled'));
      cancel?.onCancellationRequested(() => this.stop(p, new Error(`${jobName(p.job)} was cancelled`)));
      this.queue.push(p);
      this.pump();
    });
  }

  /** Sends queued jobs to lanes with room (a lane holds up to `depth`: the worker takes them in order). */
  private pump(): void {
    for (const lane of this.laneStates) {
      while (lane.sent.length < this.depth) {
        const p = this.queue.shift();
        if (!p) return;
        lane.sent.push(p);
        this.worker(lane).postMessage(p.job);
        if (lane.sent.length === 1) this.arm(lane);
      }
    }
  }

  /** The time limit of the lane's first job, the one its worker is running. */
  private arm(lane: Lane): void {
    clearTimeout(lane.timer);
    const p = lane.sent[0];
    if (p)
      lane.timer = setTimeout(
        () => this.stop(p, new Error(`${jobName(p.job)} took longer than ${this.timeoutMs / 1000} s: stopped`)),
        this.timeoutMs,
      );
  }

  private worker(lane: Lane): Worker {
    if (lane.worker) return lane.worker;
    const w = new Worker(this.file, { workerData: this.setup, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    w.unref();
    w.on('message', (r: WorkerReply) => {
      const k = lane.sent.findIndex((p) => p.job.id === r.id);
      if (k < 0) return;
      const [p] = lane.sent.splice(k, 1);
      if (k === 0) this.arm(lane);
      if (!p.done) {
        // (a job stopped while one before it ran is answered all the same: the answer is dropped)
        p.done = true;
        if ('error' in r) p.reject(new Error(r.error));
        else p.resolve(r.value);
      }
      this.pump();
    });
    const gone = (e: Error) => {
      if (lane.worker !== w) return;
      const [p, ...rest] = lane.sent;
      this.reset(lane, rest);
      if (p && !p.done) {
        p.done = true;
        p.reject(new Error(`${jobName(p.job)} failed: ${e.message}`));
      }
      this.pump();
    };
    w.on('error', gone);
    w.on('exit', (code) => gone(new Error(`the worker exited (${code})`)));
    return (lane.worker = w);
  }

  /** Drops the lane's worker; the jobs it had not started go back to the front of the queue. */
  private reset(lane: Lane, unstarted: Pending[]): void {
    clearTimeout(lane.timer);
    lane.worker = undefined;
    lane.sent = [];
    this.queue.unshift(...unstarted.filter((p) => !p.done));
  }

  /** Ends a job: dropped from the queue, or its worker terminated (if it was running it). */
  private stop(p: Pending, why: Error): void {
    if (p.done) return;
    p.done = true;
    p.reject(why);
    const q = this.queue.indexOf(p);
    if (q >= 0) {
      this.queue.splice(q, 1);
      return;
    }
    const lane = this.laneStates.find((l) => l.sent[0] === p);
    if (!lane) return; // sent but not started: its answer will be dropped
    const w = lane.worker;
    this.reset(lane, lane.sent.slice(1));
    void w?.terminate();
    this.pump();
  }

  dispose(): void {
    for (const p of this.queue.splice(0)) {
      p.done = true;
      p.reject(new Error('the server is shutting down'));
    }
    for (const lane of this.laneStates) {
      const w = lane.worker;
      for (const p of lane.sent.filter((x) => !x.done)) {
        p.done = true;
        p.reject(new Error('the server is shutting down'));
      }
      this.reset(lane, []);
      void w?.terminate();
    }
  }
}
