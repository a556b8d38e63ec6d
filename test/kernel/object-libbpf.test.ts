// Differential: what libbpf (through `bpftool prog loadall`) creates in this kernel for our
// fixtures, against what `bpf-lens inspect --json` says it will create.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { cli, fixture, ROOT, run } from '../helpers';
import { bpffsDir } from './kernel-env';
import { createMaxEntries, parseCpuList } from '../../server/src/object/map-adjust';

interface KernelMap {
  id: number;
  name: string;
  type: string;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  flags: number;
}
interface KernelProg {
  id: number;
  name: string;
  type: string;
  map_ids?: number[];
}
interface InspectMap {
  type_id: number;
  name: string;
  c_name: string;
  kind: string;
  type: string;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  flags: number;
  pinning: string;
}
interface Inspect {
  programs: { name: string; type: string }[];
  maps: InspectMap[];
  diagnostics: { severity: string }[];
}

const INTERNAL = new Set(['data', 'rodata', 'bss', 'kconfig']);
const BPF_F_MMAPABLE = 1 << 10;

/** True when bpftool's libbpf is older than major.minor. */
function libbpfBefore(major: number, minor: number): boolean {
  const m = /libbpf v(\d+)\.(\d+)/.exec(run('bpftool', ['version']));
  assert.ok(m, 'bpftool version names its libbpf');
  return Number(m[1]) < major || (Number(m[1]) === major && Number(m[2]) < minor);
}

function kernelMaps(): KernelMap[] {
  return JSON.parse(run('bpftool', ['-j', 'map', 'show'])) as KernelMap[];
}

