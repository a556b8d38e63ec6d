// Events as a user sees them: `bpf-lens run observe_events.o --json` while the test execs a
// binary and writes a marker — the ring buffer record decoded with the type named on the
// reserve's source line, the perf record with the one struct of the size argument, the
// bpf_printk line tied to on_write and its source line, the counts at the end; --decode and hex.
// Then a flood through a local agent: millions of records offered, the agent's bounded queue
// drops and counts, the connection lives on.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { test } from 'node:test';
import type { EventBatch } from '../../protocol/agent';
import { connectTarget } from '../../server/src/remote';
import { AgentTarget } from '../../server/src/targets/agent';
import { fixture, ROOT, withTracePipe } from '../helpers';
import { type Ev, startRun } from '../run-helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(events: Ev[], f: (e: Ev) => boolean, ms = 5000): Promise<Ev | undefined> {
  for (let t = 0; t < ms; t += 20) {
    const e = events.find(f);
    if (e) return e;
    await sleep(20);
  }
  return undefined;
}

test('run --json: exec and marker write decoded, printk tied to on_write and its line, counts at the end', () => withTracePipe(runDecoded));

async function runDecoded(): Promise<void> {
  const t0 = Date.now();
  const r = startRun([fixture('observe_events.o')]);
  await r.running;
  const marker = `LENSMARK ${process.pid}`;
  try {
    const child = spawnSync('/bin/true');
    writeFileSync('/dev/null', marker);
    const exec = await until(r.events, (e) => e.event === 'ringbuf' && (e.data as { filename?: string })?.filename === '/bin/true');
    assert.ok(exec, `no exec event: ${JSON.stringify(r.events.slice(0, 8))}`);
    // read_at (checked below) is new in the record: the rest is exactly this
    assert.deepEqual(
      { ...exec, read_at: 0 },
      { event: 'ringbuf', map: 'execs', read_at: 0, data: { pid: child.pid, comm: 'node', filename: '/bin/true' } },
    );
    const w = await until(r.events, (e) => e.event === 'perf' && (e.data as { pid?: number })?.pid === process.pid);
    assert.ok(w, 'no perf event for the marker');
    assert.equal(typeof w.cpu, 'number');
    assert.deepEqual(w.data, { pid: process.pid, count: marker.length, comm: 'node', text: marker });
    const p = await until(r.events, (e) => e.event === 'printk' && e.pid === process.pid);
    assert.ok(p, 'no printk line');
    assert.equal(p.text, `lens marker write pid=${process.pid} count=${marker.length}`);
    assert.equal(p.program, 'on_write');
    const src = readFileSync(join(ROOT, 'test', 'fixtures', 'observe_events.bpf.c'), 'utf8').split('\n');
    const at = p.source as { file: string; line: number };
    assert.match(src[at.line - 1], /bpf_printk\("lens marker write/);
  } finally {
    r.child.kill('SIGINT');
  }
  assert.equal(await r.exited, 0, r.stderr());
  checkTimes(r.events, t0, Date.now());
  const names = r.events.map((e) => e.event);
  const obs = r.events.find((e) => e.event === 'observed');
  assert.ok(obs && names.indexOf('observed') < names.indexOf('detached'), 'counts come before detaching');
  assert.deepEqual(Object.keys(obs.lost as object).sort(), ['flood_pb', 'writes']);
  assert.equal(obs.dropped, 0);
  // The maps as `map dump --json` (bpftool -j map dump) prints them, before detaching; buffers left out.
  const maps = r.events.find((e) => e.event === 'maps');
  assert.ok(maps && names.indexOf('maps') < names.indexOf('detached'), 'maps come before detaching');
  const m = maps.maps as Record<string, unknown>;
  assert.deepEqual(Object.keys(m).sort(), ['.bss', '.rodata', 'counts']);
  const counts = m.counts as { key: string[]; value: string[]; formatted: { key: number; value: number } }[];
  assert.equal(counts.length, 4);
  assert.deepEqual(counts[0].formatted, { key: 0, value: 0 });
  assert.deepEqual(counts[0].key, ['0x00', '0x00', '0x00', '0x00']);
}

/**
 * Every record's and printk line's `read_at` within the run (ms since the epoch), never going back
 * per stream; each perf sample's `written_at` (the kernel's time) within the run and not after its
 * read; each printk line's `trace_time` the trace clock's seconds.
 */
function checkTimes(events: Ev[], t0: number, t1: number): void {
  const streams = new Map<string, number[]>();
  for (const e of events.filter((x) => x.event === 'ringbuf' || x.event === 'perf' || x.event === 'printk')) {
    const at = e.read_at as number;
    const what = `${e.event} ${JSON.stringify(e).slice(0, 160)}`;
    assert.ok(typeof at === 'number' && at >= t0 && at <= t1, `${what}: read at ${at}, outside the run ${t0}..${t1}`);
    const key = e.event === 'printk' ? 'printk' : (e.map as string);
    streams.set(key, [...(streams.get(key) ?? []), at]);
    if (e.event === 'perf') {
      const w = e.written_at as number;
      assert.ok(typeof w === 'number' && w >= t0 && w <= at, `${what}: written at ${w}, read at ${at}, run ${t0}..${t1}`);
    } else assert.equal(e.written_at, undefined, `${what}: only perf samples carry the kernel's time`);
    if (e.event === 'printk') assert.ok(typeof e.trace_time === 'number' && e.trace_time > 0, `${what}: trace_time`);
  }
  for (const k of ['execs', 'writes', 'printk']) assert.ok(streams.get(k)?.length, `${k}: no records to check the times of`);
  for (const [k, at] of streams)
    assert.deepEqual(
      at,
      [...at].sort((a, b) => a - b),
      `${k}: read stamps go forward`,
    );
}

test('trace_pipe held by another reader: run warns naming the holder and still streams the records', () =>
  withTracePipe(async () => {
    const holder = spawn('cat', ['/sys/kernel/tracing/trace_pipe'], { stdio: 'ignore' });
    try {
      await sleep(300);
      const r = startRun([fixture('observe_events.o')]);
      await r.running;
      try {
        spawnSync('/bin/true');
        assert.ok(await until(r.events, (e) => e.event === 'ringbuf' && e.map === 'execs'), 'records still come');
      } finally {
        r.child.kill('SIGINT');
      }
      assert.equal(await r.exited, 0, r.stderr());
      const w = r.events.find((e) => e.event === 'warning');
      assert.match(
        String(w?.message),
        new RegExp(`EBUSY.*only one reader may hold trace_pipe, and pid ${holder.pid} \\(cat\\) has it open`),
      );
    } finally {
      holder.kill();
    }
  }));

test('run --decode MAP=TYPE; a map of no known type shows hex; a bad --decode is an error naming it', async () => {
  const r = startRun([fixture('observe_events.o'), '--decode', 'execs=write_event', '--set', 'flood_n=3', '--no-printk']);
  await r.running;
  try {
    spawnSync('/bin/true');
    void process.ppid;
    assert.ok(await until(r.events, (e) => e.event === 'ringbuf' && e.map === 'execs'));
    assert.ok(await until(r.events, (e) => e.event === 'ringbuf' && e.map === 'flood_rb'));
  } finally {
    r.child.kill('SIGINT');
  }
  assert.equal(await r.exited, 0, r.stderr());
  const w = r.events.find((e) => e.event === 'ringbuf' && e.map === 'execs')!;
  assert.deepEqual(Object.keys(w.data as object), ['pid', 'count', 'comm', 'text'], 'decoded as write_event, as asked');
  const f = r.events.find((e) => e.event === 'ringbuf' && e.map === 'flood_rb')!;
  assert.equal(f.data, undefined);
  assert.match(f.hex as string, /^[0-9a-f]{32}$/);
  assert.ok(!r.events.some((e) => e.event === 'printk'), '--no-printk');

  const bad = startRun([fixture('observe_events.o'), '--decode', 'writes=no_such_type', '--duration', '0']);
  assert.equal(await bad.exited, 1);
  assert.match(String(bad.events.find((e) => e.event === 'error')?.message), /--decode: no type 'no_such_type'/);
});

test('a flood through a local agent: millions of records offered, the bounded queue drops and counts, the connection lives', async () => {
  const t = new AgentTarget(await connectTarget('local', { root: ROOT }));
  try {
    const r = await t.load({ name: 'observe_events.o', object: readFileSync(fixture('observe_events.o')), set: { flood_n: '200000' } });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    const handle = r.loaded.handle;
    let got = 0,
      batches = 0,
      lastDropped = 0;
    const onBatch = (b: EventBatch) => {
      batches++;
      got += b.records.filter((x) => x.map === 'flood_rb').length;
      lastDropped = b.dropped;
    };
    await t.observe({ handle, maps: ['flood_rb'], maxQueued: 20000 }, onBatch);
    await t.attach(handle, { programs: ['on_getppid'] });
    const t0 = performance.now();
    // 20 getppid calls, 200000 records offered each: 4 million. Spawned without blocking this
    // event loop: a client that stops reading would stall the agent's writes, not test them.
    await new Promise((res) => spawn('python3', ['-c', 'import os\nfor i in range(20): os.getppid()']).on('close', res));
    await sleep(500);
    const s = await t.observeStop(handle);
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `flood: ${got} records in ${batches} batches through the agent in ${secs.toFixed(2)} s (${Math.round(got / secs)}/s), ${s.dropped} dropped`,
    );
    assert.equal(got + s.dropped, s.records, 'every record read was delivered or counted as dropped');
    assert.ok(s.dropped > 0, 'the queue never filled');
    assert.equal(lastDropped, s.dropped, 'the last batch carries the final drop count');
    assert.ok(got > 10000);
    // Still talking: a request after the flood answers.
    assert.equal((await t.list())[0].handle, handle);
    await t.unload(handle);
  } finally {
    await t.close();
  }
});
