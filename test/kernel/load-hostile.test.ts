// `bpf-lens load` given what a careless or hostile user gives it (issue 14's audit): a pinned
// map as --replace's program, an id no u32 holds, `--set __proto__=1`; what it says about
// maps pinned by name without --pin; iproute2's PIN_GLOBAL_NS maps under tc/globals.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'fs';
import { test } from 'node:test';
import * as path from 'path';
import { BPF_MAP_TYPE, closeFd, localKernel, mapCreate, objGet, objPin } from '../../server/src/kernel';
import { loadObject, LoadError } from '../../server/src/load';
import { openObject } from '../../server/src/object';
import { pinPath } from '../../server/src/object/map-adjust';
import { CILIUM, cli, fixture } from '../helpers';
import { bpffsDir, openFds } from './kernel-env';

const open = (file: string) => openObject(new Uint8Array(readFileSync(file)), file);

test('--replace given a pinned map says it is a map, not a program (CLI and API)', () => {
  const pins = bpffsDir('replace');
  const fd = mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
  try {
    objPin(fd, `${pins.dir}/a_map`);
    const r = cli(['load', fixture('freplace_fw_drop.o'), '--replace', `${pins.dir}/a_map`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /--replace \/sys\/fs\/bpf\/\S+\/a_map: a map, not a program/);
    // the pipeline itself, handed a map FD
    const before = openFds();
    const mapFd = objGet(`${pins.dir}/a_map`);
    try {
      assert.throws(
        () => loadObject(open(fixture('freplace_fw_drop.o')), { kernel: localKernel, replaceTargetFd: mapFd }),
        (e: unknown) => e instanceof LoadError && /is a map, not a program/.test(e.message),
      );
    } finally {
      closeFd(mapFd);
    }
    assert.equal(openFds(), before);
  } finally {
    closeFd(fd);
    pins.done();
  }
});

test('--replace with an id no u32 holds is refused, not rounded', () => {
  for (const id of ['99999999999999999999', '4294967296', '0']) {
    const r = cli(['load', fixture('freplace_fw_drop.o'), '--replace', id]);
    assert.equal(r.code, 1, `${id}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`--replace ${id}: no program id \\(ids are 1 to 4294967295\\)`));
  }
  const r = cli(['load', fixture('freplace_fw_drop.o'), '--replace', '4294967295']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--replace 4294967295: .*ENOENT/);
});

test('--set __proto__=1 is a variable name like any other: refused as unknown, not ignored', () => {
  const r = cli(['load', fixture('loader_rich.o'), '--set', '__proto__=1']);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /__proto__/);
  assert.match(r.stderr, /no \.rodata variable of that name/);
  const ok = cli(['load', fixture('loader_rich.o'), '--set', 'factor=3']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('load without --pin of an object with maps pinned by name: the maps stay, and it says so', () => {
  const obj = open(fixture('load_pinned.o'));
  const paths = obj.maps.map((m) => pinPath(m)).filter((p): p is string => p !== undefined);
  assert.ok(paths.length >= 1);
  const existed = paths.filter((p) => existsSync(p));
  try {
    const r = cli(['load', fixture('load_pinned.o')]);
    assert.equal(r.code, 0, r.stderr);
    for (const p of paths) assert.match(r.stdout, new RegExp(`(pinned|reused) ${p}`));
    assert.doesNotMatch(r.stdout, /\(not pinned: released on exit\)/);
    assert.match(r.stdout, new RegExp(`\\(programs not pinned: released on exit; ${paths.length} map\\(s\\) stay pinned\\)`));
    for (const p of paths) assert.ok(existsSync(p), `${p} stays`);
  } finally {
    for (const p of paths) if (!existed.includes(p)) rmSync(p, { force: true });
  }
});

test('iproute2 maps with PIN_GLOBAL_NS pin as <root>/tc/globals/NAME, as tc does', () => {
  assert.equal(
    pinPath({ name: 'm', pinning: 'by_name', iproute2: { id: 0, pinning: 2, innerId: 0, innerIdx: 0 } }, '/x/'),
    '/x/tc/globals/m',
  );
  assert.equal(pinPath({ name: 'm', pinning: 'by_name' }, '/x'), '/x/m');
  const file = path.join(CILIUM, 'testdata', 'iproute2_map_compat-el.elf');
  const pins = bpffsDir('tcglobals');
  try {
    const r = loadObject(open(file), { kernel: localKernel, pinRoot: pins.dir });
    try {
      const m = r.maps.find((x) => x.name === 'hash_map')!;
      assert.equal(m.pinnedAt, `${pins.dir}/tc/globals/hash_map`);
      assert.ok(existsSync(`${pins.dir}/tc/globals/hash_map`));
      assert.ok(!existsSync(`${pins.dir}/hash_map`));
    } finally {
      r.close();
    }
  } finally {
    pins.done();
  }
});
