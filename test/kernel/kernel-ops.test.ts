// KernelOps as the one door to a kernel: a load through an object that only forwards to
// localKernel (as a remote or instrumented kernel would) works and keeps every map FD
// close-on-exec; the page size comes from the system (sysconf) and reaches ring buffer sizes;
// objKind tells a program FD from a map FD.
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import { test } from 'node:test';
import { type KernelOps, localKernel, mapCreate, closeFd, objKind, O_CLOEXEC, pageSize, BPF_MAP_TYPE } from '../../server/src/kernel';
import { loadObject } from '../../server/src/load';
import { openObject } from '../../server/src/object';
import { ringbufSize } from '../../server/src/object/map-adjust';
import { fixture, run } from '../helpers';
import { bpffsDir } from './kernel-env';

/** A KernelOps that forwards every member to localKernel: nothing of this process's kernel leaks through identity. */
function forwarding(over: Partial<KernelOps> = {}): KernelOps {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(localKernel)) out[name] = (...args: unknown[]) => (f as (...a: unknown[]) => unknown)(...args);
  return { ...(out as unknown as KernelOps), ...over };
}

/** The fd's flags from /proc/self/fdinfo (octal there). */
function fdFlags(fd: number): number {
  const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
  assert.ok(m, `fdinfo of ${fd} has flags`);
  return parseInt(m[1], 8);
}

const open = (name: string) => openObject(new Uint8Array(readFileSync(fixture(name))), fixture(name));

test('a load through a forwarding KernelOps works; every map FD keeps O_CLOEXEC (dup3, not dup2)', () => {
  const seen: string[] = [];
  const r = loadObject(open('load_events.o'), { kernel: forwarding({ dup3: (...a) => (seen.push('dup3'), localKernel.dup3(...a)) }) });
  try {
    assert.ok(r.maps.length >= 4, `${r.maps.length} maps`);
    assert.equal(seen.length, r.maps.length, 'each map was put on its placeholder with dup3');
    for (const m of r.maps) {
      assert.equal(objKind(m.fd), 'map', `map ${m.name}`);
      assert.ok(fdFlags(m.fd) & O_CLOEXEC, `map ${m.name} FD ${m.fd} is close-on-exec`);
    }
    for (const p of r.programs) assert.equal(objKind(p.fd), 'prog');
  } finally {
    r.close();
  }
});

test("the page size is the system's (getconf PAGESIZE)", () => {
  assert.equal(pageSize(), Number(run('getconf', ['PAGESIZE']).trim()));
  assert.equal(localKernel.systemInfo().pageSize, pageSize());
});

test('ring buffer sizes follow the page size the kernel reports, not 4096', () => {
  const odd = 3 * 4096 + 100; // load_events.bpf.c's odd_ring
  const real = loadObject(open('load_events.o'), { kernel: localKernel });
  try {
    assert.equal(real.maps.find((m) => m.name === 'odd_ring')!.maxEntries, ringbufSize(odd, pageSize()));
  } finally {
    real.close();
  }
  // A 64K-page kernel (arm64): what this 4K kernel accepts too, as 64K is a power-of-two multiple of 4K.
  const big = forwarding({ systemInfo: () => ({ ...localKernel.systemInfo(), pageSize: 65536 }) });
  const r = loadObject(open('load_events.o'), { kernel: big });
  try {
    assert.equal(r.maps.find((m) => m.name === 'odd_ring')!.maxEntries, 65536);
    assert.equal(r.maps.find((m) => m.name === 'pkt_ring')!.maxEntries, 65536);
  } finally {
    r.close();
  }
});

test('the ring buffer BPF Lens creates has the size libbpf creates on this host', () => {
  const { dir, done } = bpffsDir('ops');
  try {
    run('bpftool', ['prog', 'loadall', fixture('load_events.o'), dir]);
    const maps = JSON.parse(run('bpftool', ['-j', 'map', 'show'])) as { name: string; max_entries: number; type: string }[];
    const r = loadObject(open('load_events.o'), { kernel: localKernel });
    try {
      const ours = r.maps.find((m) => m.name === 'odd_ring')!;
      const theirs = maps.filter((m) => m.name === 'odd_ring' && m.type === 'ringbuf');
      assert.ok(theirs.length >= 1, 'libbpf created odd_ring');
      assert.ok(
        theirs.every((m) => m.max_entries === ours.maxEntries),
        `libbpf: ${theirs.map((m) => m.max_entries).join(',')}, ours: ${ours.maxEntries}`,
      );
    } finally {
      r.close();
    }
  } finally {
    done();
  }
});

test('objKind: map, program-less FDs', () => {
  const fd = mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
  try {
    assert.equal(objKind(fd), 'map');
  } finally {
    closeFd(fd);
  }
  const memfd = localKernel.memfdCreate('x');
  try {
    assert.equal(objKind(memfd), undefined);
  } finally {
    closeFd(memfd);
  }
});
