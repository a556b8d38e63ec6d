// The ring and perf buffer consumers on this kernel: observe_events.o loaded and attached,
// an exec and a marker write made by the test, each record read back with the bytes the
// program put there; a flood fills both buffers (ring buffer records refused by the kernel,
// perf records lost and counted); a failure half-way and a stop leave no mapping or FD.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import { FdTracker, localKernel, mappingCount, mapLookupElem, setFaultInjector } from '../../server/src/kernel';
import { openObject } from '../../server/src/object';
import { EventStreams, type RawEvent, type StreamMap } from '../../server/src/observe/event-streams';
import { attachAll } from '../../server/src/attach';
import { loadObject } from '../../server/src/load';
import { fixture } from '../helpers';

type RunHandle = { load: ReturnType<typeof loadObject>; stop(): void };

/** observe_events.o loaded and every program attached. */
function start(set: Record<string, string> = {}): RunHandle {
  const f = fixture('observe_events.o');
  const load = loadObject(openObject(readFileSync(f), f), { kernel: localKernel, set });
  try {
    const session = attachAll(localKernel, load.programs);
    return {
      load,
      stop() {
        session.detach();
        load.close();
      },
    };
  } catch (e) {
    load.close();
    throw e;
  }
}

function streamMaps(h: RunHandle, names: string[]): StreamMap[] {
  return names.map((name) => {
    const m = h.load.maps.find((x) => x.name === name)!;
    return { name, fd: m.fd, kind: m.type === 'ringbuf' ? 'ringbuf' : 'perf' };
  });
}

