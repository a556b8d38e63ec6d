// The language server's workers on hostile BTF: a dump that runs too long is stopped (its
// worker terminated) with a clear error, a cancelled dump stops at once, a small dump is not
// queued behind a stuck one (two lanes), and jobs sent ahead behind a stuck one still run.
// CO-RE checks run there too, with the results the server thread would compute.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { type CoreCheck, CoreChecks, computeCoreCheck } from '../../server/src/lsp/core-checks';
import { DumpPool } from '../../server/src/lsp/dump-pool';
import { type IndexedObject, indexedOf, parseObjectFile } from '../../server/src/lsp/parsed-object';
import { WorkerPool } from '../../server/src/lsp/worker-pool';
import { maker, SIGNED } from '../btf-make';
import { fixture, ROOT } from '../helpers';
import { debianKernel } from '../kernels';

const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-dumppool-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const WORKER = path.join(ROOT, 'out', 'server', 'src', 'lsp', 'lsp-worker.js');

/** Raw BTF: anonymous structs each holding 16 copies of the one before (C text 16^depth). */
function hostile(depth: number): string {
  const b = new BtfBuilder();
  const m = maker(b);
  let t = m.int('int', 4, SIGNED);
  let size = 4;
  for (let d = 0; d < depth; d++) {
    t = m.struct(
      '',
      size * 16,
      Array.from({ length: 16 }, (_, k) => m.mem(`m${k}`, t, k * size * 8)),
    );
    size *= 16;
  }
  m.struct('top', size, [m.mem('x', t)]);
  const file = path.join(dir, `hostile${depth}.btf`);
  writeFileSync(file, writeBtf(b.build()));
  return file;
}

function small(): string {
  const b = new BtfBuilder();
  const m = maker(b);
  m.struct('small', 4, [m.mem('a', m.int('int', 4, SIGNED))]);
  const file = path.join(dir, 'small.btf');
  writeFileSync(file, writeBtf(b.build()));
  return file;
}

test('a dump that would run for minutes is stopped with a clear error; a small one beside it answers at once', async () => {
  const pool = new DumpPool(5000, WORKER);
  try {
    const started = Date.now();
    let stopped = false;
    const stuck = pool.dump({ path: hostile(9), kind: 'c' }).then(
      () => 'finished',
      (e: Error) => {
        stopped = true;
        return e.message;
      },
    );
    const quick = await pool.dump({ path: small(), kind: 'c' });
    assert.match(quick, /struct small \{\n\tint a;\n\};/);
    assert.ok(!stopped, 'the small dump answered while the other one ran');
    assert.match(await stuck, /took longer than 5 s: stopped|larger than 64 MB/);
    assert.ok(Date.now() - started < 20_000);
    // the lane works again, with a new worker
    assert.match(await pool.dump({ path: small(), kind: 'raw' }), /STRUCT 'small' size=4 vlen=1/);
  } finally {
    pool.dispose();
  }
});

test('cancelling a dump terminates it; the size limit gives a clear message', async () => {
  const pool = new DumpPool(60_000, WORKER);
  try {
    let cancel = () => {};
    const token = {
      isCancellationRequested: false,
      onCancellationRequested: (f: () => void) => {
        cancel = f;
      },
    };
    const started = Date.now();
    const p = pool.dump({ path: hostile(9), kind: 'c' }, token).then(
      () => 'finished',
      (e: Error) => e.message,
    );
    setTimeout(() => cancel(), 300);
    assert.match(await p, /was cancelled/);
    assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`);
    // 16^6 copies: ~300 MB of C, past what a document may hold (64 MB; 2 MB here, for time)
    const big = await pool.dump({ path: hostile(6), kind: 'c', maxChars: 2 << 20 }).then(
      () => 'finished',
      (e: Error) => e.message,
    );
    assert.match(big, /its BTF as C is larger than 2 MB.*bpf-lens btf dump .* -f c/);
  } finally {
    pool.dispose();
  }
});

test('a lane with jobs sent ahead: a stuck one in the middle is stopped, the ones sent after it still run on a new worker', async () => {
  // One lane, four jobs ahead: the index reads objects this way (lsp/worker-pool.ts).
  const pool = new WorkerPool({ lanes: 1, depth: 4, timeoutMs: 3000, file: WORKER });
  try {
    const obj = fixture('lsp_maps.o');
    const st = statSync(obj);
    const read = () => pool.run<IndexedObject>({ kind: 'index', path: obj, size: st.size, mtimeMs: st.mtimeMs, maxSize: 1 << 30 });
    const first = read();
    const stuck = pool.run<string>({ kind: 'c', path: hostile(9) }).then(
      () => 'finished',
      (e: Error) => e.message,
    );
    const later = [read(), pool.run<string>({ kind: 'raw', path: small() }), read()];
    const one = await first;
    const names = one.facts?.maps.map((m) => m.name) ?? [];
    for (const n of ['lsp_hash', 'lsp_array', 'lsp_ringbuf', 'lsp_perf', 'lsp_pinned', 'lsp_inner1', 'lsp_inner2', 'lsp_outer', 'lsp_jmp'])
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    assert.match(await stuck, /took longer than 3 s: stopped|larger than 64 MB/);
    const [a, raw, b] = await Promise.all(later);
    assert.deepEqual((a as IndexedObject).facts, one.facts);
    assert.deepEqual((b as IndexedObject).facts, one.facts);
    assert.match(raw as string, /STRUCT 'small' size=4 vlen=1/);
    // the same as reading it on this thread
    assert.deepEqual(
      one,
      indexedOf(
        { path: obj, size: st.size, mtimeMs: st.mtimeMs },
        parseObjectFile({ path: obj, size: st.size, mtimeMs: st.mtimeMs }, 1 << 30),
      ),
    );
  } finally {
    pool.dispose();
  }
});

test('CO-RE checks in the worker: the relocations this thread computes, per target BTF; a target file that is not BTF fails with its name', async () => {
  const pool = new WorkerPool({ lanes: 1, depth: 4, timeoutMs: 30_000, file: WORKER });
  try {
    const obj = fixture('core_target.o');
    const mtime = statSync(obj).mtimeMs;
    const k61 = debianKernel('6.1').vmlinuxBtf;
    const target = { key: `btf:${k61}`, file: k61, name: 'vmlinux-6.1', label: k61 };
    const checks = new CoreChecks(pool);
    const inWorker = await checks.check(obj, mtime, target);
    const here = computeCoreCheck(obj, target);
    assert.ok(inWorker.relocations.length > 0);
    assert.deepEqual(inWorker.relocations, here.relocations);
    // Debian 6.1 lacks task_struct->dl_server (test/lsp/targets.test.ts has the diagnostics)
    const absent = inWorker.relocations.filter((f) => f.report.status !== 'ok').map((f) => f.report.access);
    assert.ok(
      absent.some((a) => a.includes('dl_server')),
      absent.join(', '),
    );
    // kept per (file, mtime, target): the same promise, no second job
    assert.equal(checks.check(obj, mtime, target), checks.check(obj, mtime, target));
    const bad = path.join(dir, 'not-btf.btf');
    writeFileSync(bad, 'not BTF at all');
    const failed = await new CoreChecks(pool).check(obj, mtime, { key: 'bad', file: bad, name: 'bad', label: bad }).then(
      (c: CoreCheck) => `checked: ${c.relocations.length}`,
      (e: Error) => e.message,
    );
    assert.match(failed, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*neither raw BTF nor an ELF file`));
  } finally {
    pool.dispose();
  }
});
