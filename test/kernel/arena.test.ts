// __arena globals on this host's kernel (issue 19), libbpf 1.5 (bpftool 7.5 from
// scripts/build-refs.sh) against BPF Lens. Objects libbpf refuses to open (arena globals without
// an ARENA map, or more than the arena holds) BPF Lens refuses before the kernel sees anything.
// Where the kernel refuses ARENA maps (this host: EPERM) both refuse the object, BPF Lens naming
// the map and the errno libbpf got; where it creates them both load the same object
// (arena-qemu.test.ts checks the arena's contents in Debian's 6.12).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { KernelBtf, mappingCount } from '../../server/src/kernel';
import { LoadError } from '../../server/src/load/types';
import { fixture } from '../helpers';
import { lensLoad, lensSnapshot, libbpfLoad, snapshotDifferences } from '../load-helpers';
import { modernRefs } from '../refs';

const targetBtf = KernelBtf.open();
after(() => targetBtf.close());
const refs = modernRefs();

async function lensError(name: string): Promise<LoadError> {
  try {
    (await lensLoad(fixture(name), { targetBtf })).close();
  } catch (e) {
    assert.ok(e instanceof LoadError, String(e));
    return e;
  }
  assert.fail(`BPF Lens loaded ${name}`);
}

for (const [name, libbpfSays, lensSays] of [
  [
    'arena_bad_nomap.o',
    /bad arena data relocation at insn 0, no arena maps defined/,
    /__arena globals need an ARENA map declared in SEC\("\.maps"\)/,
  ],
  [
    'arena_bad_small.o',
    /declared ARENA map size \(4096\) is too small to hold global __arena variables of size 8192/,
    /too small for the 8192 bytes/,
  ],
] as const) {
  test(`${name}: refused before the kernel by libbpf 1.5 and BPF Lens`, async () => {
    const lib = libbpfLoad(fixture(name), { bpftool: refs.bpftool });
    assert.equal(lib.ok, false);
    assert.match(lib.stderr, libbpfSays);
    assert.match(lib.stderr, /failed to open object file/);
    const e = await lensError(name);
    assert.equal(e.stage, 'probe');
    assert.match(e.message, lensSays);
  });
}

for (const name of ['arena_globals.o', 'arena_auto.v3.o']) {
  test(`${name}: libbpf 1.5 and BPF Lens agree on this kernel's ARENA maps`, async () => {
    const lib = libbpfLoad(fixture(name), { bpftool: refs.bpftool });
    if (lib.ok) {
      const r = await lensLoad(fixture(name), { targetBtf });
      try {
        assert.deepEqual(snapshotDifferences(lib.snapshot!, lensSnapshot(r)), []);
      } finally {
        r.close();
      }
      return;
    }
    const errno = /map 'arena': failed to create: .*\((-\d+)\)/.exec(lib.stderr);
    assert.ok(errno, lib.stderr);
    const e = await lensError(name);
    assert.equal(e.stage, 'maps');
    assert.match(e.message, /^map 'arena': cannot create it: BPF_MAP_CREATE failed: E[A-Z]+/);
    if (errno[1] === '-1') assert.match(e.message, /EPERM/);
    assert.equal(mappingCount(), 0);
  });
}
