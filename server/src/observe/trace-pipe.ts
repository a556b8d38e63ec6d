// bpf_printk's output: the trace pipe read without waiting, split into lines, and the lines of
// the bpf_trace_printk event picked out (`TASK-PID [CPU] FLAGS TIMESTAMP: bpf_trace_printk: TEXT`).
import type { Fd, KernelOps } from '../kernel';

export type TracePipeKernel = Pick<KernelOps, 'tracePipeOpen' | 'readNonBlocking' | 'closeFd'>;

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
        onLine(l);
        n++;
      }
    }
    return n;
  }

  close(): void {
    if (this.fd >= 0) this.k.closeFd(this.fd);
    this.fd = -1;
  }
}
