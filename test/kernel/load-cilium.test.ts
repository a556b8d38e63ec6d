// cilium/ebpf's compiled test objects (Debian's golang-github-cilium-ebpf-dev), little-endian,
// loaded by BPF Lens into this kernel. Every `*-el.elf` is listed below with what is expected:
// loaded by both libbpf 1.1 and BPF Lens (and then compared like load-diff does), refused by
// libbpf 1.1 itself (the reason is checked, so the list stays honest), or refused by the
// kernel whoever loads it. Programs that can run do so under PROG_TEST_RUN.
import assert from 'node:assert/strict';
import { readdirSync } from 'fs';
import { after, test } from 'node:test';
import * as path from 'path';
import { KernelBtf, closeFd, progTestRun, rawTracepointOpen } from '../../server/src/kernel';
import { LoadError, type LoadResult } from '../../server/src/load/types';
import type { BpfObject } from '../../server/src/object/model';
import { readTargetBtf } from '../core-helpers';
import { CILIUM } from '../helpers';
import { le32, lensLoad, lensSnapshot, libbpfLoad, lookup, mapOf, openFile, progFd, u32 } from '../load-helpers';
import { bpffsDir, openFds } from './kernel-env';

const TESTDATA = path.join(CILIUM, 'testdata');
const targetBtf = KernelBtf.open();
after(() => targetBtf.close());

/**
 * bpftool's `type socket`: cilium names sections `socket/<x>` and `socket_filter/<x>`, which
 * libbpf's SEC() table does not know; both loaders are told the program type instead.
 */
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

type Expect =
  /** libbpf 1.1 and BPF Lens both load it and create equal maps and programs; `check` runs on BPF Lens's load. */
  | { kind: 'both'; socket?: boolean; check?: (r: LoadResult) => void }
  /** libbpf 1.1 refuses it before the kernel sees it: skipped, for this reason. */
  | { kind: 'libbpf-refuses'; libbpf: RegExp; why: string }
  /** The kernel refuses it whoever loads it; BPF Lens must report the kernel's reason. */
  | { kind: 'kernel-refuses'; libbpf: RegExp; lens: RegExp; why: string }
  /** Tested on its own below. */
  | { kind: 'own-test'; libbpf?: RegExp; why: string };

const LEGACY = /legacy map definitions in 'maps' section are not supported by libbpf v1\.0\+/;
const STATIC_PROG = /program 'static_fn' is static and not supported/;

const EXPECT: Record<string, Expect> = {
  'btf_map_init-el.elf': {
    kind: 'both',
    socket: true,
    check: (r) => {
      // tail_main tail-calls slot 1 of the initialised prog-array, tail_1 returns 42
      assert.equal(le32(lookup(r, 'prog_array_init', u32(1))), r.programs.find((p) => p.name === 'tail_1')!.id);
      assert.equal(lookup(r, 'prog_array_init', u32(0)), undefined);
      assert.equal(le32(lookup(r, 'outer_map_init', u32(1))), mapOf(r, 'inner_map').id);
      assert.equal(progTestRun(progFd(r, 'tail_main'), { data: new Uint8Array(64) }).retval, 42);
    },
  },
  'map_spin_lock-el.elf': {
    kind: 'both',
    check: (r) => assert.deepEqual([mapOf(r, 'spin_lock_map').type, mapOf(r, 'spin_lock_map').valueSize], ['hash', 8]),
  },
  'raw_tracepoint-el.elf': {
    kind: 'both',
    check: (r) => {
      assert.equal(r.programs[0].type, 'raw_tracepoint');
      closeFd(rawTracepointOpen(progFd(r, 'sched_process_exec'), 'sched_process_exec'));
    },
  },
  'invalid_btf_map_init-el.elf': { kind: 'own-test', why: 'libbpf 1.1 ignores the stray byte in .maps that cilium/ebpf refuses' },
  'strings-el.elf': {
    kind: 'kernel-refuses',
    libbpf: /cannot call GPL-restricted function from non-GPL compatible program/,
    lens: /cannot call GPL-restricted function from non-GPL compatible program/,
    why: 'license "MIT" and a call to the GPL-only bpf_trace_printk',
  },
  'freplace-el.elf': {
    kind: 'own-test',
    libbpf: /prog 'replacement': failed to prepare load attributes: -22/,
    why: 'an freplace program needs its target program, which bpftool prog loadall cannot give',
  },
  'fwd_decl-el.elf': {
    kind: 'libbpf-refuses',
    libbpf: /failed to find BTF for extern 'fwd'/,
    why: 'calls a function that is declared and never defined ("not a valid BPF program")',
  },
  'invalid_map-el.elf': { kind: 'libbpf-refuses', libbpf: LEGACY, why: 'legacy maps section (and an invalid definition on purpose)' },
  'invalid_map_static-el.elf': { kind: 'libbpf-refuses', libbpf: LEGACY, why: 'legacy maps section (and a static map on purpose)' },
  'iproute2_map_compat-el.elf': { kind: 'libbpf-refuses', libbpf: LEGACY, why: "iproute2's legacy maps section" },
  'subprog_reloc-el.elf': { kind: 'libbpf-refuses', libbpf: LEGACY, why: 'legacy maps section' },
  'loader-clang-7-el.elf': { kind: 'libbpf-refuses', libbpf: LEGACY, why: 'legacy maps section (clang 7 has no BTF-defined maps)' },
  'loader-el.elf': {
    kind: 'libbpf-refuses',
    libbpf: STATIC_PROG,
    why: 'a static function as a program in SEC("static"), plus legacy maps',
  },
  'loader-clang-9-el.elf': { kind: 'libbpf-refuses', libbpf: STATIC_PROG, why: 'a static function as a program in SEC("static")' },
  'loader-clang-14-el.elf': { kind: 'libbpf-refuses', libbpf: STATIC_PROG, why: 'a static function as a program in SEC("static")' },
};

