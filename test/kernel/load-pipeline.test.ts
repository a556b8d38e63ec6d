// The load pipeline against this machine's kernel: a rich object (subprograms shared by two
// programs, a bpf_loop callback, global data, kconfig externs, a prog-array slot) runs and its
// results are read back; the examples load; cilium/ebpf's self-checking CO-RE programs return 0;
// a rejected program lands on its source line; BTF sanitising for older kernels still loads.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'fs';
import { before, test, type TestContext } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { parseBtf } from '../../server/src/btf/btf';
import { localKernel, mapLookupElem, progTestRun } from '../../server/src/kernel';
import { loadObject } from '../../server/src/load';
import { LoadError, type LoadOptions, type LoadResult } from '../../server/src/load/types';
import { openObject, type BpfObject } from '../../server/src/object';
import { CILIUM, ROOT, cli, fixture, run } from '../helpers';
import { debianKernel } from '../kernels';
import { bpffsDir, openFds, readU64, u32 } from './kernel-env';

function open(file: string): BpfObject {
  return openObject(new Uint8Array(readFileSync(file)), file);
}

function load(t: TestContext, obj: string | BpfObject, opts: Partial<LoadOptions> = {}): LoadResult {
  const r = loadObject(typeof obj === 'string' ? open(obj) : obj, { kernel: localKernel, ...opts });
  t.after(() => r.close());
  return r;
}

function lookup(r: LoadResult, map: string, key: Uint8Array): Uint8Array | undefined {
  const m = r.maps.find((x) => x.name === map)!;
  return mapLookupElem(m.fd, key, m.valueSize);
}

const fd = (r: LoadResult, name: string) => r.programs.find((p) => p.name === name)!.fd;
const testRun = (r: LoadResult, name: string) => progTestRun(fd(r, name), { data: new Uint8Array(64) }).retval;
const versionCode = () => {
  const [a, b, c] = os.release().split(/[.-]/).map(Number);
  return BigInt((a << 16) + (b << 8) + Math.min(c, 255));
};

before(() => {
  run('make', ['-s', '-C', path.join(ROOT, 'examples')]);
});

test('rich object: shared subprograms, a bpf_loop callback, global data, kconfig, prog-array slot — all work under PROG_TEST_RUN', (t) => {
  for (const build of ['loader_rich.o', 'loader_rich.v3.o']) {
    const r = load(t, fixture(build));
    assert.deepEqual(
      r.programs.map((p) => [p.name, p.type]),
      [
        ['leaf', 'xdp'],
        ['rich_main', 'xdp'],
        ['rich_other', 'xdp'],
      ],
    );
    assert.deepEqual(r.maps.map((m) => m.kernelName).sort(), [
      'jump',
      'loader_.kconfig',
      'loader_r.bss',
      'loader_r.data',
      'loader_r.rodata',
      'out',
      'seen',
    ]);
    // rich_main tail-calls slot 1 (leaf, returns 1) after recording its results
    assert.equal(testRun(r, 'rich_main'), 1, `${build}: tail call into leaf`);
    const out = (k: number) => readU64(lookup(r, 'out', u32(k))!);
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(out), [30n, 7n, 10n, versionCode(), 0n, 1n], build);
    assert.equal(testRun(r, 'rich_other'), 2);
    assert.equal(out(6), 3n, 'static subprogram linked into a second program reads .rodata');
    assert.ok(r.programs.every((p) => p.id > 0 && p.verifiedInsns > 0));
  }
  // maps sit on their placeholder FDs with close-on-exec kept: a child process inherits none
  const inherited = run('sh', ['-c', 'ls -l /proc/$$/fd | grep -c "anon_inode:bpf\\|memfd:" || true']).trim();
  assert.equal(inherited, '0', 'BPF FDs leaked into a child process');
  const set = load(t, fixture('loader_rich.o'), { set: { factor: '5' } });
  assert.equal(testRun(set, 'rich_main'), 1);
  assert.equal(readU64(lookup(set, 'out', u32(0))!), 50n, '--set factor=5');
  assert.throws(
    () => loadObject(open(fixture('loader_rich.o')), { kernel: localKernel, set: { nope: '1' } }),
    /no \.rodata variable of that name \(there are: factor\)/,
  );
});

