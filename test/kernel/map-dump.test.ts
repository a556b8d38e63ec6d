// `bpf-lens map dump` against Debian's bpftool on this kernel: the observe_maps fixture loaded
// and pinned by bpftool, its maps filled by `bpf-lens map update` (C-like and JSON text), and
// every map — hash, array, per-CPU hash/array, LRU, LPM trie, queue, stack, ring buffer, prog
// array, array/hash of maps, task storage, .bss/.rodata, and maps without BTF (a hash, a per-CPU
// array, a 600-element hash read in several batches) — dumped by both: the same stdout byte for
// byte, the same exit status, and for -j the same parsed JSON. Once more through the agent
// (`--target local`: sudo -n and the agent over stdio). Update and delete errors name the field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { localKernel } from '../../server/src/kernel';
import { dumpMap } from '../../server/src/observe/maps';
import { cli, fixture, run } from '../helpers';
import { bpffsDir } from './kernel-env';

interface Pins {
  readonly maps: string;
  readonly progs: string;
  readonly extra: string;
}

function bpftool(args: string[]): { code: number; stdout: string } {
  const r = spawnSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status ?? -1, stdout: r.stdout };
}

function ours(args: string[]): { code: number; stdout: string; stderr: string } {
  return cli(args);
}

function update(pinned: string, key: string | undefined, value: string): void {
  // --value=… as a user writes a value that starts with '-'
  const r = ours(['map', 'update', '--pinned', pinned, ...(key !== undefined ? [`--key=${key}`] : []), `--value=${value}`]);
  assert.equal(r.code, 0, `update ${pinned} ${key} = ${value}: ${r.stderr}`);
}

/** The fixture pinned by bpftool and filled: returns the pin directories. */
function setup(t: { after(fn: () => void): void }): Pins {
  const d = bpffsDir('mapdump');
  t.after(() => d.done());
  const pins = { maps: `${d.dir}/m`, progs: `${d.dir}/p`, extra: d.dir };
  run('bpftool', ['prog', 'loadall', fixture('observe_maps.o'), pins.progs, 'pinmaps', pins.maps]);
  const m = (n: string) => `${pins.maps}/${n}`;
  update(
    m('m_hash'),
    '1',
    '{ .big = 9223372036854788153, .neg = -42, .color = BLUE, .wide = HUGE, .flag = 1, .mode = 5, .level = 0xabc, .sfield = -7, ' +
      '.name = "hi \\"there\\"", .raw = { 1, 2, 127, 128 }, .pt = { .x = -2, .y = 200 }, .u = { .as_u32 = 0x01020304 }, ' +
      ".anon_a = 7, .anon_b = 65535, .cv = -2, .ok = true, .ptr = 0xffff888812345678, .c = 'A' }",
  );
  update(m('m_hash'), '2', '{}');
  // JSON as bpftool's formatted value writes it; a name bpftool prints as numbers (no NUL)
  update(m('m_hash'), '3', '{"big":18446744073709551615,"color":7,"wide":1,"name":[65,66,67,68,69,70,71,72,73,74,75,76],"c":-128}');
  update(m('m_hash'), '4', '{ .name = "back\\\\slash", .ptr = NULL, .color = RED, .wide = SMALL }');
  update(m('m_array'), '1', '-9223372036854775808');
  update(m('m_array'), '2', '9007199254740993');
  update(m('m_pcpu_hash'), '18446744073709551615', '4000000000');
  update(m('m_pcpu_array'), '1', '{ .x = -32768, .y = 255 }');
  update(m('m_lru'), '{ .x = 1, .y = 2 }', 'GREEN');
  update(m('m_lru'), '{ .x = -1 }', '-3');
  update(m('m_lpm'), '{ .prefixlen = 24, .addr = { 10, 1, 2, 0 } }', '5');
  update(m('m_lpm'), '{ .prefixlen = 8, .addr = { 10 } }', '6');
  for (const v of ['1', '2', '3']) update(m('m_queue'), undefined, v);
  update(m('m_stack'), undefined, '18446744073709551615');
  const progB = JSON.parse(run('bpftool', ['-j', 'prog', 'show', 'pinned', `${pins.progs}/prog_b`])) as { id: number };
  update(m('m_progs'), '2', `id ${progB.id}`);
  update(m('observe__bss'), '0 0 0 0', '{ .bss_counter = 123456789012 }');
  // maps without BTF, made by bpftool
  run('bpftool', [
    'map',
    'create',
    `${pins.extra}/nobtf_hash`,
    'type',
    'hash',
    'key',
    '4',
    'value',
    '20',
    'entries',
    '8',
    'name',
    'nobtf_hash',
  ]);
  update(`${pins.extra}/nobtf_hash`, '1 2 3 4', 'hex ' + Array.from({ length: 20 }, (_, i) => (i * 13).toString(16)).join(' '));
  update(`${pins.extra}/nobtf_hash`, '["0x05","0x00","0x00","0x00"]', Array(20).fill('0').join(' '));
  run('bpftool', [
    'map',
    'create',
    `${pins.extra}/nobtf_pcpu`,
    'type',
    'percpu_array',
    'key',
    '4',
    'value',
    '6',
    'entries',
    '2',
    'name',
    'nobtf_pcpu',
  ]);
  update(`${pins.extra}/nobtf_pcpu`, '1 0 0 0', '1 2 3 4 5 6');
  run('bpftool', [
    'map',
    'create',
    `${pins.extra}/nobtf_queue`,
    'type',
    'queue',
    'key',
    '0',
    'value',
    '4',
    'entries',
    '4',
    'name',
    'nobtf_queue',
  ]);
  run('bpftool', [
    'map',
    'create',
    `${pins.extra}/big_hash`,
    'type',
    'hash',
    'key',
    '4',
    'value',
    '8',
    'entries',
    '1024',
    'name',
    'big_hash',
  ]);
  const fd = localKernel.objGet(`${pins.extra}/big_hash`);
  try {
    for (let i = 0; i < 600; i++) {
      const k = Buffer.alloc(4);
      k.writeUInt32LE(i * 7919);
      const v = Buffer.alloc(8);
      v.writeBigUInt64LE(BigInt(i) << 40n);
      localKernel.mapUpdateElem(fd, k, v);
    }
  } finally {
    localKernel.closeFd(fd);
  }
  return pins;
}