test('every little-endian object in cilium/ebpf testdata has an expectation here', () => {
  const present = readdirSync(TESTDATA)
    .filter((f) => f.endsWith('-el.elf'))
    .sort();
  assert.deepEqual(present, Object.keys(EXPECT).sort());
});

const counts = { both: 0, skipped: 0, kernelRefuses: 0 };

for (const [name, e] of Object.entries(EXPECT)) {
  const file = path.join(TESTDATA, name);
  if (e.kind === 'own-test') continue;
  test(`${name}: ${e.kind === 'both' ? 'libbpf and BPF Lens load it and agree' : e.kind === 'kernel-refuses' ? `the kernel refuses it (${e.why})` : `libbpf 1.1 refuses it (${e.why})`}`, async () => {
    const lib = libbpfLoad(file, e.kind === 'both' && e.socket ? { type: 'socket' } : {});
    if (e.kind === 'both') {
      assert.ok(lib.ok, lib.stderr);
      const model = e.socket ? asSocketFilters(openFile(file)) : openFile(file);
      const r = await lensLoad(model, { targetBtf });
      try {
        assert.deepEqual(lensSnapshot(r), lib.snapshot);
        e.check?.(r);
      } finally {
        r.close();
      }
      counts.both++;
      return;
    }
    assert.equal(lib.ok, false);
    assert.match(lib.stderr, e.libbpf);
    const before = openFds();
    const pins = bpffsDir('cilium'); // iproute2's legacy maps pin by name: keep them out of /sys/fs/bpf
    let r: LoadResult | undefined;
    try {
      r = await lensLoad(file, { pinRoot: pins.dir }); // the loader's own target BTF: it must close whatever it opened
    } catch (err) {
      assert.ok(err instanceof LoadError, `a LoadError, not ${String(err)}`);
      if (e.kind === 'kernel-refuses') assert.match(`${err.message}\n${err.details.log ?? ''}`, e.lens);
    } finally {
      r?.close();
      pins.done();
    }
    assert.equal(openFds(), before, 'nothing left open');
    if (e.kind === 'kernel-refuses') {
      assert.equal(r, undefined, 'BPF Lens refuses it too');
      counts.kernelRefuses++;
    } else {
      counts.skipped++;
    }
  });
}

test('invalid_btf_map_init-el.elf: libbpf 1.1 creates the map; BPF Lens refuses the stray byte in .maps as cilium/ebpf does', async () => {
  const file = path.join(TESTDATA, 'invalid_btf_map_init-el.elf');
  const lib = libbpfLoad(file);
  assert.ok(lib.ok, lib.stderr);
  assert.deepEqual([...lib.snapshot!.maps.keys()], ['hash_map']);
  const before = openFds();
  await assert.rejects(lensLoad(file), (err: unknown) => {
    assert.ok(err instanceof LoadError, String(err));
    assert.match(err.message, /hash_map/);
    assert.match(err.message, /non-zero data in field 'key'/);
    return true;
  });
  assert.equal(openFds(), before);
});

