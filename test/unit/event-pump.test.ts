// The Events stream's pump: what a flood becomes on the way to the editor — a bounded queue,
// at most a batch per take and a rate per second, every record either sent or counted as
// dropped (with the target's own drops and the kernel's lost samples), the rate over the last
// second, and a sender that waits for room when the queue is full.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventBatch, EventRecordJson } from '../../protocol/agent';
import { EventPump } from '../../server/src/lsp/event-pump';

const rec = (i: number): EventRecordJson => ({ kind: 'ringbuf', map: 'rb', data: Buffer.from([i & 0xff]).toString('base64'), readAt: i });
const batch = (n: number, o: Partial<EventBatch> = {}, from = 0): EventBatch => ({
  handle: 1,
  records: Array.from({ length: n }, (_, i) => rec(from + i)),
  printk: [],
  dropped: 0,
  lost: {},
  ...o,
});

test('a flood: the queue keeps maxQueued, the rest is dropped and counted; takes send at most a batch and the tokens earned', () => {
  const p = new EventPump({ maxQueued: 100, maxBatch: 30, perSecond: 200 });
  p.offer(batch(250), 0);
  assert.equal(p.queued, 100);
  const a = p.take(0)!;
  assert.equal(a.records.length, 30, 'a first batch at once');
  assert.deepEqual(a.records[0], { item: rec(0), time: 0 }, 'the oldest first');
  assert.deepEqual(
    { records: a.counters.records, shown: a.counters.shown, dropped: a.counters.dropped },
    { records: 250, shown: 30, dropped: 150 },
  );
  // 50 ms earns 10 records at 200/s
  assert.equal(p.take(50)!.records.length, 10);
  // a long pause earns at most a batch
  assert.equal(p.take(10_000)!.records.length, 30);
  const last = p.take(10_000, true)!;
  assert.equal(last.records.length, 30, 'final: everything left');
  assert.equal(last.counters.shown + last.counters.dropped, last.counters.records);
  assert.equal(p.queued, 0);
});

test("the target's drops and the kernel's lost samples are totals: the largest seen counts, lost summed over maps", () => {
  const p = new EventPump();
  p.offer(batch(1, { dropped: 5, lost: { pb: 3, pb2: 1 } }), 0);
  p.offer(batch(1, { dropped: 9, lost: { pb: 7, pb2: 1 } }), 10);
  const c = p.take(10)!.counters;
  assert.deepEqual([c.dropped, c.lost, c.lostByMap, c.records], [9, 8, { pb: 7, pb2: 1 }, 11]);
});

test('printk lines travel beside records, bounded apart', () => {
  const p = new EventPump({ maxLines: 2, maxBatch: 10 });
  p.offer(batch(0, { printk: ['a', 'b', 'c'] }), 0);
  const t = p.take(0)!;
  assert.deepEqual(
    t.lines.map((l) => l.item),
    ['a', 'b'],
  );
  assert.deepEqual([t.counters.printk, t.counters.dropped], [3, 1]);
});

test('nothing new: no take; the rate is what was read over the last second, and falls to 0', () => {
  const p = new EventPump({ maxQueued: 10 });
  assert.ok(p.take(0), 'the first counters go out');
  assert.equal(p.take(100), undefined);
  p.offer(batch(1000), 200);
  const r = p.take(500)!;
  assert.equal(r.counters.rate, 2000, '1000 records in the 500 ms since the first sample');
  assert.equal(r.counters.records, 1000);
  assert.ok(p.take(600));
  // a second and more later nothing came: the rate is 0, said once
  const idle = p.take(1700)!;
  assert.equal(idle.counters.rate, 0);
  assert.equal(p.take(2800), undefined);
});

test('a full queue makes the sender wait until a take makes room, or until released', async () => {
  const p = new EventPump({ maxQueued: 5, maxBatch: 5 });
  p.offer(batch(3), 0);
  assert.equal(p.whenRoom(), undefined);
  p.offer(batch(3), 0);
  let waited = false;
  const w = p.whenRoom()!.then(() => (waited = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(waited, false);
  p.take(0);
  await w;
  p.offer(batch(10), 1);
  const w2 = p.whenRoom()!;
  p.release();
  await w2;
  assert.equal(p.whenRoom(), undefined, 'released: never waits again');
  assert.equal(p.queued, 5, 'and still drops what does not fit');
});
