// libbpf's map-create adjustments on pages other than 4K (arm64 runs 16K and 64K kernels).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMaxEntries, ringbufSize } from '../../server/src/object/map-adjust';

const RINGBUF = 27;
const USER_RINGBUF = 31;

test('ring buffer sizes round up to a power-of-two number of pages of the given size', () => {
  for (const page of [4096, 16384, 65536]) {
    assert.equal(ringbufSize(0, page), 0, 'zero stays zero: the kernel reports it');
    assert.equal(ringbufSize(1, page), page);
    assert.equal(ringbufSize(page, page), page);
    assert.equal(ringbufSize(page + 1, page), 2 * page);
    assert.equal(ringbufSize(3 * page, page), 4 * page);
    assert.equal(ringbufSize(64 * 1024, page), Math.max(64 * 1024, page));
  }
  assert.equal(ringbufSize(3 * 4096 + 100, 4096), 16384);
  assert.equal(ringbufSize(3 * 4096 + 100, 16384), 16384);
  assert.equal(ringbufSize(3 * 4096 + 100, 65536), 65536);
  assert.equal(ringbufSize(5000, 65536), 65536);
});

test('createMaxEntries uses the env page size for both ring buffer types only', () => {
  for (const pageSize of [16384, 65536]) {
    const env = { nrCpus: 4, pageSize };
    assert.equal(createMaxEntries({ typeId: RINGBUF, maxEntries: 5000 }, env), pageSize);
    assert.equal(createMaxEntries({ typeId: USER_RINGBUF, maxEntries: pageSize * 3 }, env), pageSize * 4);
    assert.equal(createMaxEntries({ typeId: 2, maxEntries: 5000 }, env), 5000, 'an array keeps its size');
    assert.equal(createMaxEntries({ typeId: 4, maxEntries: 0 }, env), 4, 'perf array: one per CPU');
  }
});
