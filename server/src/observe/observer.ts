// A load's events while it runs, in batches for whoever listens (the CLI in-process, an agent's
// client over the wire): ring/perf buffer records and printk lines go into one bounded queue;
// one batch is in flight at a time and the next leaves when the last is written, so a flood
// costs dropped records (counted and reported), never unbounded memory or the channel.
import type { EventBatch, EventRecordJson, ObserveResult, ObserveStopResult } from '../../../protocol/agent';
import { EventStreams, type RawEvent, type StreamKernel, type StreamMap } from './event-streams';
import { type TracePipeKernel, TracePipeHub } from './trace-pipe';

export type ObserverKernel = StreamKernel & TracePipeKernel;

export interface ObserverOptions {
  readonly printk?: boolean;
  /** The target's shared trace pipe reader (default: one of this observer's own). */
  readonly pipe?: TracePipeHub;
  /** How strongly a printed text is this object's (PipeSubscriber.claim); lines no observer claims go to all. */
  readonly claim?: (text: string) => number;
  readonly maxQueued?: number;
  readonly perfPages?: number;
  /** Milliseconds between polls (default 10). */
  readonly intervalMs?: number;
  /** Records per batch at most (default 4096). */
  readonly batchSize?: number;
}

/** Sends a batch; a promise means "in flight until it settles". */
export type BatchSender = (b: EventBatch) => Promise<void> | void;

export class Observer {
  readonly result: ObserveResult;
  private readonly streams: EventStreams;
  private pipe: TracePipeHub | undefined;
  private unsubscribe: (() => void) | undefined;
  private queue: EventRecordJson[] = [];
  private lines: string[] = [];
  private lineTimes: number[] = [];
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private finalLost: Record<string, number> | undefined;
  private records = 0;
  private printkLines = 0;
  private readonly maxQueued: number;
  private readonly batchSize: number;

  constructor(
    k: ObserverKernel,
    private readonly handle: number,
    maps: readonly StreamMap[],
    opts: ObserverOptions,
    private readonly send: BatchSender,
  ) {
    this.maxQueued = opts.maxQueued ?? 65536;
    this.batchSize = opts.batchSize ?? 8192;
    this.streams = new EventStreams(k, maps, (e) => this.push(e), { perfPages: opts.perfPages, budget: 2 * this.batchSize });
    let printkError: string | undefined;
    if (opts.printk) {
      try {
        const hub = opts.pipe ?? new TracePipeHub(k);
        this.unsubscribe = hub.subscribe({ onLine: (l, t) => this.pushLine(l, t), claim: opts.claim ?? (() => -1) });
        this.pipe = hub;
      } catch (e) {
        printkError = (e as Error).message;
      }
    }
    this.result = {
      maps: maps.map((m) => ({ name: m.name, kind: m.kind })),
      printk: this.pipe !== undefined,
      ...(printkError ? { printkError } : {}),
    };
    this.timer = setInterval(() => this.tick(), opts.intervalMs ?? 10);
  }

  private push(e: RawEvent): void {
    this.records++;
    if (this.queue.length + this.lines.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    const b64 = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('base64');
    this.queue.push({
      kind: e.kind,
      map: e.map,
      ...(e.cpu !== undefined ? { cpu: e.cpu } : {}),
      data: b64,
      readAt: e.readAt,
      ...(e.kernelTime !== undefined ? { kernelTime: e.kernelTime } : {}),
    });
  }

  private pushLine(l: string, readAt: number): void {
    this.printkLines++;
    if (this.queue.length + this.lines.length >= this.maxQueued) this.dropped++;
    else {
      this.lines.push(l);
      this.lineTimes.push(readAt);
    }
  }

  private tick(): void {
    try {
      this.streams.poll();
      this.pipe?.poll();
    } catch (e) {
      process.emitWarning(`observe: ${(e as Error).message}`);
    }
    this.flush();
  }

  private batch(): EventBatch {
    const records = this.queue.splice(0, this.batchSize);
    const printk = this.lines.splice(0, this.batchSize);
    const printkReadAt = this.lineTimes.splice(0, this.batchSize);
    return { handle: this.handle, records, printk, printkReadAt, dropped: this.dropped, lost: this.finalLost ?? this.streams.lost() };
  }

  /** Sends a batch unless one is in flight; when it settles, the next. */
  private flush(): void {
    if (this.inFlight || (this.queue.length === 0 && this.lines.length === 0)) return;
    const r = this.send(this.batch());
    if (!r) return this.flush();
    this.inFlight = r.then(
      () => {
        this.inFlight = undefined;
        this.flush();
      },
      () => {
        this.inFlight = undefined;
      },
    );
  }

  /**
   * Reads what is left, sends every batch still queued (the last one even when empty, for the
   * counters), closes everything. What a ring still holds unread when it closes (a record the
   * program had not committed yet) is counted with the lost.
   */
  async stop(): Promise<ObserveStopResult> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    try {
      this.streams.drainAll();
      this.pipe?.poll(64);
    } finally {
      const lost = { ...this.streams.lost() };
      for (const [m, n] of Object.entries(this.streams.unread())) if (n > 0) lost[m] = (lost[m] ?? 0) + n;
      this.finalLost = lost;
      this.streams.close();
      this.unsubscribe?.();
      this.unsubscribe = this.pipe = undefined;
    }
    const lost = this.finalLost;
    while (this.inFlight) await this.inFlight;
    do await this.send(this.batch());
    while (this.queue.length || this.lines.length);
    return { records: this.records, printk: this.printkLines, dropped: this.dropped, lost };
  }
}