test('a big-endian object is refused before anything is created, saying why', () => {
  const before = openFds();
  assert.throws(() => loadObject(open(fixture('btf_kinds.eb.o')), { kernel: localKernel }), /is big-endian; the target kernel is not/);
  assert.equal(openFds(), before);
});

test('autoload: --no-autoload skips a program, an unknown name is refused', (t) => {
  const r = load(t, fixture('loader_rich.o'), { noAutoload: ['rich_other'] });
  assert.deepEqual(
    r.programs.map((p) => p.name),
    ['leaf', 'rich_main'],
  );
  assert.throws(
    () => loadObject(open(fixture('loader_rich.o')), { kernel: localKernel, noAutoload: ['nope'] }),
    /--no-autoload: no program named 'nope'/,
  );
});

test('examples load: xdp_counter counts under PROG_TEST_RUN; exec_tracer, ctx_shared, dispatcher load', (t) => {
  const ex = (n: string) => path.join(ROOT, 'examples', 'build', `${n}.bpf.o`);
  const xdp = load(t, ex('xdp_counter'));
  const pkt = new Uint8Array(64);
  pkt[12] = 0x08; // ETH_P_IP
  pkt[14] = 0x45;
  pkt[23] = 17; // UDP
  assert.equal(progTestRun(fd(xdp, 'xdp_count'), { data: pkt }).retval, 2);
  const stats = xdp.maps.find((m) => m.name === 'stats')!;
  assert.equal(stats.type, 'percpu_hash');
  assert.deepEqual(
    load(t, ex('exec_tracer')).programs.map((p) => p.type),
    ['tracing'],
  );
  assert.deepEqual(
    load(t, ex('ctx_shared'))
      .programs.map((p) => p.type)
      .sort(),
    ['kprobe', 'perf_event'],
  );
  // dispatcher pins its verdicts map (LIBBPF_PIN_BY_NAME): under a directory of the test's own, removed after
  const pins = bpffsDir('examples');
  t.after(pins.done);
  const d = load(t, ex('dispatcher'), { pinRoot: pins.dir });
  assert.ok(d.programs.length >= 2);
  assert.equal(d.maps.find((m) => m.name === 'verdicts')?.pinnedAt, path.join(pins.dir, 'verdicts'));
});

/** cilium names sections `socket_filter/<x>`: libbpf does not know them; they are socket filters. */
function asSocketFilters(obj: BpfObject): BpfObject {
  return {
    ...obj,
    programs: obj.programs.map((p) => ({
      ...p,
      progType: 'socket_filter',
      progTypeId: 1,
      expectedAttachType: null,
      expectedAttachTypeId: 0,
    })),
  };
}

test('cilium CO-RE programs that check themselves return 0: relocs-el.elf against its own BTF, relocs_read-el.elf against relocs_read_tgt', (t) => {
  const td = path.join(CILIUM, 'btf', 'testdata');
  const relocs = asSocketFilters(open(path.join(td, 'relocs-el.elf')));
  const errs = relocs.programs.filter((p) => p.name.startsWith('err_')).map((p) => p.name);
  assert.deepEqual(errs, ['err_ambiguous', 'err_ambiguous_flavour']);
  const own = [{ name: 'relocs-el.elf', btf: relocs.btf! }];
  const r = load(t, relocs, { coreTargets: own, noAutoload: errs });
  assert.equal(r.programs.length, 4);
  for (const p of r.programs)
    assert.equal(progTestRun(p.fd, { data: new Uint8Array(64) }).retval, 0, `${p.name} returned the line of a failed check`);
  for (const e of errs) {
    const before = openFds();
    assert.throws(
      () =>
        loadObject(relocs, {
          kernel: localKernel,
          coreTargets: own,
          noAutoload: relocs.programs.map((p) => p.name).filter((n) => n !== e),
        }),
      (x: unknown) =>
        x instanceof LoadError && x.stage === 'relocate' && /CO-RE relocation failed/.test(x.message) && /disagree/.test(x.message),
    );
    assert.equal(openFds(), before);
  }
  const read = asSocketFilters(open(path.join(td, 'relocs_read-el.elf')));
  const tgt = parseBtf(new Uint8Array(open(path.join(td, 'relocs_read_tgt-el.elf')).elf.sections.find((s) => s.name === '.BTF')!.data), {
    file: 'relocs_read_tgt-el.elf',
  });
  const rr = load(t, read, { coreTargets: [{ name: 'relocs_read_tgt-el.elf', btf: tgt }] });
  assert.ok(rr.programs.length > 0);
  for (const p of rr.programs)
    assert.equal(progTestRun(p.fd, { data: new Uint8Array(64) }).retval, 0, `${p.name} returned the line of a failed check`);
  assert.ok(rr.coreReports.length > 0 && rr.coreReports.every((x) => !x.fatal));
});