test('maps libbpf creates match inspect --json (names, types, sizes, max_entries, flags); program types match', () => {
  const obj = fixture('object_maps.o');
  const r = cli(['inspect', obj, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const ours = JSON.parse(r.stdout) as Inspect;
  assert.deepEqual(
    ours.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  const pinned = ours.maps.filter((m) => m.pinning === 'by_name').map((m) => `/sys/fs/bpf/${m.name}`);
  const env = {
    nrCpus: parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'latin1')),
    pageSize: Number(run('getconf', ['PAGESIZE']).trim()),
  };
  const adjusted = ours.maps.filter((m) => createMaxEntries({ typeId: m.type_id, maxEntries: m.max_entries }, env) !== m.max_entries);
  assert.deepEqual(adjusted.map((m) => m.c_name).sort(), ['odd_ring', 'perf_per_cpu'], 'the fixture has maps libbpf resizes');
  const { dir, done } = bpffsDir('object');
  const before = new Set(kernelMaps().map((m) => m.id));
  try {
    for (const p of pinned) rmSync(p, { force: true });
    run('bpftool', ['prog', 'loadall', obj, dir]);
    const progs = ours.programs.map((p) => JSON.parse(run('bpftool', ['-j', 'prog', 'show', 'pinned', `${dir}/${p.name}`])) as KernelProg);
    // program types, as libbpf chose them from the section names
    for (const p of ours.programs) {
      const k = progs.find((x) => x.name === p.name.slice(0, 15));
      assert.ok(k, `program ${p.name} was loaded`);
      assert.equal(p.type, k.type, `program ${p.name}`);
    }
    const used = new Set(progs.flatMap((p) => p.map_ids ?? []));
    const created = kernelMaps().filter((m) => !before.has(m.id));
    // every map the programs use is one inspect announced, with the same shape
    assert.ok(used.size >= 10, `the programs use ${used.size} maps`);
    for (const id of used) {
      const k = created.find((m) => m.id === id);
      assert.ok(k, `map id ${id} was created by this load`);
      const m = ours.maps.find((x) => x.name === k.name);
      assert.ok(m, `kernel map '${k.name}' is in inspect's list (${ours.maps.map((x) => x.name).join(', ')})`);
      // libbpf before 1.2 made every internal data map mmapable; since then only those with a
      // non-static variable (a string-literal section has none). The model follows current libbpf.
      const flags = INTERNAL.has(m.kind) && libbpfBefore(1, 2) ? m.flags | BPF_F_MMAPABLE : m.flags;
      assert.deepEqual(
        {
          type: m.type,
          bytes_key: m.bytes_key,
          bytes_value: m.bytes_value,
          max_entries: createMaxEntries({ typeId: m.type_id, maxEntries: m.max_entries }, env),
          flags,
        },
        { type: k.type, bytes_key: k.bytes_key, bytes_value: k.bytes_value, max_entries: k.max_entries, flags: k.flags },
        `map ${k.name}`,
      );
    }
    // and every map inspect announced exists (initial-slot targets are created though no program uses them)
    for (const m of ours.maps) {
      assert.ok(
        created.some((k) => k.name === m.name),
        `inspect's map '${m.name}' (${m.c_name}) was created`,
      );
    }
  } finally {
    for (const p of pinned) rmSync(p, { force: true });
    done();
  }
});

// One bad map per object: libbpf refuses each, blaming the same map that inspect names.
// [define, map, field, what libbpf's message names if not the map]
const BAD: [string, string, string, string?][] = [
  ['BAD_UNKNOWN_FIELD', 'bad_unknown_field', 'frobnicate'],
  ['BAD_KEY_SIZE', 'bad_key_size', 'key'],
  ['BAD_PINNING', 'bad_pinning', 'pinning'],
  ['BAD_VALUES_TYPE', 'bad_values_type', 'values'],
  ['BAD_STATIC', 'bad_static', ''],
  ['BAD_INNER_PIN', 'bad_inner_pin', 'pinning'],
  ['BAD_PROG_ARRAY_VALUE_SIZE', 'bad_prog_array_value_size', 'values'],
  ['BAD_SLOT_SUBPROG', 'bad_slot_subprog', 'values', 'not_a_program'],
];

test('bad map definitions: libbpf refuses each one; inspect names the same map (and the field)', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'bpflens-badmaps-'));
  const src = path.join(ROOT, 'test', 'fixtures', 'object_bad_maps.bpf.c');
  const build = (defs: string[]): string => {
    const out = path.join(tmp, `${defs.join('_') || 'none'}.o`);
    run('clang', [
      '-target',
      'bpf',
      '-g',
      '-O2',
      `-I/usr/include/${run('gcc', ['-print-multiarch']).trim()}`,
      ...defs.map((d) => `-D${d}`),
      '-c',
      src,
      '-o',
      out,
    ]);
    return out;
  };
  const { dir, done } = bpffsDir('badmaps');
  try {
    // with no bad map, libbpf loads it and inspect has nothing to say
    const ok = build(['ONE']);
    run('bpftool', ['prog', 'loadall', ok, `${dir}/ok`]);
    const okJson = JSON.parse(cli(['inspect', ok, '--json']).stdout);
    assert.deepEqual(okJson.diagnostics, []);
    for (const [def, mapName, field, blamed = mapName] of BAD) {
      const obj = build(['ONE', def]);
      const lib = spawnSync('bpftool', ['prog', 'loadall', obj, `${dir}/${def}`], { encoding: 'utf8' });
      assert.notEqual(lib.status, 0, `${def}: libbpf refused it`);
      assert.match(lib.stderr, new RegExp(`'${blamed}`), `${def}: libbpf blames ${blamed}: ${lib.stderr}`);
      const r = cli(['inspect', obj, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const errs = (JSON.parse(r.stdout).diagnostics as { severity: string; map: string; field: string | null; message: string }[]).filter(
        (d) => d.severity === 'error',
      );
      assert.equal(errs.length, 1, `${def}: ${JSON.stringify(errs)}`);
      assert.ok(errs[0].message.includes(`'${blamed}'`), errs[0].message);
      assert.deepEqual([errs[0].map, errs[0].field ?? ''], [mapName, field], def);
    }
  } finally {
    done();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('every bad map of the fixture is reported at once', () => {
  const r = cli(['inspect', fixture('object_bad_maps.o'), '--json']);
  const errs = (JSON.parse(r.stdout).diagnostics as { severity: string; map: string }[]).filter((d) => d.severity === 'error');
  assert.deepEqual(errs.map((e) => e.map).sort(), BAD.map((b) => b[1]).sort());
});

// libbpf's debug log of the open phase (printed even when the load fails later, e.g. for
// trampolines this kernel refuses): where it found each program, how it laid out .kconfig.
test("libbpf's open phase agrees: program offsets and sizes, kconfig extern offsets, internal map names", () => {
  for (const name of ['object_maps.o', 'object_progs.o', 'object_externs.o', 'object_maps.v3.o']) {
    const obj = fixture(name);
    const { dir, done } = bpffsDir('open');
    let log: string;
    try {
      log = spawnSync('bpftool', ['-d', 'prog', 'loadall', obj, `${dir}/x`], { encoding: 'utf8' }).stderr;
    } finally {
      done();
      for (const m of ['objt_pinned']) rmSync(`/sys/fs/bpf/${m}`, { force: true });
    }
    const ours = JSON.parse(cli(['inspect', obj, '--json']).stdout);
    const found = [
      ...log.matchAll(/sec '([^']+)': found program '([^']+)' at insn offset (\d+) \(\d+ bytes\), code size (\d+) insns/g),
    ].map((m) => [m[2], m[1], Number(m[3]), Number(m[4])]);
    assert.ok(found.length > 0, `${name}: libbpf found programs`);
    const funcs = (ours.functions as { name: string; section: string; insn_offset: number; insns: number }[]).map((f) => [
      f.name,
      f.section,
      f.insn_offset,
      f.insns,
    ]);
    assert.deepEqual(funcs.sort(), found.sort(), name);
    const kcfg = [...log.matchAll(/extern \(kcfg\) #\d+: symbol \d+, off (\d+), name (\S+)/g)].map((m) => [m[2], Number(m[1])]);
    const ourKcfg = (ours.externs as { name: string; kind: string; offset?: number }[])
      .filter((e) => e.kind === 'kconfig')
      .map((e) => [e.name, e.offset]);
    assert.deepEqual(ourKcfg.sort(), kcfg.sort(), name);
    const dataMaps = [...log.matchAll(/map '([^']+)' \(global data\): at sec_idx \d+, offset \d+, flags ([0-9a-f]+)/g)].map((m) => m[1]);
    const ourData = (ours.maps as { name: string; kind: string }[]).filter((m) => INTERNAL.has(m.kind)).map((m) => m.name);
    assert.deepEqual(ourData.sort(), dataMaps.sort(), name);
  }
});

test('relocations: every map, data and extern reference libbpf records is the one the model has (same map index)', () => {
  for (const name of ['object_maps.o', 'object_maps.v3.o', 'object_externs.o', 'object_bad_maps.o']) {
    const obj = fixture(name);
    const { dir, done } = bpffsDir('relo');
    let log: string;
    try {
      log = spawnSync('bpftool', ['-d', 'prog', 'loadall', obj, `${dir}/x`], { encoding: 'utf8' }).stderr;
    } finally {
      done();
      rmSync('/sys/fs/bpf/objt_pinned', { force: true });
    }
    if (name === 'object_bad_maps.o') {
      // libbpf stops at the first bad map, before relocations: nothing to compare, but we still classify
      assert.doesNotMatch(log, /found map/);
      continue;
    }
    const theirs: string[] = [];
    for (const m of log.matchAll(/prog '([^']+)': found (?:data )?map (\d+) \([^,]+, sec \d+, off \d+\) for insn #?(\d+)/g))
      theirs.push(`${m[1]} ${m[3]} map#${m[2]}`);
    for (const m of log.matchAll(/prog '([^']+)': found extern #\d+ '([^']+)' \(sym \d+\) for insn #?(\d+)/g))
      theirs.push(`${m[1]} ${m[3]} ${m[2]}`);
    const j = JSON.parse(cli(['inspect', obj, '--json']).stdout);
    const ours: string[] = [];
    for (const f of j.functions as { name: string; relocations: { insn: number; kind: string; name: string; map_index?: number }[] }[]) {
      for (const r of f.relocations) {
        if (r.kind === 'map' || r.kind === 'data') ours.push(`${f.name} ${r.insn} map#${r.map_index}`);
        else if (r.kind.startsWith('extern')) ours.push(`${f.name} ${r.insn} ${r.name}`);
      }
    }
    const theirsProgs = theirs;
    assert.ok(theirsProgs.length > 0, `${name}: libbpf printed relocations`);
    assert.deepEqual(ours.sort(), theirsProgs.sort(), name);
  }
});
