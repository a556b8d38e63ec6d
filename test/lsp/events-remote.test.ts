// The Events panel's stream from remote targets, over a real LSP connection: bpfLens.targets
// holds an SSH target (sshd in a network namespace on this machine, the agent deployed there
// over ssh: the same kernel, so the test's own execs and writes are what its programs see) and
// a qemu guest (Debian 6.12, the product's vm target). Through the agent: the ring buffer and
// perf buffer records arrive decoded, stamped when the agent's consumer read them (perf samples
// also with the kernel's time), the printk line from the target's trace pipe tied to its
// program; a flood keeps the connection (requests answered, the load still unloads through the
// agent) with its drops counted; an unload while records are queued still delivers them before
// `done`. In the guest, the programs' records are the guest kernel's own scheduler switches.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { EventRow, EventsNotificationParams, ObserveEventsResult, StopEventsResult } from '../../protocol/lsp';
import { fixture, holdTracePipe, run } from '../helpers';
import { debianKernel } from '../kernels';
import { type SshHost, startSshHost } from '../ssh-host';
import { LspClient, makeWorkspace } from './lsp-client';

const ws = makeWorkspace([]);
let host: SshHost;
let lsp: LspClient;
let releasePipe: () => void;
before(async () => {
  // `lab` is this machine: its printk comes from this kernel's one trace pipe
  releasePipe = await holdTracePipe();
  host = startSshHost();
  // the server's ssh reads the test host's ssh_config (never ~/.ssh)
  process.env.BPF_LENS_SSH_CONFIG = host.config;
  lsp = await LspClient.start(ws.dir, {
    targets: [
      { name: 'lab', host: 'bpflens-test' },
      { name: 'guest', kernel: debianKernel('6.12').vmlinuz, memory: 1024 },
    ],
  });
});
after(async () => {
  await lsp?.stop();
  host?.stop();
  delete process.env.BPF_LENS_SSH_CONFIG;
  ws.cleanup();
  releasePipe?.();
});

interface Loaded {
  handle: number;
  target: string;
  maps: { name: string; id: number }[];
}

const batches = (handle: number) =>
  lsp.notifications
    .filter((n) => n.method === 'bpfLens/events' && (n.params as EventsNotificationParams).handle === handle)
    .map((n) => n.params as EventsNotificationParams);
const rowsOf = (handle: number) => batches(handle).flatMap((b) => b.rows);

async function load(file: string, target: string): Promise<Loaded> {
  const r = await lsp.request<{ ok: boolean; loaded: Loaded; error?: { message: string } }>('bpfLens/loadObject', {
    path: fixture(file),
    target,
  });
  assert.ok(r.ok, r.error?.message);
  assert.equal(r.loaded.target, target);
  return r.loaded;
}
async function attach(handle: number): Promise<void> {
  const a = await lsp.request<{ ok: boolean; error?: { message: string } }>('bpfLens/attach', { handle });
  assert.ok(a.ok, a.error?.message);
}
async function observe(handle: number): Promise<ObserveEventsResult> {
  const o = await lsp.request<ObserveEventsResult>('bpfLens/observeEvents', { handle });
  assert.ok(o.ok, o.error);
  return o;
}

/** Every row's read stamp within t0..t1 (less `slack` for a clock of another machine), going forward within each map. */
function checkStamps(rows: readonly EventRow[], t0: number, t1: number, slack = 0): void {
  for (const map of new Set(rows.map((r) => r.map))) {
    const at = rows.filter((r) => r.map === map).map((r) => r.time);
    for (const t of at) assert.ok(t >= t0 - slack && t <= t1 + slack, `${map}: read at ${t}, outside the test's ${t0}..${t1}`);
    assert.deepEqual(
      at,
      [...at].sort((a, b) => a - b),
      `${map}: read stamps go forward`,
    );
  }
}

