/**
 * The objects of a running scan, read a few at a time in short slices, except that the
 * objects a hovered source looks built from are taken out and read at once (a hover during
 * a long scan waits for those, not for the whole workspace).
 */
import * as path from 'path';
import { TimeSlice } from './time-slice';

/** `foo` for foo.bpf.c, foo.bpf.o and foo.o: how a build names an object after its source. */
export function stemOf(file: string): string {
  const base = path.basename(file);
  const dot = base.indexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

export class ScanQueue {
  /** The objects being read. */
  private readonly reading = new Set<string>();
  private readonly waiting = new Map<string, (() => void)[]>();
  /** Paths not read yet, with their stems (a hover looks for its own among a thousand). */
  private pending: { path: string; stem: string }[];

  constructor(paths: string[]) {
    this.pending = paths.map((p) => ({ path: p, stem: stemOf(p) }));
  }

  /**
   * Runs `read` on every path, `concurrency` at a time (more than one when reads wait on
   * worker threads). Work on this thread yields every SLICE_MS, so requests that came in
   * meanwhile are answered (a hover waits for one slice, not for the scan).
   */
  async run(concurrency: number, read: (p: string) => Promise<void>): Promise<void> {
    const slice = new TimeSlice();
    const worker = async () => {
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        const p = next.path;
        this.reading.add(p);
        try {
          await read(p);
        } finally {
          this.reading.delete(p);
          this.wake(p);
        }
        await slice.next();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, this.pending.length)) }, worker));
    } finally {
      this.pending = [];
      for (const p of [...this.waiting.keys()]) this.wake(p);
    }
  }

  /**
   * The objects named like `source` (foo.bpf.c: foo.o, foo.bpf.o) that no one reads yet, taken
   * out of the queue for the caller to read now (at most `max`; the rest stay queued), and a
   * promise of those being read already.
   */
  takeFirst(source: string, max = Infinity): { take: string[]; reading: Promise<void> } {
    const stem = stemOf(source);
    const take = this.pending
      .filter((p) => p.stem === stem)
      .slice(0, max)
      .map((p) => p.path);
    if (take.length) {
      const taken = new Set(take);
      this.pending = this.pending.filter((p) => !taken.has(p.path));
    }
    const busy = [...this.reading].filter((p) => stemOf(p) === stem);
    const reading = Promise.all(busy.map((p) => new Promise<void>((r) => this.waiting.set(p, [...(this.waiting.get(p) ?? []), r]))));
    return { take, reading: reading.then(() => undefined) };
  }

  private wake(p: string): void {
    const w = this.waiting.get(p);
    this.waiting.delete(p);
    for (const r of w ?? []) r();
  }
}