test('a rejected program: LoadError on the source line of the failing instruction in the LINKED program, full log, nothing left open', () => {
  const before = openFds();
  assert.throws(
    () => loadObject(open(fixture('loader_reject.o')), { kernel: localKernel }),
    (e: unknown) => {
      assert.ok(e instanceof LoadError, String(e));
      assert.equal(e.stage, 'programs');
      assert.equal(e.details.program, 'xdp_bad');
      // the failing load is in the appended subprogram bump(), after the entry's instructions
      assert.ok(e.details.insn !== undefined && e.details.insn > 5, `insn ${e.details.insn}`);
      assert.equal(path.basename(e.details.source!.file), 'loader_reject.bpf.c');
      const src = readFileSync(path.join(ROOT, 'test', 'fixtures', 'loader_reject.bpf.c'), 'utf8').split('\n');
      assert.match(src[e.details.source!.line - 1], /REJECTED/);
      assert.match(e.details.source!.text, /return \*v \+ 1/);
      assert.match(e.details.log!, /invalid mem access 'map_value_or_null'/);
      assert.match(e.details.log!, /processed \d+ insns/, 'the whole log, not a tail');
      assert.match(e.message, /rejected by the verifier at .*loader_reject\.bpf\.c:\d+: R0 invalid mem access/);
      return true;
    },
  );
  assert.equal(openFds(), before);
});

test('bpf-lens load: exit codes, --json as issue 4 describes, errors with file:line, source and log tail', () => {
  const ok = cli(['load', fixture('loader_rich.o'), '--json', '--set', 'factor=4']);
  assert.equal(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout);
  assert.equal(j.ok, true);
  assert.deepEqual(Object.keys(j.progs[0]), ['name', 'id', 'type', 'verified_insns']);
  assert.deepEqual(Object.keys(j.maps[0]), ['name', 'id', 'type', 'bytes_key', 'bytes_value', 'max_entries', 'flags']);
  assert.deepEqual(
    j.progs.map((p: { name: string }) => p.name),
    ['leaf', 'rich_main', 'rich_other'],
  );
  const bad = cli(['load', fixture('loader_reject.o'), '--json']);
  assert.equal(bad.code, 1);
  const e = JSON.parse(bad.stdout);
  assert.equal(e.ok, false);
  assert.equal(e.error.program, 'xdp_bad');
  assert.match(e.error.source.text, /return \*v \+ 1/);
  assert.match(e.error.log, /map_value_or_null/);
  const text = cli(['load', fixture('loader_reject.o')]);
  assert.equal(text.code, 1);
  assert.match(text.stderr, /--> .*loader_reject\.bpf\.c:19:\d+\n\s+\| return \*v \+ 1;/);
  assert.match(text.stderr, /verifier log \(last lines\):[\s\S]*R0 invalid mem access/);
  const skip = cli(['load', fixture('loader_reject.o'), '--no-autoload', 'xdp_bad']);
  assert.equal(skip.code, 0, skip.stderr);
  assert.match(skip.stdout, /xdp_ok/);
  assert.equal(cli(['load', fixture('loader_rich.o'), '--log-level', 'x']).code, 2);
  const logged = cli(['load', fixture('loader_reject.o'), '--no-autoload', 'xdp_bad', '--log-level', '1']);
  assert.match(logged.stdout, /xdp_ok[\s\S]*processed \d+ insns/, 'the verifier log of a loaded program with --log-level 1');
});

