// Differential: every load fixture (test/fixtures/load_*.bpf.c, default and -mcpu=v3 builds)
// loaded by libbpf 1.1 (`bpftool prog loadall`) and by BPF Lens's loadObject into this kernel.
// They must agree on success; the maps created must be equal (type, key/value size,
// max_entries, flags, kernel name, frozen, BTF, initial contents of arrays and of prog-array /
// map-in-map slots); the programs equal (type, kernel name, tag — the kernel's hash of the
// instructions as loaded, map references zeroed —, bytes_xlated, verified instructions, maps
// used, BTF). Where they legitimately differ, the difference is asserted exactly, with why.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'fs';
import { after, test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { KernelBtf } from '../../server/src/kernel';
import { LoadError } from '../../server/src/load/types';
import { FIXTURES, fixture, run } from '../helpers';
import { type Snapshot, lensLoad, lensSnapshot, libbpfLoad } from '../load-helpers';
import { bpffsDir } from './kernel-env';

const targetBtf = KernelBtf.open();
after(() => targetBtf.close());

/** Loads with BPF Lens (maps pinned by name go under a private root) and describes the result; undefined + error on failure. */
async function lens(file: string): Promise<{ snap?: Snapshot; error?: unknown }> {
  const { dir, done } = bpffsDir('diff');
  try {
    const r = await lensLoad(file, { pinRoot: dir, targetBtf });
    try {
      return { snap: lensSnapshot(r) };
    } finally {
      r.close();
    }
  } catch (error) {
    return { error };
  } finally {
    done();
  }
}

const BPF_F_MMAPABLE = 1 << 10;

function assertSame(lib: Snapshot, ours: Snapshot, what: string): { maps: number; progs: number } {
  assert.deepEqual([...ours.progs.keys()].sort(), [...lib.progs.keys()].sort(), `${what}: programs`);
  assert.deepEqual([...ours.maps.keys()].sort(), [...lib.maps.keys()].sort(), `${what}: maps (kernel names)`);
  for (const [name, m] of lib.maps) {
    const mine = ours.maps.get(name)!;
    // libbpf 1.1 makes every internal map mmapable; current libbpf (and BPF Lens) only when its
    // DATASEC has a non-static variable (BPF_SEQ_PRINTF's static format strings have none)
    if (name.includes('.') && !(mine.flags & BPF_F_MMAPABLE) && m.flags & BPF_F_MMAPABLE) {
      assert.deepEqual(mine, { ...m, flags: m.flags & ~BPF_F_MMAPABLE }, `${what}: map ${name}`);
      continue;
    }
    assert.deepEqual(mine, m, `${what}: map ${name}`);
  }
  for (const [name, p] of lib.progs) {
    const mine = ours.progs.get(name)!;
    // libbpf 1.1 leaves a call to an unresolved weak kfunc as `call kfunc imm=0`; current libbpf
    // and BPF Lens poison it (call 2002000000 + extern index). Dead code either way: only the tag differs.
    if (what.startsWith('load_kfuncs') && name === 'xdp_task_lookup') {
      assert.notEqual(mine.tag, p.tag);
      assert.deepEqual({ ...mine, tag: p.tag }, p, `${what}: program ${name}`);
      continue;
    }
    assert.deepEqual(mine, p, `${what}: program ${name}`);
  }
  return { maps: lib.maps.size, progs: lib.progs.size };
}

/**
 * Fixtures libbpf 1.1 does not load, and why. `lens` is what BPF Lens must do instead: 'ok'
 * where newer libbpf loads it too, or the error it must report where the kernel refuses.
 */
const LIBBPF_REFUSES: Record<string, { libbpf: RegExp; lens: 'ok' | RegExp; why: string }> = {
  load_fentry: {
    libbpf: /prog 'unlink_entry': BPF program load failed: Operation not permitted/,
    lens: /EPERM|not permitted/i,
    why: 'this kernel refuses trampoline programs (fentry/fexit) with EPERM, whoever loads them',
  },
  load_lsm: {
    libbpf: /prog 'deny_map_type': BPF program load failed: Operation not permitted/,
    lens: /EPERM|not permitted/i,
    why: 'LSM programs are trampolines too: EPERM here',
  },
  load_ksym_typed: {
    libbpf: /failed to find the address for kernel symbol 'runqueues'/,
    lens: /failed to find the address for kernel symbol 'runqueues'/,
    why: 'the kernel resolves typed ksyms through kallsyms, which lacks data symbols without CONFIG_KALLSYMS_ALL',
  },
  load_tcx: {
    libbpf: /failed to guess program type from ELF section 'tcx\/ingress'/,
    lens: 'ok',
    why: 'tcx/* section names arrived in libbpf 1.3; BPF Lens follows current libbpf',
  },
  load_globals_bss: {
    libbpf: /bad map relo against 'head' in section '\.bss\.ring'/,
    lens: 'ok',
    why: 'libbpf 1.1 maps only .bss itself, not custom .bss.* sections (newer libbpf maps them)',
  },
};

const objects = readdirSync(FIXTURES)
  .filter((f) => /^load_.*\.o$/.test(f) && !f.endsWith('.eb.o'))
  .sort();
const totals = { maps: 0, progs: 0, objects: 0 };

test('there is a load fixture per family, default and v3 builds', () => {
  const families = new Set(objects.map((f) => f.replace(/(\.v3)?\.o$/, '')));
  assert.ok(families.size >= 24, `${families.size} fixtures`);
  for (const f of families) assert.ok(objects.includes(`${f}.v3.o`), `${f} has a v3 build`);
});

for (const name of objects) {
  const family = name.replace(/(\.v3)?\.o$/, '');
  test(`${name}: libbpf and BPF Lens agree`, async () => {
    const file = fixture(name);
    const lib = libbpfLoad(file);
    const ours = await lens(file);
    const refused = LIBBPF_REFUSES[family];
    if (!refused) {
      assert.ok(lib.ok, `libbpf loads ${name}: ${lib.stderr}`);
      assert.ok(
        ours.snap,
        `BPF Lens loads ${name}: ${String(ours.error)}${ours.error instanceof LoadError ? `\n${ours.error.details.log ?? ''}` : ''}`,
      );
      const n = assertSame(lib.snapshot!, ours.snap, name);
      totals.maps += n.maps;
      totals.progs += n.progs;
      totals.objects++;
      return;
    }
    // the precise difference, and why (LIBBPF_REFUSES)
    assert.equal(lib.ok, false, `libbpf 1.1 is expected to refuse ${name} (${refused.why})`);
    assert.match(lib.stderr, refused.libbpf);
    if (refused.lens === 'ok') {
      assert.ok(ours.snap, `BPF Lens loads ${name} (${refused.why}): ${String(ours.error)}`);
    } else {
      assert.ok(
        ours.error instanceof LoadError,
        `BPF Lens refuses ${name} too (${refused.why}): ${ours.error instanceof Error ? ours.error.message : 'it loaded'}`,
      );
      assert.match(`${ours.error.message}\n${ours.error.details.log ?? ''}`, refused.lens);
    }
  });
}

test("tcx: BPF Lens's programs equal what libbpf loads from the same object with the sections renamed to tc", async () => {
  const dir = path.join(os.tmpdir(), `bpflens-tcx-${process.pid}`);
  const renamed = path.join(dir, 'load_tcx_as_tc.o');
  run('mkdir', ['-p', dir]);
  try {
    run('llvm-objcopy', ['--rename-section', 'tcx/ingress=tc', '--rename-section', 'tcx/egress=tc', fixture('load_tcx.o'), renamed]);
    const lib = libbpfLoad(renamed);
    assert.ok(lib.ok, lib.stderr);
    // .BTF.ext still names the tcx/* sections, so libbpf finds no func_info/line_info for them
    assert.match(lib.stderr, /prog 'tcx_in': missing \.BTF\.ext function info/);
    const ours = await lens(fixture('load_tcx.o'));
    assert.ok(ours.snap, String(ours.error));
    for (const [name, p] of lib.snapshot!.progs) {
      // the only difference: BPF Lens loads the programs with their func_info (and so their BTF)
      assert.deepEqual(ours.snap.progs.get(name), { ...p, btf: true }, name);
      assert.equal(p.btf, false);
    }
    assert.deepEqual(ours.snap.maps, lib.snapshot!.maps);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('summary: every object both load created equal maps and programs', () => {
  // runs last (node:test keeps file order): the counts the report quotes
  const expected = objects.filter((o) => !LIBBPF_REFUSES[o.replace(/(\.v3)?\.o$/, '')]).length;
  assert.equal(totals.objects, expected);
  assert.ok(totals.maps > 50 && totals.progs > 40, JSON.stringify(totals));
  console.log(`load-diff: ${totals.objects} objects, ${totals.maps} maps and ${totals.progs} programs equal between libbpf and BPF Lens`);
});
