// A scan reads the objects of the files open in the editor on the server thread as soon as the
// walk is done, whatever the readers are doing: here the reader never answers, and the open
// source's objects are indexed all the same (at most 8 of them; the rest wait in the queue).
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_SETTINGS, WorkspaceIndex } from '../../server/src/lsp/workspace';
import { WorkerPool } from '../../server/src/lsp/worker-pool';
import { fixture } from '../helpers';
import { makeWorkspace } from './lsp-client';

const ws = makeWorkspace(['lsp_maps.bpf.c']);
after(() => ws.cleanup());

/** Polls `ok` until it holds or `ms` pass. */
async function until(ok: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) if (ok()) return true;
  return ok();
}

test('the open source’s objects are read on this thread while the readers are busy: 8 at most, the rest queued', async () => {
  // 10 builds of the open source (the same stem in 10 folders), and objects of other sources
  for (let i = 0; i < 10; i++) {
    mkdirSync(path.join(ws.dir, `build${i}`));
    copyFileSync(path.join(ws.build, 'lsp_maps.o'), path.join(ws.dir, `build${i}`, 'lsp_maps.o'));
  }
  for (const name of ['attach_counters', 'core_tracer', 'attach_counters.v3'])
    copyFileSync(fixture(`${name}.o`), path.join(ws.dir, `${name}.o`));
  // a reader that takes every job and never answers
  const silent = path.join(ws.dir, 'silent-worker.js');
  writeFileSync(silent, "require('worker_threads').parentPort.on('message', () => {});\n");
  const pool = new WorkerPool({ lanes: 1, depth: 4, timeoutMs: 60_000, file: silent });
  const index = new WorkspaceIndex([ws.dir], DEFAULT_SETTINGS, pool);
  index.configure([ws.dir], DEFAULT_SETTINGS);
  const src = path.join(ws.src, 'lsp_maps.bpf.c');
  let done = false;
  const scan = index.scan(() => [src]).finally(() => (done = true));

  assert.ok(
    await until(() => index.objectsFor(src).length === 8, 10_000),
    `${index.objectsFor(src).length} of the open source's objects read`,
  );
  const read = index.objectsFor(src);
  for (const o of read) assert.deepEqual(o.error, undefined, o.path);
  assert.ok(read.every((o) => o.summary.maps.some((m) => m.name === 'lsp_hash')));
  // the rest wait for the readers, which do not answer
  await sleep(300);
  assert.equal(index.objectsFor(src).length, 8);
  assert.equal(index.all().length, 8);
  assert.ok(!done, 'the scan ended without its readers');

  // readers gone: the objects they held fail with a reason, and the scan ends with all 14
  pool.dispose();
  const changed = await scan;
  assert.equal(changed.length, 14);
  const all = index.all();
  assert.equal(all.length, 14);
  assert.equal(all.filter((o) => o.error).length, 6);
  assert.equal(index.objectsFor(src).length, 8);
});
