// What reaches the editor of a load's events: the target's batches come in as fast as the
// programs write; out go at most `maxBatch` records per notification and `perSecond` per second
// (a token bucket), from a queue of at most `maxQueued`. What does not fit is dropped at once
// (before it is decoded) and counted, so a flood costs counters, never memory or the connection.
// Pure: the caller gives the time and sends what take() returns.
import type { EventBatch, EventRecordJson } from '../../../protocol/agent';
import type { EventCounters } from '../../../protocol/lsp';

export interface PumpLimits {
  /** Records waiting to be sent at most (default 2000). */
  readonly maxQueued?: number;
  /** Records (and, apart, printk lines) per take at most (default 500). */
  readonly maxBatch?: number;
  /** Records sent per second at most (default 5000). */
  readonly perSecond?: number;
  /** printk lines waiting at most (default 1000). */
  readonly maxLines?: number;
}

export interface Timed<T> {
  readonly item: T;
  /** When it arrived (ms). */
  readonly time: number;
}

export interface PumpOut {
  readonly records: readonly Timed<EventRecordJson>[];
  readonly lines: readonly Timed<string>[];
  readonly counters: EventCounters;
}

/** How far back the rate looks (ms). */
const RATE_WINDOW = 1000;

export class EventPump {
  private records: Timed<EventRecordJson>[] = [];
  private lines: Timed<string>[] = [];
  private received = 0;
  private linesReceived = 0;
  private targetDropped = 0;
  private ownDropped = 0;
  private shown = 0;
  private lostByMap: Record<string, number> = {};
  private tokens: number;
  private refilled: number | undefined;
  private samples: { time: number; total: number }[] = [];
  private last: EventCounters | undefined;
  private roomWaiters: (() => void)[] = [];
  private released = false;
  private readonly maxQueued: number;
  private readonly maxBatch: number;
  private readonly perSecond: number;
  private readonly maxLines: number;

  constructor(limits: PumpLimits = {}) {
    this.maxQueued = limits.maxQueued ?? 2000;
    this.maxBatch = limits.maxBatch ?? 500;
    this.perSecond = limits.perSecond ?? 5000;
    this.maxLines = limits.maxLines ?? 1000;
    this.tokens = this.maxBatch;
  }

  /** A target's batch: queued as far as there is room, the rest counted as dropped. */
  offer(b: EventBatch, now: number): void {
    // The target's counters are totals since observe began.
    this.targetDropped = Math.max(this.targetDropped, b.dropped);
    for (const [m, n] of Object.entries(b.lost)) this.lostByMap[m] = Math.max(this.lostByMap[m] ?? 0, n);
    this.received += b.records.length;
    this.linesReceived += b.printk.length;
    const room = Math.max(0, this.maxQueued - this.records.length);
    for (let i = 0; i < b.records.length && i < room; i++) this.records.push({ item: b.records[i], time: now });
    this.ownDropped += Math.max(0, b.records.length - room);
    const lineRoom = Math.max(0, this.maxLines - this.lines.length);
    for (let i = 0; i < b.printk.length && i < lineRoom; i++) this.lines.push({ item: b.printk[i], time: b.printkReadAt?.[i] ?? now });
    this.ownDropped += Math.max(0, b.printk.length - lineRoom);
  }

  /** Records and lines waiting. */
  get queued(): number {
    return this.records.length + this.lines.length;
  }

  /**
   * Undefined while records fit; when the queue is full, a promise settled by the next take:
   * a sender that waits for it leaves the flood in its own queue, where dropping costs least.
   */
  whenRoom(): Promise<void> | undefined {
    if (this.released || this.records.length < this.maxQueued) return undefined;
    return new Promise((r) => this.roomWaiters.push(r));
  }

  /** No more waiting for room (the sender's last batches come now; what does not fit is dropped). */
  release(): void {
    this.released = true;
    for (const w of this.roomWaiters.splice(0)) w();
  }

  /**
   * What to send now: up to the batch size and the tokens earned since the last take (all that
   * waits when `final`), with the counters; undefined when there is nothing new to tell.
   */
  take(now: number, final = false): PumpOut | undefined {
    this.refill(now);
    const n = final ? this.records.length : Math.min(this.maxBatch, Math.floor(this.tokens), this.records.length);
    const records = this.records.splice(0, n);
    if (n > 0 || final) for (const w of this.roomWaiters.splice(0)) w();
    this.tokens -= n;
    this.shown += n;
    const lines = this.lines.splice(0, final ? this.lines.length : this.maxBatch);
    const counters = this.counters(now);
    const same = this.last && JSON.stringify(this.last) === JSON.stringify(counters);
    if (!final && !records.length && !lines.length && same) return undefined;
    this.last = counters;
    return { records, lines, counters };
  }

  private refill(now: number): void {
    if (this.refilled !== undefined) this.tokens = Math.min(this.maxBatch, this.tokens + ((now - this.refilled) * this.perSecond) / 1000);
    this.refilled = now;
  }

  private counters(now: number): EventCounters {
    const total = this.received + this.targetDropped;
    this.samples.push({ time: now, total });
    // Keep one sample at or before the window's start, to measure across the whole window.
    while (this.samples.length > 2 && this.samples[1].time <= now - RATE_WINDOW) this.samples.shift();
    const first = this.samples[0];
    const dt = now - first.time;
    const rate = dt > 0 ? Math.round(((total - first.total) * 1000) / dt) : 0;
    const lost = Object.values(this.lostByMap).reduce((a, b) => a + b, 0);
    return {
      records: total,
      printk: this.linesReceived,
      shown: this.shown,
      dropped: this.targetDropped + this.ownDropped,
      lost,
      lostByMap: { ...this.lostByMap },
      rate,
    };
  }
}
