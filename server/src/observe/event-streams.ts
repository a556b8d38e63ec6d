// The ring and perf buffers of a loaded object, read while it runs: one epoll FD over the ring
// buffer maps and every CPU's perf event, polled from a timer with a zero timeout so Node's
// event loop never waits in the kernel and stop() can unmap at once (no pool thread is inside
// epoll_wait on the rings). A tick hands out at most `budget` records; the rest wait for the next.
import type { Fd, KernelOps } from '../kernel';
import { PerfBufConsumer } from './perf-buffer';
import { RingBufConsumer } from './ring-buffer';

export type StreamKernel = ConstructorParameters<typeof PerfBufConsumer>[0] &
  ConstructorParameters<typeof RingBufConsumer>[0] &
  Pick<KernelOps, 'epollCreate' | 'epollAdd' | 'epollWait'>;

export interface RawEvent {
  readonly kind: 'ringbuf' | 'perf';
  readonly map: string;
  readonly cpu?: number;
  readonly data: Uint8Array;
  /** When this consumer read it (ms since the epoch): ring buffer records carry no time of their own. */
  readonly readAt: number;
  /** When the kernel wrote it (ms since the epoch, CLOCK_REALTIME): perf samples with PERF_SAMPLE_TIME. */
  readonly kernelTime?: number;
}

export interface StreamMap {
  readonly name: string;
  readonly fd: Fd;
  readonly kind: 'ringbuf' | 'perf';
}

export interface StreamOptions {
  /** Milliseconds between polls when idle (default 10). */
  readonly intervalMs?: number;
  /** Records per tick at most (default 4096); a full tick polls again at once (setImmediate). */
  readonly budget?: number;
  /** Data pages per CPU for perf buffers (default 8). */
  readonly perfPages?: number;
}

type Source = { kind: 'ringbuf'; c: RingBufConsumer } | { kind: 'perf'; c: PerfBufConsumer };

const TAG_SHIFT = 12; // ring index below, source index above

export class EventStreams {
  private sources: Source[] = [];
  private epfd: Fd = -1;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly budget: number;
  /** Records handed out so far. */
  count = 0;
  /** The last read stamp: the wall clock may step back, a stream's stamps do not. */
  private lastReadAt = 0;

  constructor(
    private readonly k: StreamKernel,
    maps: readonly StreamMap[],
    private readonly onEvent: (e: RawEvent) => void,
    private readonly opts: StreamOptions = {},
  ) {
    this.budget = opts.budget ?? 4096;
    try {
      this.epfd = k.epollCreate('event streams');
      maps.forEach((m, i) => this.open(m, i));
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private open(m: StreamMap, i: number): void {
    if (m.kind === 'ringbuf') {
      const c = new RingBufConsumer(this.k, m.fd, m.name);
      this.sources.push({ kind: 'ringbuf', c });
      this.k.epollAdd(this.epfd, m.fd, i << TAG_SHIFT, `ring buffer ${m.name}`);
    } else {
      const c = new PerfBufConsumer(this.k, m.fd, m.name, this.opts.perfPages);
      this.sources.push({ kind: 'perf', c });
      c.fds.forEach((fd, r) => this.k.epollAdd(this.epfd, fd, (i << TAG_SHIFT) | r, `perf buffer ${m.name}`));
    }
  }

  /** Lost samples per perf buffer map (the kernel's PERF_RECORD_LOST counts); ring buffers report none. */
  lost(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.sources) if (s.kind === 'perf') out[s.c.name] = s.c.lost;
    return out;
  }

  /** Starts polling from a timer. */
  start(): void {
    if (this.timer || this.epfd < 0) return;
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs ?? 10);
  }

  private tick(): void {
    this.immediate = undefined;
    if (this.epfd < 0) return;
    if (this.poll() >= this.budget) this.immediate ??= setImmediate(() => this.tick());
  }

  /** Reads what epoll says is ready, at most `budget` records; returns how many it handed out. */
  poll(budget = this.budget): number {
    if (this.epfd < 0) return 0;
    let n = 0;
    for (const tag of this.k.epollWait(this.epfd)) {
      const s = this.sources[tag >>> TAG_SHIFT];
      if (!s || n >= budget) continue;
      n += this.drain(s, budget - n, tag & ((1 << TAG_SHIFT) - 1));
    }
    this.count += n;
    return n;
  }

  private drain(s: Source, budget: number, ring?: number): number {
    // One stamp per drain, taken when it ends: a record the kernel wrote while the drain ran
    // (a perf sample's own time can say so) was read by then, never before. Date.now() per
    // record would cost more than the copy. Stamped where the record leaves the kernel's memory,
    // not where the client receives it.
    const got: { -readonly [K in keyof RawEvent]: RawEvent[K] }[] = [];
    const name = s.c.name;
    const n =
      s.kind === 'ringbuf'
        ? s.c.consume((data) => got.push({ kind: 'ringbuf', map: name, data, readAt: 0 }), budget)
        : s.c.consume(
            (data, cpu, kernelTime) =>
              got.push({ kind: 'perf', map: name, cpu, data, readAt: 0, ...(kernelTime !== undefined ? { kernelTime } : {}) }),
            budget,
            ring,
          );
    if (!got.length) return n;
    const readAt = (this.lastReadAt = Math.max(Date.now(), this.lastReadAt));
    for (const e of got) {
      e.readAt = readAt;
      this.onEvent(e);
    }
    return n;
  }

  /** Records each ring buffer still holds unread (what closing now would lose), per map. */
  unread(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.sources) if (s.kind === 'ringbuf') out[s.c.name] = s.c.unread();
    return out;
  }

  /** Reads every buffer to its end now, whatever epoll says (before a stop). */
  drainAll(): number {
    let n = 0;
    for (const s of this.sources) n += this.drain(s, Infinity);
    this.count += n;
    return n;
  }

  /** Stops the timer, unmaps every ring, closes the perf events and the epoll FD. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = this.immediate = undefined;
    const sources = this.sources;
    this.sources = [];
    for (const s of sources.reverse()) s.c.close();
    if (this.epfd >= 0) this.k.closeFd(this.epfd);
    this.epfd = -1;
  }
}