test('bpf-lens load --pin DIR: programs stay pinned after the command exits (as bpftool prog loadall)', (t) => {
  const { dir, done } = bpffsDir('loadcli');
  t.after(done);
  const progs = path.join(dir, 'progs');
  const r = cli(['load', fixture('loader_rich.o'), '--pin', progs]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(progs).sort(), ['leaf', 'rich_main', 'rich_other']);
  const shown = JSON.parse(run('bpftool', ['prog', 'show', 'pinned', path.join(progs, 'rich_main'), '--json']));
  assert.equal(shown.name, 'rich_main');
  assert.equal(shown.type, 'xdp');
});

test('BTF sanitised for older kernels (no DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64; then not even FUNC): the kernel takes it and programs load', (t) => {
  const noKinds = (name: string) => !name.startsWith('btf_') || name === 'btf_func' || name === 'btf_func_global';
  const noFunc = (name: string) => !name.startsWith('btf_');
  for (const f of ['loader_rich.o', 'load_globals.o', 'load_externs.o']) {
    const r = load(t, fixture(f), { features: noKinds });
    assert.ok(r.btfFd !== undefined, `${f}: BTF loaded after sanitising`);
    assert.deepEqual(
      r.warnings.filter((w) => /BTF was refused/.test(w)),
      [],
    );
  }
  const r = load(t, fixture('loader_rich.o'), { features: noKinds });
  assert.equal(testRun(r, 'rich_main'), 1);
  // without FUNC the kernel gets no func_info (as with libbpf): fine for objects without callbacks
  for (const f of ['load_globals.o', 'load_externs.o']) {
    const r2 = load(t, fixture(f), { features: noFunc });
    assert.ok(r2.btfFd !== undefined, `${f}: FUNC/FUNC_PROTO turned into TYPEDEF/ENUM and loaded`);
  }
});

test('exception callback: named by a decl tag, appended to its program; bpf_throw returns through it', (t) => {
  const r = load(t, fixture('loader_exception.o'));
  const run = (n: number) => progTestRun(fd(r, 'throwing'), { data: new Uint8Array(n) }).retval;
  assert.equal(run(20), 1, 'no throw');
  assert.equal(run(60), 107, 'bpf_throw(7) → lens_exception_cb(7) = 107');
});

test("bpf-lens load --btf FILE: CO-RE against that vmlinux BTF (libbpf's btf_custom_path): Debian 6.1 lacks a field the object reads, so the read is poisoned and the verifier refuses it; this kernel's own BTF file loads", () => {
  const k61 = debianKernel('6.1');
  const on61 = cli(['load', fixture('core_target.o'), '--btf', k61.vmlinuxBtf]);
  assert.equal(on61.code, 1, on61.stdout);
  assert.match(on61.stderr, /CO-RE relocation #1 FIELD_BYTE_OFFSET of struct inode \(inode->i_mtime_sec\) did not resolve/, on61.stderr);
  // The rejection points at the C line that reads the field (not where the compiler put the relocated insn).
  const line =
    readFileSync(path.join(ROOT, 'test', 'fixtures', 'core_target.bpf.c'), 'utf8')
      .split('\n')
      .findIndex((l) => l.includes('CORE-POISONED-6.1')) + 1;
  assert.match(on61.stderr, new RegExp(`--> .*core_target\\.bpf\\.c:${line}:`), on61.stderr);
  // ... and so does everything else the user reads (the message's "at FILE:LINE", the related
  // line where the verifier stopped), not the compiler's line for the instruction; the kernel's
  // own log below keeps its words
  const ours = on61.stderr.split('verifier log (last lines):')[0];
  const said = [...ours.matchAll(/core_target\.bpf\.c:(\d+)/g)].map((m) => Number(m[1]));
  assert.ok(said.length >= 3, ours);
  assert.deepEqual(new Set(said), new Set([line]), ours);
  const here = cli(['load', fixture('core_target.o'), '--btf', '/sys/kernel/btf/vmlinux', '--json']);
  assert.equal(here.code, 0, here.stderr);
  assert.deepEqual(
    JSON.parse(here.stdout).progs.map((p: { name: string }) => p.name),
    ['core_target'],
  );
});