const cstr = (b: Uint8Array, at: number, len: number) => {
  const s = Buffer.from(b.subarray(at, at + len));
  const z = s.indexOf(0);
  return s.toString('latin1', 0, z < 0 ? len : z);
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('ring buffer and perf buffer: an exec and a marker write come back with pid, comm, file name and text', async () => {
  const h = start();
  const events: RawEvent[] = [];
  const s = new EventStreams(localKernel, streamMaps(h, ['execs', 'writes']), (e) => events.push(e));
  const t0 = Date.now();
  let t1: number;
  try {
    s.start();
    const child = spawnSync('/bin/true', { stdio: 'ignore' });
    assert.equal(child.status, 0);
    writeFileSync('/dev/null', 'LENSMARK from the test');
    for (let i = 0; i < 100 && !events.some((e) => e.kind === 'perf'); i++) await sleep(10);
    s.drainAll();
    t1 = Date.now();
  } finally {
    s.close();
    h.stop();
  }
  // read stamps: taken by the consumer inside the test's window, never going back within a stream
  for (const map of ['execs', 'writes']) {
    const at = events.filter((e) => e.map === map).map((e) => e.readAt);
    for (const t of at) assert.ok(t >= t0 && t <= t1, `${map}: read at ${t}, outside ${t0}..${t1}`);
    assert.deepEqual(
      at,
      [...at].sort((a, b) => a - b),
      `${map}: read stamps go forward`,
    );
  }
  assert.ok(
    events.every((e) => e.kind === 'ringbuf' || (e.kernelTime !== undefined && e.kernelTime >= t0 - 1 && e.kernelTime <= e.readAt + 1)),
    'a perf sample carries the kernel’s CLOCK_REALTIME time, written before it was read',
  );
  assert.ok(
    events.every((e) => e.kind === 'perf' || e.kernelTime === undefined),
    'ring buffer records carry no kernel time',
  );
  const exec = events.find((e) => e.kind === 'ringbuf' && cstr(e.data, 20, 64) === '/bin/true');
  assert.ok(exec, `no exec of /bin/true among ${events.length} events`);
  assert.equal(exec.map, 'execs');
  assert.equal(exec.data.length, 84);
  assert.equal(cstr(exec.data, 4, 16), 'node');
  const w = events.find((e) => e.kind === 'perf');
  assert.ok(w, 'no perf record for the marker write');
  assert.equal(w.map, 'writes');
  assert.equal(typeof w.cpu, 'number');
  const dv = new DataView(w.data.buffer, w.data.byteOffset);
  assert.equal(dv.getUint32(0, true), process.pid);
  assert.equal(dv.getUint32(4, true), 'LENSMARK from the test'.length);
  assert.equal(cstr(w.data, 8, 16), 'node');
  assert.equal(cstr(w.data, 24, 32), 'LENSMARK from the test');
  assert.equal(mappingCount(), 0);
});

const key = (k: number) => Buffer.from(new Uint32Array([k]).buffer);

test('a ring buffer flood: the kernel refuses what does not fit, every record it took is read whole', async () => {
  const h = start({ flood_n: '200000' });
  let rb = 0,
    bad = 0;
  const s = new EventStreams(localKernel, streamMaps(h, ['flood_rb']), (e) => {
    rb++;
    if (e.data.length !== 16) bad++;
  });
  try {
    s.start();
    // process.ppid calls getppid: 200000 records each time, into a 256 KiB ring.
    for (let round = 0; round < 10; round++) {
      void process.ppid;
      await sleep(5);
    }
    s.drainAll();
    const counts = h.load.maps.find((m) => m.name === 'counts')!;
    const fitted = Buffer.from(mapLookupElem(counts.fd, key(0), 8)!).readBigUInt64LE();
    const refused = Buffer.from(mapLookupElem(counts.fd, key(1), 8)!).readBigUInt64LE();
    // Other processes on this machine may call getppid too: whole calls of 200000 each, at least ours.
    assert.ok(fitted + refused >= 2_000_000n && (fitted + refused) % 200_000n === 0n, `${fitted} + ${refused}`);
    assert.equal(bad, 0);
    assert.ok(refused > 0n, 'the ring buffer never filled');
    assert.equal(BigInt(rb), fitted, 'every record the kernel took was read');
  } finally {
    s.close();
    h.stop();
  }
  assert.equal(mappingCount(), 0);
});

test('a perf buffer flood: records lost are counted (PERF_RECORD_LOST), the rest read', async () => {
  const h = start({ flood_perf: '1' });
  let pb = 0;
  const s = new EventStreams(localKernel, streamMaps(h, ['flood_pb']), () => pb++, { perfPages: 1 });
  const calls = 200_000;
  try {
    s.start();
    for (let i = 0; i < calls; i++) void process.ppid;
    // The kernel keeps a full ring's lost count until the next sample on that CPU finds room,
    // and the flood may have run on every CPU: once the reader caught up, one getppid pinned
    // to each CPU makes each ring write its PERF_RECORD_LOST.
    await sleep(50);
    for (const cpu of localKernel.onlineCpus()) spawnSync('taskset', ['-c', String(cpu), 'sh', '-c', ':']);
    await sleep(50);
    s.drainAll();
    const lost = s.lost().flood_pb;
    assert.ok(pb > 0, 'no perf records');
    assert.ok(lost > 0, `no perf record lost (${pb} read)`);
    assert.ok(pb + lost >= calls, `read ${pb} + lost ${lost} for ${calls} getppid calls and more`);
  } finally {
    s.close();
    h.stop();
  }
  assert.equal(mappingCount(), 0);
});

test('a failure half-way (the second mmap, a perf event on some CPU) undoes what was made: no mapping, no FD', () => {
  const h = start();
  try {
    for (const failing of ['mmap', 'perf_event_open', 'epoll_ctl']) {
      for (let k = 1; k <= 4; k++) {
        const t = new FdTracker();
        let n = 0;
        setFaultInjector((cmd) => (cmd === failing && ++n === k ? 'ENOMEM' : undefined));
        try {
          new EventStreams(localKernel, streamMaps(h, ['execs', 'writes']), () => undefined).close();
        } catch (e) {
          assert.match(String(e), new RegExp(`${failing}|ENOMEM`));
        } finally {
          setFaultInjector(undefined);
          t.stop();
        }
        assert.equal(mappingCount(), 0, `${failing} #${k}: mappings left`);
        assert.deepEqual([...t.open.values()], [], `${failing} #${k}: FDs left`);
      }
    }
  } finally {
    h.stop();
  }
});
