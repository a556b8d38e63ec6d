/**
 * Runs BTF dumps in one worker thread (lsp-worker.ts), one job at a time, so a vmlinux C
 * dump does not stall hovers. Without the worker file (an unusual bundle) it dumps inline.
 */
import { existsSync } from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { DumpJob, DumpReply } from './lsp-worker';

export class DumpPool {
  private worker?: Worker;
  private next = 1;
  private readonly pending = new Map<number, { resolve(t: string): void; reject(e: Error): void }>();
  private readonly file = path.join(__dirname, 'lsp-worker.js');

  get available(): boolean {
    return existsSync(this.file);
  }

  dump(job: Omit<DumpJob, 'id'>): Promise<string> {
    const w = this.start();
    const id = this.next++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...job, id });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.file);
    w.unref();
    w.on('message', (r: DumpReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (!p) return;
      if ('error' in r) p.reject(new Error(r.error));
      else p.resolve(r.text);
    });
    const fail = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.worker = undefined;
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the dump worker exited (${code})`)));
    return (this.worker = w);
  }

  dispose(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }
}
