// __arena globals (issue 19) where the kernel creates ARENA maps: this host refuses them (EPERM),
// so Debian's 6.12 boots under qemu with the host's root over 9p and arena-guest.ts loads each
// fixture with libbpf 1.5 (bpftool 7.5 from scripts/build-refs.sh) and with BPF Lens: the same
// tag, the same arena map, the .addr_space.1 bytes at the arena's start, and a syscall program
// that reads them returning the same values run after run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as path from 'path';
import { ROOT } from '../helpers';
import { runHostRootGuest } from '../qemu-host-root';
import { modernRefs } from '../refs';

// counter + label[0] + label[5] + big[0] + big[2] = 42 + 'a' + '!' + 1000 + 3000, then runs * 100000
const INITIAL = 42 + 97 + 33 + 1000 + 3000;
const FIXTURES = ['arena_globals.o', 'arena_globals.v3.o', 'arena_auto.o'];

test('Debian 6.12 under qemu: __arena globals are the ARENA map contents, as libbpf 1.5 places them', { timeout: 600_000 }, (t) => {
  const refs = modernRefs();
  const command = [
    process.execPath,
    path.join(__dirname, 'arena-guest.js'),
    path.join(ROOT, 'build', 'fixtures'),
    refs.bpftool,
    FIXTURES.join(','),
  ].join(' ');
  const g = runHostRootGuest({ version: '6.12', command });
  assert.match(g.result.release, /^6\.12\./);
  t.diagnostic(`6.12 guest: ${Math.round(g.ms / 1000)} s`);
  for (const name of FIXTURES) {
    const { section, libbpf, lens } = g.result.objects[name];
    assert.equal(libbpf.error, undefined, `${name}: libbpf: ${libbpf.error}`);
    assert.equal(lens.error, undefined, `${name}: BPF Lens: ${lens.error}`);
    assert.deepEqual(libbpf.runs, [INITIAL + 100000, INITIAL + 200000], `${name}: libbpf's arena`);
    assert.deepEqual(lens, libbpf, `${name}: BPF Lens and libbpf 1.5`);
    if (name.startsWith('arena_globals')) assert.equal(lens.contents, section, `${name}: the arena starts with .addr_space.1`);
  }
});