test('freplace-el.elf: the target program loads; the replacement reaches the kernel against it and this host refuses EXT (EPERM)', async () => {
  const file = path.join(TESTDATA, 'freplace-el.elf');
  assert.match(libbpfLoad(file).stderr, EXPECT['freplace-el.elf'].kind === 'own-test' ? EXPECT['freplace-el.elf'].libbpf! : /never/);
  const target = await lensLoad(file, { targetBtf, noAutoload: ['replacement'] });
  try {
    assert.deepEqual(
      target.programs.map((p) => [p.name, p.type]),
      [['sched_process_exec', 'raw_tracepoint']],
    );
    const before = openFds();
    // EXT programs are trampolines: refused here like fentry (the qemu tests attach them on 6.1)
    await assert.rejects(
      lensLoad(file, { noAutoload: ['sched_process_exec'], replaceTargetFd: progFd(target, 'sched_process_exec') }),
      (err: unknown) => {
        assert.ok(err instanceof LoadError, String(err));
        assert.equal(err.details.program, 'replacement');
        assert.match(err.message, /EPERM|not permitted/i);
        return true;
      },
    );
    assert.equal(openFds(), before);
  } finally {
    target.close();
  }
});

const BTF_DATA = path.join(CILIUM, 'btf', 'testdata');

/** Loads the object's programs as socket filters, CO-RE against `target`, runs each once: name → return value (0 = every check passed, else the failing line). */
async function runCore(file: string, target: string, skip: string[]): Promise<Map<string, number>> {
  const r = await lensLoad(asSocketFilters(openFile(file)), {
    targetBtf,
    coreTargets: [readTargetBtf(target, path.basename(target))],
    noAutoload: skip,
  });
  try {
    return new Map(r.programs.map((p) => [p.name, progTestRun(p.fd, { data: new Uint8Array(14) }).retval]));
  } finally {
    r.close();
  }
}

test('btf/testdata relocs-el.elf, CO-RE against its own BTF: every program returns 0 under PROG_TEST_RUN', async () => {
  const file = path.join(BTF_DATA, 'relocs-el.elf');
  const ran = await runCore(file, file, ['err_ambiguous', 'err_ambiguous_flavour']);
  assert.deepEqual([...ran.keys()].sort(), ['enums', 'fields', 'type_ids', 'types']);
  for (const [name, ret] of ran) assert.equal(ret, 0, `${name} failed its check on line ${ret} of relocs.c`);
});

test('btf/testdata relocs-el.elf: the ambiguous relocation is refused before the kernel, naming both candidates and the source line', async () => {
  const file = path.join(BTF_DATA, 'relocs-el.elf');
  await assert.rejects(runCore(file, file, ['enums', 'fields', 'type_ids', 'types', 'err_ambiguous_flavour']), (err: unknown) => {
    assert.ok(err instanceof LoadError, String(err));
    assert.equal(err.stage, 'relocate');
    assert.match(err.message, /struct ambiguous \[\d+\].*struct ambiguous___flavour \[\d+\]/);
    assert.match(err.details.source?.text ?? '', /bpf_core_type_id_kernel\(struct ambiguous\)/);
    return true;
  });
});

test('btf/testdata relocs_read-el.elf against relocs_read_tgt-el.elf: reads() returns 0 (and not without the target)', async () => {
  const ran = await runCore(path.join(BTF_DATA, 'relocs_read-el.elf'), path.join(BTF_DATA, 'relocs_read_tgt-el.elf'), []);
  assert.deepEqual([...ran], [['reads', 0]]);
  const own = path.join(BTF_DATA, 'relocs_read-el.elf');
  const self = await runCore(own, own, []);
  assert.notEqual(self.get('reads'), 0, 'against its own BTF the checks fail: the run is not vacuous');
});

test('summary of cilium/ebpf testdata', () => {
  const expected = Object.values(EXPECT);
  assert.equal(counts.both, expected.filter((e) => e.kind === 'both').length);
  assert.equal(counts.skipped, expected.filter((e) => e.kind === 'libbpf-refuses').length);
  assert.equal(counts.kernelRefuses, expected.filter((e) => e.kind === 'kernel-refuses').length);
  console.log(
    `load-cilium: ${counts.both} loaded by both and equal, ${counts.kernelRefuses} refused by the kernel for both, ${counts.skipped} refused by libbpf 1.1 (skipped), 2 with own tests`,
  );
});
