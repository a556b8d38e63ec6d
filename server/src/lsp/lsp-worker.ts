/**
 * A worker thread for the language server's slow work: whole-BTF dumps (the C dump of vmlinux
 * takes about half a second), reading the workspace's objects (parsed-object.ts: a thousand take
 * seconds) and checking their CO-RE relocations against a target's BTF (core-checks.ts). The
 * server thread keeps answering hovers meanwhile.
 * Bundled as dist/lsp-worker.js beside dist/server.js; compiled beside server.js in out/.
 */
import { parentPort, workerData } from 'worker_threads';
import { readFileSync } from 'fs';
import { isBtf, parseBtf } from '../btf/btf';
import { CLimitError, dumpC } from '../btf/dump-c';
import { dumpRaw } from '../btf/dump-raw';
import { btfFromBytes } from '../btf/input';
import { computeCoreCheck } from './core-checks';
import { MAX_DOCUMENT_CHARS, tooLarge } from './limits';
import { type FileIdentity, indexedOf, parseObjectFile } from './parsed-object';
import type { TargetBtfSource } from './target-btf-source';
import { lowerThisThread } from './thread-priority';

export interface DumpJob {
  readonly id: number;
  readonly path: string;
  readonly kind: 'c' | 'raw';
  /** Raw BTF of the base for module BTF (`/sys/kernel/btf/vmlinux`), if the object needs one. */
  readonly basePath?: string;
  /** C text longer than this is refused (default MAX_DOCUMENT_CHARS). */
  readonly maxChars?: number;
}
/** Read and parse one object of the index (its plain-data part comes back: an IndexedObject). */
export interface IndexJob extends FileIdentity {
  readonly id: number;
  readonly kind: 'index';
  readonly maxSize: number;
}

/** Check one object's CO-RE relocations against a target's BTF (a CoreCheck comes back). */
export interface CoreJob {
  readonly id: number;
  readonly kind: 'core';
  readonly path: string;
  readonly target: TargetBtfSource;
}

export type WorkerJob = DumpJob | IndexJob | CoreJob;

/** What a worker is told when it starts (its workerData). */
export interface WorkerSetup {
  /** Lower the thread to this nice value first (a background pool's). */
  readonly nice?: number;
}
export type WorkerReply = { readonly id: number; readonly value: unknown } | { readonly id: number; readonly error: string };

function run(job: WorkerJob): unknown {
  if (job.kind === 'index') return indexedOf(job, parseObjectFile(job, job.maxSize));
  if (job.kind === 'core') return computeCoreCheck(job.path, job.target);
  return dump(job);
}

function dump(job: DumpJob): string {
  const bytes = new Uint8Array(readFileSync(job.path));
  const base = job.basePath ? parseBtf(new Uint8Array(readFileSync(job.basePath)), { file: job.basePath }) : undefined;
  const btf = isBtf(bytes) ? parseBtf(bytes, { file: job.path, base }) : btfFromBytes(bytes, job.path, base);
  if (job.kind === 'raw') return dumpRaw(btf);
  try {
    return dumpC(btf, { maxChars: job.maxChars ?? MAX_DOCUMENT_CHARS });
  } catch (e) {
    if (e instanceof CLimitError) throw new Error(tooLarge(job.path, e.maxChars), { cause: e });
    throw e;
  }
}

const setup = (workerData ?? {}) as WorkerSetup;
if (setup.nice !== undefined) lowerThisThread(setup.nice);

parentPort?.on('message', (job: WorkerJob) => {
  let reply: WorkerReply;
  try {
    reply = { id: job.id, value: run(job) };
  } catch (e) {
    reply = { id: job.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage(reply);
});