test('ssh target: exec and write records decoded through the agent, stamped where they were read; printk from the target’s pipe', async () => {
  const t0 = Date.now();
  const l = await load('observe_events.o', 'lab');
  await attach(l.handle);
  const o = await observe(l.handle);
  assert.equal(o.printk, true, o.printkError);
  assert.deepEqual(o.maps.map((m) => [m.name, m.kind, m.type]).sort(), [
    ['execs', 'ringbuf', 'exec_event'],
    ['flood_pb', 'perf', undefined],
    ['flood_rb', 'ringbuf', undefined],
    ['writes', 'perf', 'write_event'],
  ]);
  const child = spawnSync('/bin/true');
  const marker = `LENSMARK ${process.pid}`;
  writeFileSync('/dev/null', marker);
  const exec = await lsp.until('the exec record', () =>
    rowsOf(l.handle).find((r) => r.map === 'execs' && (r.data as { filename?: string }).filename === '/bin/true'),
  );
  assert.deepEqual(exec.data, { pid: child.pid, comm: 'node', filename: '/bin/true' });
  const w = await lsp.until('the marker record', () =>
    rowsOf(l.handle).find((r) => r.map === 'writes' && (r.data as { pid?: number }).pid === process.pid),
  );
  assert.deepEqual(w.data, { pid: process.pid, count: marker.length, comm: 'node', text: marker });
  assert.ok(w.kernelTime! >= t0 && w.kernelTime! <= w.time + 1, `written at ${w.kernelTime}, read at ${w.time}`);
  const p = await lsp.until('the printk line', () =>
    batches(l.handle)
      .flatMap((b) => b.printk)
      .find((x) => x.pid === process.pid),
  );
  assert.equal(p.text, `lens marker write pid=${process.pid} count=${marker.length}`);
  assert.deepEqual([p.object, p.programs], [fixture('observe_events.o'), ['on_write']]);
  assert.ok(p.time >= t0 && p.time <= Date.now(), `printk line read at ${p.time}`);
  const s = await lsp.request<StopEventsResult>('bpfLens/stopEvents', { handle: l.handle });
  assert.equal(batches(l.handle).at(-1)!.done, true);
  assert.equal(s.counters!.dropped, 0);
  assert.equal(s.counters!.shown, rowsOf(l.handle).length);
  checkStamps(rowsOf(l.handle), t0, Date.now());
  await lsp.request('bpfLens/unloadObject', { handle: l.handle });
});

test('ssh target: a flood through the agent keeps the connection; drops counted; the load still unloads through it', async () => {
  const l = await load('lsp_events_flood.o', 'lab');
  await attach(l.handle);
  await observe(l.handle);
  const t0 = performance.now();
  const flood = spawn('python3', ['-c', 'import os, time\nt=time.time()\nwhile time.time()-t<3: os.getppid()']);
  const exited = new Promise<number | null>((r) => flood.on('exit', r));
  await new Promise((r) => setTimeout(r, 1500));
  const during = performance.now();
  const listed = await lsp.request<{ loaded: { handle: number; target: string }[] }>('bpfLens/loadedObjects');
  const answerMs = performance.now() - during;
  assert.deepEqual(
    listed.loaded.map((x) => [x.handle, x.target]),
    [[l.handle, 'lab']],
  );
  assert.equal(await exited, 0);
  const s = await lsp.request<StopEventsResult>('bpfLens/stopEvents', { handle: l.handle });
  const secs = (performance.now() - t0) / 1000;
  const c = s.counters!;
  const all = batches(l.handle);
  console.log(
    `flood through the agent: ${c.records} records read on the target in ${secs.toFixed(1)} s, ${c.shown} shown in ${all.length} notifications, ` +
      `${c.dropped} dropped; a request answered in ${answerMs.toFixed(0)} ms while flooding`,
  );
  assert.ok(c.records > 50_000, `a flood was read: ${JSON.stringify(c)}`);
  assert.ok(c.dropped > 0, 'more than the editor is sent: dropped and counted');
  assert.equal(c.shown + c.dropped, c.records, 'every record read was shown or counted as dropped');
  assert.equal(
    c.shown,
    all.reduce((n, b) => n + b.rows.length, 0),
  );
  assert.ok(all.at(-1)!.done);
  assert.ok(answerMs < 2000, `answered in ${answerMs.toFixed(0)} ms`);
  // the connection lived through it: the agent answers, the load unloads through it
  const u = await lsp.request<{ closed: boolean }>('bpfLens/unloadObject', { handle: l.handle });
  assert.equal(u.closed, true);
  const again = await load('observe_events.o', 'lab');
  await lsp.request('bpfLens/unloadObject', { handle: again.handle });
});

