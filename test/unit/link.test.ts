// The static linker on objects compiled here: what links and how (globals, weak/strong,
// extern maps, kernel externs), compared with libbpf's linker (bpftool gen object) byte for
// byte where the two must agree; the errors it must give; its BTF dedup on hand-made
// types; and hostile input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseBtf } from '../../server/src/btf/btf';
import { type NewType } from '../../server/src/btf/types';
import { FormatError } from '../../server/src/common/errors';
import { ElfFile } from '../../server/src/elf/reader';
import { dedupBtf } from '../../server/src/link/btf-dedup';
import { LinkError, linkObjects } from '../../server/src/link/linker';
import { openObject } from '../../server/src/object';
import { CILIUM, FIXTURES, cli, fixture, run } from '../helpers';
import {
  LINK_INPUTS,
  btfOf,
  canonicalTypes,
  globalFacts,
  kindCounts,
  libbpfLink,
  libbpfSoLink,
  linkFixtures,
  linkTmp,
  relocFacts,
  sectionFacts,
  symbolFacts,
} from '../link-helpers';

test('three objects link: globals resolve (strong beats __weak, extern map, extern var), kernel extern stays, BPF Lens reads the result', () => {
  const r = linkFixtures(LINK_INPUTS);
  const g = new Map(r.globals.map((x) => [x.name, x]));
  assert.deepEqual(g.get('policy'), { name: 'policy', definedIn: 'link_b.o', section: '.text', usedBy: [], weakLosers: ['link_a.o'] });
  assert.deepEqual(g.get('counts')?.definedIn, 'link_a.o');
  assert.deepEqual(g.get('counts')?.usedBy, ['link_b.o']);
  assert.deepEqual(g.get('shared_counter')?.usedBy, ['link_a.o', 'link_c.o']);
  assert.equal(g.get('LINUX_KERNEL_VERSION')?.kernel, 'kconfig');
  const obj = openObject(r.bytes, 'linked.o');
  assert.deepEqual(
    obj.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  assert.deepEqual(
    obj.programs.map((p) => [p.name, p.section]),
    [
      ['xdp_a', 'xdp'],
      ['xdp_b', 'xdp'],
      ['tc_c', 'tc'],
    ],
  );
  assert.deepEqual(
    obj.maps.map((m) => m.name),
    ['counts', '.data', '.rodata', '.bss', '.kconfig'],
  );
  assert.deepEqual(
    obj.externs.map((e) => [e.name, e.kind]),
    [['LINUX_KERNEL_VERSION', 'kconfig']],
  );
  // xdp_a's call to policy lands on B's strong copy
  const a = obj.programs.find((p) => p.name === 'xdp_a')!;
  assert.deepEqual(a.subprograms.slice().sort(), ['helper', 'lib_add', 'policy']);
  const policy = obj.functions.find((f) => f.name === 'policy')!;
  assert.equal(policy.source?.file.endsWith('link_b.bpf.c'), true);
  // one DATASEC entry per variable, at its final offset, sorted, inside the section
  const btf = obj.btf!;
  for (const t of btf.types) {
    if (t.kind !== 'DATASEC') continue;
    let end = 0;
    for (const v of t.vars) {
      assert.ok(v.offset >= end, `${t.name}: ${btf.nameOf(v.type)} overlaps`);
      end = v.offset + v.size;
    }
    if (t.name !== '.kconfig') assert.ok(end <= t.size, `${t.name} vars end at ${end}, size ${t.size}`);
  }
  const data = btf.find('DATASEC', '.data');
  assert.ok(data?.kind === 'DATASEC');
  assert.deepEqual(
    data.vars.map((v) => [btf.nameOf(v.type), v.offset]),
    [
      ['a_hits', 0],
      ['shared_counter', 4],
    ],
  );
});

for (const inputs of [LINK_INPUTS, [...LINK_INPUTS, 'core_tracer.o', 'core_flavors.o', 'btf_kinds.o']])
  test(`differential (${inputs.length} objects): same section bytes, symbols, relocations, programs and maps as libbpf's linker; BTF no larger, same C`, () => {
    const ours = linkFixtures(inputs);
    const oursPath = path.join(linkTmp(), `ours${inputs.length}.o`);
    writeFileSync(oursPath, ours.bytes);
    const theirsPath = libbpfLink(inputs, path.join(linkTmp(), `libbpf${inputs.length}.o`));
    const a = new ElfFile(ours.bytes, 'ours');
    const b = new ElfFile(new Uint8Array(readFileSync(theirsPath)), 'libbpf');
    assert.deepEqual(sectionFacts(a), sectionFacts(b));
    assert.deepEqual(globalFacts(a), globalFacts(b));
    const locals = (e: ElfFile) =>
      symbolFacts(e)
        .filter((s) => s.bind === 0 && s.type !== 3)
        .map((s) => `${s.name} ${s.section} ${s.value}`)
        .sort();
    assert.deepEqual(locals(a), locals(b));
    assert.deepEqual(relocFacts(a), relocFacts(b));
    const oa = openObject(ours.bytes, 'ours.o');
    const ob = openObject(new Uint8Array(readFileSync(theirsPath)), 'libbpf.o');
    const progs = (o: typeof oa) =>
      o.programs.map((p) => ({
        name: p.name,
        section: p.section,
        insns: Buffer.from(p.insns).toString('hex'),
        subs: p.subprograms,
        lines: p.lines.length,
      }));
    assert.deepEqual(progs(oa), progs(ob));
    const maps = (o: typeof oa) =>
      o.maps.map((m) => ({ name: m.name, type: m.type, key: m.keySize, value: m.valueSize, max: m.maxEntries, flags: m.flags }));
    assert.deepEqual(maps(oa), maps(ob));
    assert.ok(oa.btf!.count <= ob.btf!.count, `ours ${oa.btf!.count} types, libbpf ${ob.btf!.count}`);
    // .BTF.ext: the same records at the same places, naming the same types
    const ext = (o: typeof oa) => {
      const name = (id: number) => `${o.btf!.get(id)?.kind} ${o.btf!.nameOf(id)}`;
      return {
        func: o.ext!.funcInfo.map((s) => [s.section, s.records.map((r) => `${r.insnOff} ${name(r.typeId)}`)]),
        line: o.ext!.lineInfo.map((s) => [
          s.section,
          s.records.map((r) => `${r.insnOff} ${path.basename(r.file)}:${r.line}:${r.column} ${r.text}`),
        ]),
        core: o.ext!.coreRelos.map((s) => [s.section, s.records.map((r) => `${r.insnOff} ${r.kind} ${r.accessStr} ${name(r.typeId)}`)]),
      };
    };
    assert.deepEqual(ext(oa), ext(ob));
    assert.ok(oa.ext!.coreRelos.length > 0);
    assert.equal(
      run('bpftool', ['btf', 'dump', 'file', oursPath, 'format', 'c']),
      run('bpftool', ['btf', 'dump', 'file', theirsPath, 'format', 'c']),
    );
    assert.equal(ours.btf!.typesOut, oa.btf!.count);
    assert.ok(ours.btf!.typesIn > ours.btf!.typesOut, 'dedup collapsed the types every object repeats');
  });

/** Every fixture that links together with the ones before it, by our linker and by bpftool's (as bench:link picks them). */
function linkableFixtures(): string[] {
  const picked: string[] = [];
  for (const f of readdirSync(FIXTURES)
    .filter((n) => /^[a-z_]+\.o$/.test(n) && !/err|bad/.test(n))
    .sort()) {
    try {
      linkFixtures([...picked, f]);
    } catch {
      continue; // clashes with one already picked
    }
    if (spawnSync('bpftool', ['gen', 'object', path.join(linkTmp(), 'probe.o'), ...[...picked, f].map(fixture)]).status === 0)
      picked.push(f);
  }
  return picked;
}

// core_target defines its own small task_struct, so that name has two full types; load_lsm
// sees task_struct and file only as forward declarations; argctx_shared sees
// bpf_perf_event_data only as one, load_perf_event defines it.
const AMBIGUOUS = ['core_tracer.o', 'core_target.o', 'load_lsm.o', 'argctx_shared.o', 'load_perf_event.o'];

test("BTF dedup gives the types libbpf's linker gives (same graph, any order), for every fixture set linked here; bpftool 7.1 keeps only the forwards with one full type", (t) => {
  const sets = [
    LINK_INPUTS,
    [...LINK_INPUTS, 'core_tracer.o', 'core_flavors.o', 'btf_kinds.o'],
    ['link_weak1.o', 'link_weak2.o'],
    ['link_a.o', 'link_b.o'],
    ['link_b.o', 'link_a.o'],
    AMBIGUOUS,
    linkableFixtures(),
  ];
  for (const inputs of sets) {
    const label = inputs.length > 8 ? `${inputs.length} fixtures` : inputs.join(' ');
    const oursPath = path.join(linkTmp(), 'dedup-ours.o');
    writeFileSync(oursPath, linkFixtures(inputs).bytes);
    const ours = btfOf(oursPath);
    const so = btfOf(libbpfSoLink(inputs, path.join(linkTmp(), 'dedup-so.o')));
    const tool = btfOf(libbpfLink(inputs, path.join(linkTmp(), 'dedup-bpftool.o')));
    t.diagnostic(`${label}: ours ${ours.count} types, libbpf ${so.count}, bpftool ${tool.count}`);
    assert.deepEqual(kindCounts(ours), kindCounts(so), label);
    // libbpf 1.1 leaves a __weak variable that lost at the weak copy's DATASEC offset (see
    // the __weak test below); the types are the same otherwise
    const opts = { datasecOffsets: !inputs.includes('link_weak1.o') };
    assert.deepEqual(canonicalTypes(ours, opts), canonicalTypes(so, opts), label);
    // bpftool's older libbpf: the same, except forwards it never met opposite their struct
    // stay forwards (with whatever references them), though their name has one full type
    const fwds = (b: typeof ours) => new Set(b.types.filter((x) => x.kind === 'FWD').map((x) => x.name));
    const fulls = (b: typeof ours, name: string) =>
      b.types.filter((x) => (x.kind === 'STRUCT' || x.kind === 'UNION') && x.name === name).length;
    const extra = [...fwds(tool)].filter((n) => !fwds(ours).has(n));
    assert.deepEqual(
      [...fwds(ours)].filter((n) => !fwds(tool).has(n)),
      [],
      label,
    );
    for (const n of extra) assert.equal(fulls(ours, n), 1, `${label}: bpftool keeps FWD ${n}`);
    if (extra.length === 0) assert.deepEqual(canonicalTypes(ours, opts), canonicalTypes(tool, opts), label);
    else assert.ok(tool.count > ours.count, label);
    if (inputs === AMBIGUOUS) {
      assert.deepEqual(extra.sort(), ['bpf_perf_event_data', 'inode', 'pt_regs', 'vm_area_struct'], 'the set shows the bpftool difference');
      // a forward whose name has two full types is resolved to the one it stood for
      assert.equal(fulls(ours, 'task_struct'), 2);
      assert.ok(!fwds(ours).has('task_struct') && !fwds(ours).has('file') && !fwds(ours).has('mm_struct'));
      assert.equal(ours.types.filter((x) => x.kind === 'STRUCT' && x.name === 'mm_struct').length, 1);
    }
  }
});

test('linking is associative: link(link(A, B), C) is byte for byte link(A, B, C); libbpf takes our output as input; readelf finds nothing to warn about', () => {
  const ab = linkFixtures(['link_a.o', 'link_b.o']);
  const abPath = path.join(linkTmp(), 'ab.o');
  writeFileSync(abPath, ab.bytes);
  const c = { file: 'link_c.o', bytes: new Uint8Array(readFileSync(fixture('link_c.o'))) };
  const again = linkObjects([{ file: abPath, bytes: ab.bytes }, c]);
  assert.deepEqual(Buffer.from(again.bytes), Buffer.from(linkFixtures(LINK_INPUTS).bytes));
  libbpfLink(['link_c.o'], path.join(linkTmp(), 'ab-c.o'), [abPath]);
  const r = spawnSync('readelf', ['-a', '-W', abPath], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
});

test('big-endian objects link to the same layout as little-endian ones, in their own byte order', () => {
  const le = linkFixtures(LINK_INPUTS);
  const be = linkFixtures(LINK_INPUTS.map((n) => n.replace('.o', '.eb.o')));
  const obe = openObject(be.bytes, 'be.o');
  const ole = openObject(le.bytes, 'le.o');
  assert.equal(obe.littleEndian, false);
  assert.deepEqual(
    obe.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  const shape = (o: typeof ole) => ({
    progs: o.programs.map((p) => [p.name, p.insnCount, p.subprograms, p.relocs.map((r) => `${r.insn} ${r.kind} ${r.name}`)]),
    maps: o.maps.map((m) => [m.name, m.valueSize]),
    externs: o.externs.map((e) => e.name),
    types: o.btf!.count,
  });
  assert.deepEqual(shape(obe), shape(ole));
  assert.deepEqual([...globalFacts(new ElfFile(be.bytes, 'be'))], [...globalFacts(new ElfFile(le.bytes, 'le'))]);
});

test('__weak variable and map lose to later strong ones: symbols and DATASEC entries agree (libbpf 1.1 keeps the weak offsets)', (t) => {
  const inputs = ['link_weak1.o', 'link_weak2.o'];
  const r = linkFixtures(inputs);
  const g = new Map(r.globals.map((x) => [x.name, x]));
  assert.deepEqual([g.get('cfg')?.definedIn, g.get('cfg')?.weakLosers], ['link_weak2.o', ['link_weak1.o']]);
  assert.deepEqual([g.get('wmap')?.definedIn, g.get('wmap')?.weakLosers], ['link_weak2.o', ['link_weak1.o']]);
  const datasecOffsets = (bytes: Uint8Array) => {
    const o = openObject(bytes, 'x.o');
    const out: Record<string, number> = {};
    for (const t of o.btf!.types) if (t.kind === 'DATASEC') for (const v of t.vars) out[o.btf!.nameOf(v.type)] = v.offset;
    return { out, syms: globalFacts(o.elf) };
  };
  const ours = datasecOffsets(r.bytes);
  for (const name of ['cfg', 'wmap', 'pad_before_cfg']) assert.equal(BigInt(ours.out[name]), ours.syms.get(name)!.value, name);
  assert.deepEqual([ours.syms.get('cfg')!.value, ours.syms.get('wmap')!.value], [16n, 32n]);
  const theirs = datasecOffsets(new Uint8Array(readFileSync(libbpfLink(inputs, path.join(linkTmp(), 'weak.o')))));
  assert.deepEqual(theirs.syms, ours.syms);
  t.diagnostic(`libbpf's DATASEC: cfg at ${theirs.out.cfg}, wmap at ${theirs.out.wmap} (symbols: 16, 32)`);
  // the hidden helper stays hidden; both statics named calls stay
  assert.equal(new ElfFile(r.bytes, 'x').symbols.find((y) => y.name === 'util')?.visibility, 2);
  assert.equal(new ElfFile(r.bytes, 'x').symbols.filter((y) => y.name === 'calls').length, 2);
});

test('cilium/ebpf test objects: each links alone as libbpf links it (little-endian); big-endian ones link to the same shape; failures agree', () => {
  const dir = path.join(CILIUM, 'testdata');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('-el.elf'))
    .sort();
  let compared = 0;
  for (const f of files) {
    const one = (name: string) => () => linkObjects([{ file: name, bytes: new Uint8Array(readFileSync(path.join(dir, name))) }]);
    let theirs: string | undefined;
    try {
      theirs = libbpfLink([], path.join(linkTmp(), 'cilium.o'), [path.join(dir, f)]);
    } catch {
      // libbpf refuses (externs without BTF): so must we, and say why
      assert.throws(one(f), (e: LinkError) => /unresolved variable '\w+'/.test(e.message), f);
      assert.throws(one(f.replace('-el', '-eb')), LinkError, f);
      continue;
    }
    const ours = one(f)();
    const a = new ElfFile(ours.bytes, 'ours');
    const b = new ElfFile(new Uint8Array(readFileSync(theirs)), 'libbpf');
    assert.deepEqual(sectionFacts(a), sectionFacts(b), f);
    assert.deepEqual(globalFacts(a), globalFacts(b), f);
    assert.deepEqual(relocFacts(a), relocFacts(b), f);
    const shape = (bytes: Uint8Array) => {
      const o = openObject(bytes, f);
      return {
        progs: o.programs.map((p) => [p.name, p.insnCount, p.relocs.length]),
        maps: o.maps.map((m) => [m.name, m.type, m.valueSize]),
        types: o.btf?.count,
      };
    };
    assert.deepEqual(shape(one(f.replace('-el', '-eb'))().bytes), shape(ours.bytes), f);
    compared++;
  }
  assert.ok(compared >= 8, `${compared} compared`);
});

test('errors name the objects: two strong definitions, an unresolved extern, a mismatched extern map (all in one run)', () => {
  const cases: [string, RegExp][] = [
    ['link_err_strong.o', /'lib_add' is defined \(strong, not __weak\) in more than one object: link_b\.o and link_err_strong\.o/],
    ['link_err_unresolved.o', /unresolved function 'missing_fn' \(used in link_err_unresolved\.o\): no object defines it/],
    ['link_err_map.o', /map 'counts' in link_err_map\.o does not match its definition in link_a\.o: max_entries 64 vs 128/],
  ];
  const out = path.join(linkTmp(), 'err.o');
  for (const [bad, want] of cases) {
    const r = cli(['link', fixture('link_a.o'), fixture('link_b.o'), fixture(bad), '-o', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr.replace(new RegExp(`${path.dirname(fixture('link_a.o'))}/`, 'g'), ''), want);
  }
  assert.throws(
    () => linkFixtures(['link_a.o', 'link_b.o', ...cases.map(([f]) => f)]),
    (e: LinkError) => {
      assert.equal(e.problems.length, 3, e.message);
      for (const [, want] of cases)
        assert.ok(
          e.problems.some((p) => want.test(p)),
          `${want} in ${e.message}`,
        );
      return true;
    },
  );
  // libbpf's linker also refuses the first and last (and leaves the extern unresolved)
  assert.throws(() => libbpfLink(['link_a.o', 'link_b.o', 'link_err_strong.o'], out), /conflicting non-weak symbol/);
  assert.throws(() => libbpfLink(['link_a.o', 'link_b.o', 'link_err_map.o'], out), /max_entries mismatch/);
  // without B, A's externs have nothing to bind to
  assert.throws(() => linkFixtures(['link_a.o', 'link_c.o']), /unresolved variable 'shared_counter' \(used in link_a\.o, link_c\.o\)/);
});

test('CLI: link writes the object and says where each extern went; usage errors', () => {
  const out = path.join(linkTmp(), 'cli.o');
  const r = cli(['link', ...LINK_INPUTS.map(fixture), '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /3 objects, 8 sections/);
  assert.match(r.stdout, /policy → \S*link_b\.o \(\.text\); overrides __weak in \S*link_a\.o/);
  assert.match(r.stdout, /LINUX_KERNEL_VERSION → the kernel \(kconfig\)/);
  assert.deepEqual(
    readFileSync(out),
    Buffer.from(linkObjects(LINK_INPUTS.map((n) => ({ file: fixture(n), bytes: new Uint8Array(readFileSync(fixture(n))) }))).bytes),
  );
  assert.equal(cli(['link', fixture('link_a.o')]).code, 2);
  assert.equal(cli(['link', '-o', out]).code, 2);
  const bad = cli(['link', fixture('link_a.o'), fixture('link_a.eb.o'), '-o', out]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /byte order \(big-endian\) differs from the first object's/);
});

const int: NewType = { kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitsOffset: 0, bits: 32 };
const list = (next: number, name = 'list'): NewType => ({
  kind: 'STRUCT',
  name,
  nameOff: 0,
  kindFlag: false,
  size: 16,
  members: [
    { name: 'next', nameOff: 0, type: next, bitsOffset: 0, bitfieldSize: 0 },
    { name: 'v', nameOff: 0, type: 1, bitsOffset: 64, bitfieldSize: 0 },
  ],
});
const ptr = (to: number): NewType => ({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: to });

test('dedup: cyclic structs collapse, forward declarations resolve, different shapes and VARs stay apart', () => {
  // 1 int; 2 list{next: 3}; 3 *2; 4 int; 5 list{next: 6}; 6 *5 — two copies of one cycle
  const d = dedupBtf([int, list(3), ptr(2), int, list(6), ptr(5)]);
  assert.equal(d.types.length, 3);
  assert.deepEqual([...d.map], [0, 1, 2, 3, 1, 2, 3]);
  // a cycle of length 2 equals the same cycle unrolled once (bisimilar)
  const two = dedupBtf([int, list(3), ptr(4), list(5), ptr(2), list(7), ptr(6)]);
  assert.equal(two.types.length, 3);
  // FWD 'list' resolves to the only struct list; pointers to either collapse
  const fwd: NewType = { kind: 'FWD', name: 'list', nameOff: 0, kindFlag: false };
  const f = dedupBtf([int, list(3), ptr(2), fwd, ptr(4)]);
  assert.equal(f.types.length, 3);
  assert.equal(f.map[4], f.map[2]);
  assert.equal(f.map[5], f.map[3]);
  assert.equal(f.rounds.length, 1);
  // two different 'list's: the FWD stays a FWD
  const other = { ...list(3), size: 24 } as NewType;
  const g = dedupBtf([int, list(3), ptr(2), other, fwd]);
  assert.equal(g.types.filter((t) => t.kind === 'FWD').length, 1);
  assert.equal(g.types.filter((t) => t.kind === 'STRUCT').length, 2);
  assert.equal(g.rounds.length, 2, 'the ambiguous name was retried without its forward');
  // mutually recursive structs where each object saw the other only as a forward
  const fwdNamed = (name: string): NewType => ({ kind: 'FWD', name, nameOff: 0, kindFlag: false });
  const pair = (name: string, member: string, to: number): NewType => ({
    kind: 'STRUCT',
    name,
    nameOff: 0,
    kindFlag: false,
    size: 8,
    members: [{ name: member, nameOff: 0, type: to, bitsOffset: 0, bitfieldSize: 0 }],
  });
  // object 1: a{*b (full)}, b{*a (fwd)}; object 2: a{*b (fwd)}, b{*a (full)}
  const m = dedupBtf([
    pair('a', 'b', 2),
    ptr(3),
    pair('b', 'a', 4),
    ptr(5),
    fwdNamed('a'),
    pair('a', 'b', 7),
    ptr(8),
    fwdNamed('b'),
    pair('b', 'a', 10),
    ptr(6),
  ]);
  assert.deepEqual(m.types.map((t) => t.kind).sort(), ['PTR', 'PTR', 'STRUCT', 'STRUCT']);
  // 'list' has two full types (sizes 16 and 24), so the name alone resolves nothing; but
  // holder{*list} with the FWD equals holder{*list} with the 16-byte one, so the FWD is that
  const holder = (to: number): NewType => ({
    kind: 'STRUCT',
    name: 'holder',
    nameOff: 0,
    kindFlag: false,
    size: 8,
    members: [{ name: 'l', nameOff: 0, type: to, bitsOffset: 0, bitfieldSize: 0 }],
  });
  // 1 int; 2 list; 3 *2; 4 holder{3}; 5 list (24); 6 FWD list; 7 *6; 8 holder{7}
  const h = dedupBtf([int, list(3), ptr(2), holder(3), other, fwd, ptr(6), holder(7)]);
  assert.deepEqual(
    h.types.map((x) => x.kind),
    ['INT', 'STRUCT', 'PTR', 'STRUCT', 'STRUCT'],
  );
  assert.deepEqual([h.map[6], h.map[7], h.map[8]], [h.map[2], h.map[3], h.map[4]]);
  // without that context it stays a forward, and so does one whose holder differs otherwise
  assert.equal(
    dedupBtf([int, list(3), ptr(2), holder(3), other, fwd, ptr(6), { ...holder(7), size: 16 } as NewType]).types.filter(
      (x) => x.kind === 'FWD',
    ).length,
    1,
  );
  // a different member name or offset keeps structs apart, and so does a pointee that differs deep down
  const struct = (members: [string, number, number][]): NewType => ({
    kind: 'STRUCT',
    name: 'list',
    nameOff: 0,
    kindFlag: false,
    size: 16,
    members: members.map(([name, type, bitsOffset]) => ({ name, nameOff: 0, type, bitsOffset, bitfieldSize: 0 })),
  });
  assert.equal(
    dedupBtf([
      int,
      list(3),
      ptr(2),
      int,
      struct([
        ['nxt', 6, 0],
        ['v', 1, 64],
      ]),
      ptr(5),
    ]).types.length,
    5,
  );
  assert.equal(
    dedupBtf([
      int,
      list(3),
      ptr(2),
      int,
      struct([
        ['next', 6, 0],
        ['v', 1, 32],
      ]),
      ptr(5),
    ]).types.length,
    5,
  );
  const char: NewType = { kind: 'INT', name: 'char', nameOff: 0, kindFlag: false, size: 1, encoding: 1, bitsOffset: 0, bits: 8 };
  assert.equal(
    dedupBtf([
      int,
      list(3),
      ptr(2),
      char,
      struct([
        ['next', 6, 0],
        ['v', 4, 64],
      ]),
      ptr(5),
    ]).types.length,
    6,
  );
  const v: NewType = { kind: 'VAR', name: 'x', nameOff: 0, kindFlag: false, type: 1, linkage: 1 };
  assert.equal(dedupBtf([int, v, v]).types.length, 3);
  assert.throws(() => dedupBtf([ptr(9)]), RangeError);
  // a ring of 200k pointers with one int: distinguishing needs ~100k rounds; the budget keeps it from hanging
  const ring: NewType[] = [int];
  const n = 200_000;
  for (let i = 0; i < n; i++) ring.push(ptr(i === n - 1 ? 2 : i + 3));
  ring[n] = { kind: 'CONST', name: '', nameOff: 0, kindFlag: false, type: 1 };
  const t0 = Date.now();
  const big = dedupBtf(ring);
  assert.ok(Date.now() - t0 < 20_000, `${Date.now() - t0} ms`);
  assert.equal(big.complete, false);
  assert.equal(big.types.length, ring.length);
});

test('dedup: own fields compare in full on wide types (members, enum values, parameters past the first words), names by text', () => {
  const wide = (n: number, odd?: number): NewType => ({
    kind: 'STRUCT',
    name: 'wide',
    nameOff: 0,
    kindFlag: false,
    size: 4 * n,
    members: Array.from({ length: n }, (_, k) => ({
      name: k === odd ? 'other' : `m${k}`,
      nameOff: 0,
      type: 1,
      bitsOffset: 32 * k,
      bitfieldSize: 0,
    })),
  });
  // 40 members: the own fields outgrow the builder's first scratch buffer
  assert.equal(dedupBtf([int, wide(40), wide(40)]).types.length, 2);
  assert.equal(dedupBtf([int, wide(40), wide(40, 37)]).types.length, 3);
  const e64 = (v: bigint): NewType => ({
    kind: 'ENUM64',
    name: 'e',
    nameOff: 0,
    kindFlag: false,
    size: 8,
    values: [{ name: 'A', nameOff: 0, value: v }],
  });
  assert.equal(dedupBtf([e64(1n << 40n), e64(1n << 40n)]).types.length, 1);
  assert.equal(dedupBtf([e64(1n << 40n), e64(1n << 41n)]).types.length, 2, 'the high word counts');
  const proto = (names: string[]): NewType => ({
    kind: 'FUNC_PROTO',
    name: '',
    nameOff: 0,
    kindFlag: false,
    type: 1,
    params: names.map((name) => ({ name, nameOff: 0, type: 1 })),
  });
  assert.equal(dedupBtf([int, proto(['a', 'b']), proto(['a', 'b'])]).types.length, 2);
  assert.equal(dedupBtf([int, proto(['a', 'b']), proto(['a', 'c'])]).types.length, 3);
  // a FWD and a struct of one name, a union forward of it stays apart
  const fwd = (union: boolean): NewType => ({ kind: 'FWD', name: 'wide', nameOff: 0, kindFlag: union });
  assert.equal(dedupBtf([int, wide(2), fwd(false), ptr(3), ptr(2)]).types.length, 3);
  assert.equal(dedupBtf([int, wide(2), fwd(true), ptr(3), ptr(2)]).types.length, 5);
});

test('hostile input: mutated objects give FormatError or LinkError, never a crash', () => {
  const base = LINK_INPUTS.map((n) => new Uint8Array(readFileSync(fixture(n))));
  let seed = 0x5eed;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let linked = 0;
  for (let i = 0; i < 250; i++) {
    const which = rnd(3);
    const bytes = base.map((b) => b.slice());
    const b = bytes[which];
    for (let k = 0, n = 1 + rnd(8); k < n; k++) b[rnd(b.length)] = rnd(256);
    if (rnd(10) === 0) bytes[which] = b.subarray(0, rnd(b.length));
    try {
      const r = linkObjects(bytes.map((x, j) => ({ file: LINK_INPUTS[j], bytes: x })));
      parseBtf(new ElfFile(r.bytes, 'out').section('.BTF')!.data);
      linked++;
    } catch (e) {
      assert.ok(e instanceof FormatError || e instanceof LinkError, `mutation ${i}: ${(e as Error).stack}`);
    }
  }
  assert.ok(linked > 0 && linked < 250, `${linked} of 250 mutated inputs linked`);
});
