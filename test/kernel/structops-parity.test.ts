// struct_ops as libbpf 1.5 loads and registers it (issue 19), each case a fixture
// (test/fixtures/structops_*.bpf.c) compared with bpftool 7.5 (`prog loadall`, `struct_ops
// register`, built by scripts/build-refs.sh): loading registers nothing, so values the kernel
// checks only at registration, or two maps with one name, load and then fail to register; the
// programs a struct_ops map uses load even from SEC("?struct_ops"); a SEC("struct_ops") program
// no map uses refuses the load; a map whose program the user left out loads and cannot register.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { after, test } from 'node:test';
import { attachAll, AttachError } from '../../server/src/attach';
import { KernelBtf, localKernel } from '../../server/src/kernel';
import { LoadError, type LoadOptions, type LoadResult } from '../../server/src/load/types';
import { fixture } from '../helpers';
import { lensLoad, lensSnapshot, libbpfLoad, snapshotDifferences } from '../load-helpers';
import { modernRefs } from '../refs';

const targetBtf = KernelBtf.open();
after(() => targetBtf.close());
const refs = modernRefs();

/** `bpftool struct_ops register OBJ`: loads the object and registers each map (each link closes as bpftool exits). */
function libbpfRegister(name: string): { ok: boolean; out: string } {
  const r = spawnSync(refs.bpftool, ['struct_ops', 'register', fixture(name)], { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

/** BPF Lens's registration: attaching the load's struct_ops maps, detached again at once. */
function lensRegister(r: LoadResult): { ok: boolean; out: string } {
  const structOps = r.maps.flatMap((m) => (m.structOps ? [{ name: m.name, fd: m.fd, ...m.structOps }] : []));
  try {
    attachAll(localKernel, r.programs, { structOps }).detach();
    return { ok: true, out: '' };
  } catch (e) {
    assert.ok(e instanceof AttachError, String(e));
    return { ok: false, out: `${e.program}: ${e.message}` };
  }
}

async function withLens<T>(name: string, f: (r: LoadResult) => T, opts: Partial<LoadOptions> = {}): Promise<T> {
  const r = await lensLoad(fixture(name), { targetBtf, ...opts });
  try {
    return f(r);
  } finally {
    r.close();
  }
}

for (const [name, registers, why] of [
  ['structops_reg_checked.o', /can't register struct_ops lens_reg_checked: Invalid argument/, /lens_reg_checked: .*EINVAL/],
  [
    'structops_dup_name.o',
    /Registered tcp_congestion_ops lens_dup_a[^]*can't register struct_ops lens_dup_b: File exists/,
    /lens_dup_b: .*EEXIST/,
  ],
  ['structops_optional.o', /Registered tcp_congestion_ops lens_opt /, undefined],
] as const) {
  test(`${name}: loaded as libbpf 1.5 loads it, registered or refused as it registers`, async () => {
    const lib = libbpfLoad(fixture(name), { bpftool: refs.bpftool });
    assert.ok(lib.ok, lib.stderr);
    const libReg = libbpfRegister(name);
    assert.match(libReg.out, registers);
    await withLens(name, (r) => {
      assert.deepEqual(snapshotDifferences(lib.snapshot!, lensSnapshot(r)), []);
      const reg = lensRegister(r);
      assert.equal(reg.ok, libReg.ok, `${reg.out}\nlibbpf: ${libReg.out}`);
      if (why) assert.match(reg.out, why);
    });
  });
}

test('structops_optional.o: SEC("?struct_ops") used by a map is loaded by both', async () => {
  const lib = libbpfLoad(fixture('structops_optional.o'), { bpftool: refs.bpftool });
  assert.ok(lib.snapshot!.progs.has('lens_opt_init'));
  await withLens('structops_optional.o', (r) => assert.ok(r.programs.some((p) => p.name === 'lens_opt_init')));
});

test('structops_unused_optional.o: a SEC("?struct_ops") program no map uses stays unloaded, the rest registers', async () => {
  const libReg = libbpfRegister('structops_unused_optional.o');
  assert.ok(libReg.ok, libReg.out);
  await withLens('structops_unused_optional.o', (r) => {
    assert.deepEqual(r.programs.map((p) => p.name).sort(), ['lens_uo_cong_avoid', 'lens_uo_ssthresh', 'lens_uo_undo_cwnd']);
    assert.deepEqual(lensRegister(r), { ok: true, out: '' });
  });
});

test('structops_unreferenced.o: a SEC("struct_ops") program no map uses is refused by both', async () => {
  const lib = libbpfLoad(fixture('structops_unreferenced.o'), { bpftool: refs.bpftool });
  assert.equal(lib.ok, false);
  assert.match(lib.stderr, /prog 'lens_unref_stray': SEC\("struct_ops"\) program isn't referenced anywhere/);
  await assert.rejects(lensLoad(fixture('structops_unreferenced.o'), { targetBtf }), (e: unknown) => {
    assert.ok(e instanceof LoadError);
    assert.equal(e.stage, 'probe');
    assert.match(e.message, /program 'lens_unref_stray': SEC\("struct_ops"\) program no struct_ops map uses/);
    return true;
  });
});

test('a struct_ops map whose program the load leaves out (--no-autoload) loads; registering it fails naming the program', async () => {
  await withLens(
    'structops_optional.o',
    (r) => {
      assert.ok(!r.programs.some((p) => p.name === 'lens_opt_init'));
      assert.ok(
        r.warnings.some((w) => /struct_ops map 'lens_opt': init -> lens_opt_init not loaded/.test(w)),
        r.warnings.join('\n'),
      );
      const reg = lensRegister(r);
      assert.equal(reg.ok, false);
      assert.match(reg.out, /lens_opt: .*init -> lens_opt_init were not loaded/);
    },
    { noAutoload: ['lens_opt_init'] },
  );
});