const FIXTURE_MAPS = [
  'm_hash',
  'm_array',
  'm_pcpu_hash',
  'm_pcpu_array',
  'm_lru',
  'm_lpm',
  'm_queue',
  'm_stack',
  'm_ringbuf',
  'm_progs',
  'm_aom',
  'm_hom',
  'm_inner',
  'm_task',
  'observe__bss',
  'observe__rodata',
];
const EXTRA_MAPS = ['nobtf_hash', 'nobtf_pcpu', 'nobtf_queue', 'big_hash'];

function compare(pinned: string, json: boolean, target: string[] = []): void {
  const b = bpftool([...(json ? ['-j'] : []), 'map', 'dump', 'pinned', pinned]);
  const o = ours(['map', 'dump', '--pinned', pinned, ...(json ? ['--json'] : []), ...target]);
  assert.equal(o.stdout, b.stdout, `${pinned}${json ? ' -j' : ''}${target.join(' ')}: stdout differs (stderr: ${o.stderr})`);
  assert.equal(o.code, b.code, `${pinned}${json ? ' -j' : ''}: exit status (stderr: ${o.stderr})`);
  if (json) assert.deepEqual(JSON.parse(o.stdout), JSON.parse(b.stdout));
}

test('map dump prints what bpftool map dump prints, for every map type, with and without BTF', (t) => {
  const pins = setup(t);
  for (const name of FIXTURE_MAPS) {
    compare(`${pins.maps}/${name}`, true);
    compare(`${pins.maps}/${name}`, false);
  }
  for (const name of EXTRA_MAPS) {
    compare(`${pins.extra}/${name}`, true);
    compare(`${pins.extra}/${name}`, false);
  }
  // the values written above are what the dump shows, decoded
  const hash = JSON.parse(ours(['map', 'dump', '--pinned', `${pins.maps}/m_hash`, '--json']).stdout) as { formatted: { key: number } }[];
  const one = hash.find((e) => e.formatted.key === 1)!.formatted as unknown as { value: Record<string, unknown> };
  assert.equal(one.value.color, 'BLUE');
  assert.equal(one.value.wide, 'HUGE');
  assert.equal(one.value.level, '0xabc');
  assert.equal(one.value.name, 'hi "there"');
  assert.ok(hash.length === 4);
  const big = JSON.parse(ours(['map', 'dump', '--pinned', `${pins.extra}/big_hash`, '--json']).stdout) as unknown[];
  assert.equal(big.length, 600);
  // by id as well as by path
  const id = (JSON.parse(run('bpftool', ['-j', 'map', 'show', 'pinned', `${pins.maps}/m_hash`])) as { id: number }).id;
  assert.equal(ours(['map', 'dump', '--id', String(id), '--json']).stdout, bpftool(['-j', 'map', 'dump', 'id', String(id)]).stdout);
});

