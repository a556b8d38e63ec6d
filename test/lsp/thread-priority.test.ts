// The workspace readers run below the server thread: on two cores, a reader busy with a
// thousand objects otherwise takes the core a hover needs. The nice values are read back from
// /proc, the kernel's own account of each thread.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { type IndexedObject } from '../../server/src/lsp/parsed-object';
import { BACKGROUND_NICE } from '../../server/src/lsp/thread-priority';
import { WorkerPool } from '../../server/src/lsp/worker-pool';
import { fixture, ROOT } from '../helpers';

const WORKER = path.join(ROOT, 'out', 'server', 'src', 'lsp', 'lsp-worker.js');

/** tid → nice of this process's threads (field 19 of /proc/self/task/<tid>/stat, after the name). */
function threadNices(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[16]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** The nice values of threads that appear while `pool` reads an object. */
async function newThreadNices(pool: WorkerPool): Promise<number[]> {
  const before = threadNices();
  const file = fixture('lsp_maps.o');
  const st = statSync(file);
  const read = await pool.run<IndexedObject>({ kind: 'index', path: file, size: st.size, mtimeMs: st.mtimeMs, maxSize: 1 << 30 });
  assert.equal(read.error, undefined);
  assert.ok(read.facts?.maps.length, 'the worker read the object');
  return [...threadNices()].filter(([tid]) => !before.has(tid)).map(([, nice]) => nice);
}

test(
  'a background pool runs its worker thread at the background nice value; the server thread keeps its own',
  { skip: process.platform !== 'linux' },
  async () => {
    const own = threadNices().get(process.pid);
    assert.ok(own !== undefined && own < BACKGROUND_NICE, `this thread runs at nice ${own}`);
    const pool = new WorkerPool({ lanes: 1, timeoutMs: 30_000, file: WORKER, background: true });
    try {
      const nices = await newThreadNices(pool);
      assert.ok(nices.includes(BACKGROUND_NICE), `new threads' nice values: ${nices.join(', ')}`);
      assert.equal(threadNices().get(process.pid), own, 'the server thread is not lowered');
    } finally {
      pool.dispose();
    }
  },
);

test(
  "a foreground pool (dumps the user asked for) leaves its worker at the server's priority",
  { skip: process.platform !== 'linux' },
  async () => {
    const own = threadNices().get(process.pid)!;
    const pool = new WorkerPool({ lanes: 1, timeoutMs: 30_000, file: WORKER });
    try {
      const nices = await newThreadNices(pool);
      assert.ok(nices.length > 0, 'the worker started a thread');
      assert.ok(!nices.includes(BACKGROUND_NICE), `new threads' nice values: ${nices.join(', ')}`);
      assert.ok(nices.every((n) => n === own));
    } finally {
      pool.dispose();
    }
  },
);
