// The object model on cilium/ebpf's compiled test objects (Debian's golang-github-cilium-ebpf-dev):
// both byte orders, objects from clang 7/9/14, initial slots, iproute2 maps, invalid maps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { type BpfObject, openObject } from '../../server/src/object';
import { inspectJson } from '../../server/src/cli/inspect';
import { CILIUM, cli } from '../helpers';

const TESTDATA = path.join(CILIUM, 'testdata');

function open(name: string): BpfObject {
  const file = path.join(TESTDATA, name);
  return openObject(new Uint8Array(readFileSync(file)), file);
}

const ORDERS = ['el', 'eb'];

for (const o of ORDERS) {
  test(`btf_map_init-${o}: prog-array and map-in-map initial slots from .rel.maps`, () => {
    const obj = open(`btf_map_init-${o}.elf`);
    const pa = obj.maps.find((m) => m.name === 'prog_array_init')!;
    assert.deepEqual([pa.type, pa.keySize, pa.valueSize, pa.maxEntries], ['prog_array', 4, 4, 2]);
    assert.deepEqual(pa.initialSlots, [{ index: 1, target: 'tail_1' }]);
    const outer = obj.maps.find((m) => m.name === 'outer_map_init')!;
    assert.equal(outer.type, 'array_of_maps');
    assert.deepEqual(outer.initialSlots, [{ index: 1, target: 'inner_map' }]);
    assert.deepEqual(
      [outer.innerMap?.type, outer.innerMap?.keySize, outer.innerMap?.valueSize, outer.innerMap?.maxEntries],
      ['array', 4, 4, 1],
    );
    assert.deepEqual(
      obj.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
  });

  test(`iproute2_map_compat-${o}: iproute2's struct bpf_elf_map`, () => {
    const obj = open(`iproute2_map_compat-${o}.elf`);
    assert.equal(obj.maps.length, 1);
    const m = obj.maps[0];
    assert.deepEqual(
      [m.name, m.kind, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags, m.pinning],
      ['hash_map', 'legacy', 'hash', 4, 8, 2, 0, 'by_name'],
    );
    assert.deepEqual(m.iproute2, { id: 0, pinning: 2, innerId: 0, innerIdx: 0 });
    assert.deepEqual(
      obj.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
  });

  test(`invalid_*-${o}: each invalid map is an error that names the map (and the field)`, () => {
    const cases: [string, string, string | undefined, RegExp][] = [
      ['invalid_map', 'invalid_map', undefined, /not zero/],
      ['invalid_map_static', 'hash_map', undefined, /static/],
      ['invalid_btf_map_init', 'hash_map', 'key', /non-zero data in field 'key'/],
    ];
    for (const [file, mapName, field, re] of cases) {
      const obj = open(`${file}-${o}.elf`);
      const errs = obj.diagnostics.filter((d) => d.severity === 'error');
      assert.equal(errs.length, 1, `${file}: ${JSON.stringify(errs)}`);
      assert.equal(errs[0].map, mapName);
      assert.equal(errs[0].field, field);
      assert.match(errs[0].message, re);
      assert.match(errs[0].message, new RegExp(`map '${mapName}'`));
      // the CLI shows it and still exits 0: the object was read
      const r = cli(['inspect', path.join(TESTDATA, `${file}-${o}.elf`)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`error: map '${mapName}'`));
    }
  });
}

test('loader-*.elf, every compiler and byte order: programs, maps and data sections', () => {
  const files = readdirSync(TESTDATA).filter((f) => /^loader-.*\.elf$/.test(f));
  assert.ok(files.length >= 8, files.join(' '));
  for (const f of files) {
    const obj = open(f);
    assert.equal(obj.littleEndian, f.endsWith('-el.elf'), f);
    const xdp = obj.programs.find((p) => p.name === 'xdp_prog');
    assert.ok(xdp, `${f}: xdp_prog`);
    assert.deepEqual([xdp.progType, xdp.expectedAttachType], ['xdp', 'xdp'], f);
    assert.deepEqual(xdp.subprograms, ['global_fn', 'global_fn2', 'global_fn3', 'static_fn'], f);
    assert.equal(obj.programs.find((p) => p.name === 'no_relocation')?.progType, 'socket_filter', f);
    const hm = obj.maps.find((m) => m.name === 'hash_map');
    assert.deepEqual([hm?.type, hm?.keySize, hm?.valueSize, hm?.maxEntries, hm?.flags], ['hash', 4, 8, 1, 1], f);
    assert.ok(
      obj.maps.some((m) => m.name === 'perf_event_array' && m.type === 'perf_event_array'),
      f,
    );
    // clang 7 objects have no BTF: only the legacy maps and .rodata.cst32 exist there
    if (obj.btf) {
      assert.ok(
        obj.maps.some((m) => m.name === 'btf_pin' && m.pinning === 'by_name'),
        f,
      );
      const ro = obj.maps.find((m) => m.name === '.rodata');
      assert.equal(ro?.kernelName, `${f.slice(0, 8).replace(/-/g, '_')}.rodata`.slice(-15), f);
    }
  }
});

test('loader objects: big- and little-endian builds of one compiler give the same model', () => {
  for (const v of ['loader', 'loader-clang-9', 'loader-clang-14', 'btf_map_init', 'subprog_reloc', 'freplace', 'raw_tracepoint']) {
    const a = inspectJson(open(`${v}-el.elf`));
    const b = inspectJson(open(`${v}-eb.elf`));
    for (const j of [a, b]) {
      delete j.file;
      delete j.byte_order;
      delete j.name;
      // kernel names of internal maps carry the object name, which names the byte order
      j.maps = (j.maps as { [k: string]: unknown }[]).map((m) => ({ ...m, name: null }));
    }
    assert.deepEqual(b, a, v);
  }
});