test('ssh target: unloaded while records are queued on the agent and in the server: they come before `done`, all counted', async () => {
  const l = await load('lsp_events_flood.o', 'lab');
  await attach(l.handle);
  await observe(l.handle);
  // one getppid: the ring takes about 10,900 records at once; the editor is sent 500 every 100 ms
  spawnSync('python3', ['-c', 'import os; os.getppid()']);
  await lsp.request('bpfLens/detach', { handle: l.handle });
  // detached: what the kernel took is final (the SSH host is this kernel: bpftool sees its map)
  const counts = l.maps.find((m) => m.name === 'counts')!.id;
  const taken = JSON.parse(run('bpftool', ['-j', 'map', 'lookup', 'id', String(counts), 'key', '0', '0', '0', '0'])) as { value: string[] };
  const fitted = Number(Buffer.from(taken.value.map((b) => Number(b))).readBigUInt64LE());
  const before = rowsOf(l.handle).length;
  await lsp.request('bpfLens/unloadObject', { handle: l.handle });
  await lsp.until('done after unload', () => batches(l.handle).find((b) => b.done));
  const all = batches(l.handle);
  assert.deepEqual(
    all.map((b) => b.done ?? false),
    [...Array(all.length - 1).fill(false), true],
    'done comes once, last',
  );
  const shown = rowsOf(l.handle).length;
  const c = all.at(-1)!.counters;
  console.log(
    `unload mid-stream through the agent: ${fitted} taken, ${before} shown before the unload, ${shown} in all, ${c.dropped} dropped`,
  );
  assert.ok(fitted >= 10_000, `one getppid filled the ring: ${fitted}`);
  assert.ok(shown > before, 'records queued at the unload came after it');
  assert.equal(c.records + c.lost, fitted, 'every record the kernel took was read (or counted as lost)');
  assert.equal(shown + c.dropped + c.lost, fitted, 'each shown, or counted as dropped or lost');
});

test(
  'vm target (Debian 6.12 under qemu): the guest kernel’s scheduler switches, decoded, with its printk line',
  { timeout: 600_000 },
  async () => {
    const t0 = Date.now();
    const l = await load('observe_ticks.o', 'guest');
    // observed before attaching: the program records only the first 32 switches after attach
    const o = await observe(l.handle);
    assert.equal(o.printk, true, o.printkError);
    assert.deepEqual(o.maps.map((m) => [m.name, m.kind, m.type]).sort(), [
      ['tick_pb', 'perf', 'tick'],
      ['ticks', 'ringbuf', 'tick'],
    ]);
    await attach(l.handle);
    const seqs = (map: string) =>
      rowsOf(l.handle)
        .filter((r) => r.map === map)
        .map((r) => (r.data as { seq: number }).seq)
        .sort((a, b) => a - b);
    const every = Array.from({ length: 32 }, (_, i) => i);
    await lsp.until('every tick in both buffers', () => seqs('ticks').length >= 32 && seqs('tick_pb').length >= 32, 60_000);
    const p = await lsp.until('the printk line', () => batches(l.handle).flatMap((b) => b.printk)[0], 20_000);
    const s = await lsp.request<StopEventsResult>('bpfLens/stopEvents', { handle: l.handle });
    assert.deepEqual(seqs('ticks'), every);
    assert.deepEqual(seqs('tick_pb'), every);
    const rows = rowsOf(l.handle);
    for (const r of rows) assert.deepEqual(Object.keys(r.data as object), ['seq', 'cpu', 'pid', 'comm']);
    assert.ok(!rows.some((r) => (r.data as { pid: number }).pid === process.pid), 'the guest’s switches, not this machine’s');
    assert.match(p.text, /^lens tick seq=0 cpu=\d+$/);
    assert.deepEqual(p.programs, ['on_switch']);
    assert.deepEqual([s.counters!.dropped, s.counters!.lost], [0, 0]);
    // the guest's wall clock comes from qemu's RTC (whole seconds): a little slack
    checkStamps(rows, t0, Date.now(), 2000);
    for (const r of rows.filter((x) => x.kind === 'perf'))
      assert.ok(r.kernelTime! <= r.time + 1, `written at ${r.kernelTime}, after it was read at ${r.time}`);
    await lsp.request('bpfLens/unloadObject', { handle: l.handle });
  },
);
