// libbpf parity causes found by the selftests corpus (issue 19), each with its own fixture
// (test/fixtures/parity_*.bpf.c, default and -mcpu=v3 builds), loaded by libbpf 1.5 (the
// bpftool scripts/build-refs.sh builds) and by BPF Lens: the same programs, tags and maps.
import assert from 'node:assert/strict';
import { readdirSync } from 'fs';
import { after, test } from 'node:test';
import { KernelBtf } from '../../server/src/kernel';
import { FIXTURES, fixture } from '../helpers';
import { lensLoad, lensSnapshot, libbpfLoad, snapshotDifferences } from '../load-helpers';
import { modernRefs } from '../refs';
import { bpffsDir } from './kernel-env';

const targetBtf = KernelBtf.open();
after(() => targetBtf.close());
const refs = modernRefs();

const objects = readdirSync(FIXTURES)
  .filter((f) => /^parity_.*\.o$/.test(f) && !f.endsWith('.eb.o'))
  .sort();

test('there are parity fixtures', () => {
  assert.ok(objects.length >= 6, objects.join(' '));
});

for (const name of objects) {
  test(`${name}: libbpf 1.5 and BPF Lens load the same programs and maps`, async () => {
    const lib = libbpfLoad(fixture(name), { bpftool: refs.bpftool });
    assert.ok(lib.ok, lib.stderr);
    const { dir, done } = bpffsDir('parity');
    try {
      const r = await lensLoad(fixture(name), { pinRoot: dir, targetBtf });
      try {
        assert.deepEqual(snapshotDifferences(lib.snapshot!, lensSnapshot(r)), []);
      } finally {
        r.close();
      }
    } finally {
      done();
    }
  });
}
