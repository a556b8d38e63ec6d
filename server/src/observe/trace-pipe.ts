// bpf_printk's output: the trace pipe read without waiting, split into lines, and the lines of
// the bpf_trace_printk event picked out (`TASK-PID [CPU] FLAGS TIMESTAMP: bpf_trace_printk: TEXT`).
// A line read from trace_pipe is gone for every other reader, so a target reads it once
// (TracePipeHub) and hands each line to the observers it belongs to.
import type { Fd, KernelOps } from '../kernel';

export type TracePipeKernel = Pick<KernelOps, 'tracePipeOpen' | 'readNonBlocking' | 'closeFd' | 'taskComm'>;

export interface PrintkLine {
  readonly task: string;
  readonly pid: number;
  readonly cpu: number;
  /** Seconds since boot, as the trace clock printed it. */
  readonly timestamp: number;
  /** What the program printed (bpf_printk's trailing newline gone). */
  readonly text: string;
}

// The TGID column `(  123)` appears when the trace's record-tgid option is on.
const LINE = /^\s*(.*?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:\S+\s+)?(\d+\.\d+):\s+bpf_trace_printk:\s?(.*)$/;

/** A trace pipe line of bpf_trace_printk, or undefined for any other line. */
export function parsePrintkLine(line: string): PrintkLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  return { task: m[1], pid: Number(m[2]), cpu: Number(m[3]), timestamp: Number(m[4]), text: m[5] };
}

export class TracePipeReader {
  private fd: Fd;
  private rest = '';
  private readonly buf = Buffer.alloc(64 * 1024);

  constructor(private readonly k: TracePipeKernel) {
    this.fd = k.tracePipeOpen();
    // What the pipe holds from before (earlier runs, other tools) is not this run's: read past it.
    while (k.readNonBlocking(this.fd, this.buf, 'trace_pipe') > 0);
  }

  /** Hands each complete bpf_trace_printk line read now to `onLine`; returns how many. */
  poll(onLine: (line: string) => void, maxReads = 16): number {
    let n = 0;
    for (let i = 0; i < maxReads && this.fd >= 0; i++) {
      const got = this.k.readNonBlocking(this.fd, this.buf, 'trace_pipe');
      if (got === 0) break;
      const lines = (this.rest + this.buf.toString('utf8', 0, got)).split('\n');
      this.rest = lines.pop() ?? '';
      for (const l of lines) {
        if (!l.includes('bpf_trace_printk')) continue;
        onLine(this.named(l));
        n++;
      }
    }
    return n;
  }

  /**
   * The kernel prints `<...>` for a task whose name fell out of its small saved_cmdlines cache
   * (a busy machine): the reader runs where the task does, so it asks /proc while the task lives
   * (its name now, which an exec since may have changed).
   */
  private named(line: string): string {
    const m = /^(\s*)<\.\.\.>-(\d+)/.exec(line);
    const comm = m ? this.k.taskComm(Number(m[2])) : undefined;
    return m && comm ? `${m[1]}${comm}${line.slice(m[1].length + 5)}` : line;
  }

  close(): void {
    if (this.fd >= 0) this.k.closeFd(this.fd);
    this.fd = -1;
  }
}

/** One observer's share of the trace pipe: `claim` says how strongly a printed text is its object's. */
export interface PipeSubscriber {
  /** A line and when it was read (ms since the epoch, never less than the previous line's). */
  readonly onLine: (line: string, readAt: number) => void;
  /** The characters of the text its object's best-fitting format fixes (0: only conversions), -1 when none fits. */
  readonly claim: (text: string) => number;
}

/**
 * The target's one trace pipe reader, opened by the first subscriber and closed when the last
 * leaves. The kernel does not print which program called bpf_printk (only the task, pid and
 * CPU), so a line goes to the subscribers whose object's format strings fit it best: the most
 * characters fixed by the format wins, so a format with no text of its own (`"%s"`) gets only
 * the lines no format with text fits. A line no one claims (a format built at run time,
 * another tool's program) goes to every subscriber.
 */
export class TracePipeHub {
  private reader: TracePipeReader | undefined;
  private readonly subs = new Set<PipeSubscriber>();
  private lastReadAt = 0;

  constructor(private readonly k: TracePipeKernel) {}

  /** Joins (opening the pipe when this is the first); throws when the pipe cannot be opened. */
  subscribe(s: PipeSubscriber): () => void {
    this.reader ??= new TracePipeReader(this.k);
    this.subs.add(s);
    return () => {
      if (!this.subs.delete(s) || this.subs.size > 0) return;
      this.reader?.close();
      this.reader = undefined;
    };
  }

  get subscribers(): number {
    return this.subs.size;
  }

  /** Reads what the pipe holds now and hands each line out; any subscriber's timer may call it. */
  poll(maxReads?: number): number {
    if (!this.reader) return 0;
    const readAt = (this.lastReadAt = Math.max(Date.now(), this.lastReadAt));
    return this.reader.poll((l) => this.fanOut(l, readAt), maxReads);
  }

  private fanOut(line: string, readAt: number): void {
    const owners = this.owners(parsePrintkLine(line)?.text);
    for (const s of owners.length ? owners : this.subs) s.onLine(line, readAt);
  }

  /** The subscribers whose claim on a text is the strongest (ties share it); none when no one claims it. */
  private owners(text: string | undefined): PipeSubscriber[] {
    let owners: PipeSubscriber[] = [];
    let best = -1;
    if (text === undefined) return owners;
    for (const s of this.subs) {
      const c = s.claim(text);
      if (c < 0 || c < best) continue;
      if (c > best) [owners, best] = [[], c];
      owners.push(s);
    }
    return owners;
  }
}