test("a dump without text (the editor's views) counts and previews the same elements as with it", (t) => {
  const pins = setup(t);
  for (const pinned of [...FIXTURE_MAPS.map((n) => `${pins.maps}/${n}`), ...EXTRA_MAPS.map((n) => `${pins.extra}/${n}`)]) {
    for (const keyFilter of [undefined, '1']) {
      const p = { pinned, preview: 5, ...(keyFilter ? { keyFilter } : {}) };
      const whole = dumpMap(localKernel, p);
      const bare = dumpMap(localKernel, { ...p, noText: true });
      assert.equal(bare.text, '', pinned);
      assert.ok(whole.text.length > 0 || whole.error, pinned);
      assert.deepEqual({ ...bare, text: whole.text }, whole, pinned);
    }
  }
});

test('map update and delete: errors name the field; deleted keys are gone', (t) => {
  const pins = setup(t);
  const m = `${pins.maps}/m_hash`;
  const bad: [string, RegExp][] = [
    ['{ .pt = { .x = 40000 } }', /field 'value\.pt\.x': 40000 does not fit in 16 signed bits/],
    ['{ .color = PURPLE }', /field 'value\.color': expected one of RED, GREEN, BLUE/],
    ['{ .nope = 1 }', /field 'value\.nope': no such member/],
    ['{ .name = 12 ', /column \d+/],
  ];
  for (const [value, msg] of bad) {
    const r = ours(['map', 'update', '--pinned', m, '--key', '9', '--value', value]);
    assert.equal(r.code, 1, value);
    assert.match(r.stderr, msg);
  }
  const r = ours(['map', 'update', '--pinned', `${pins.extra}/nobtf_hash`, '--key', '1 2 3', '--value', '0']);
  assert.match(r.stderr, /field 'key': expected 4 bytes, got 3/);
  assert.equal(ours(['map', 'delete', '--pinned', m, '--key', '2']).code, 0);
  assert.notEqual(bpftool(['map', 'lookup', 'pinned', m, 'key', '2', '0', '0', '0']).code, 0);
  const again = ours(['map', 'delete', '--pinned', m, '--key', '2']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no such key/);
  const arr = ours(['map', 'delete', '--pinned', `${pins.maps}/m_array`, '--key', '0']);
  assert.equal(arr.code, 1);
  assert.match(arr.stderr, /EINVAL/);
  assert.equal(ours(['map', 'dump', '--id', '4294967295']).code, 1);
  assert.equal(ours(['map', 'dump']).code, 2);
});

test('map dump and update through the agent (--target local: sudo -n, the agent over stdio)', (t) => {
  const pins = setup(t);
  update(`${pins.maps}/m_hash`, '5', '{ .neg = -5 }');
  const r = ours([
    'map',
    'update',
    '--pinned',
    `${pins.maps}/m_hash`,
    '--target',
    'local',
    '--key',
    '6',
    '--value',
    '{ .big = 18446744073709551614 }',
  ]);
  assert.equal(r.code, 0, r.stderr);
  for (const name of ['m_hash', 'm_pcpu_hash', 'm_queue', 'm_aom']) {
    compare(`${pins.maps}/${name}`, true, ['--target', 'local']);
    compare(`${pins.maps}/${name}`, false, ['--target', 'local']);
  }
  const bad = ours([
    'map',
    'update',
    '--pinned',
    `${pins.maps}/m_hash`,
    '--target',
    'local',
    '--key',
    '6',
    '--value',
    '{ .pt = { .y = 256 } }',
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /field 'value\.pt\.y': 256 does not fit in 8 bits/);
});
