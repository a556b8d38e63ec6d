// Differential at scale: the kernel's own BPF selftests (linux-source-6.1's
// tools/testing/selftests/bpf/progs, compiled by scripts/selftests-corpus.sh) loaded into this
// kernel by libbpf 1.5 (bpftool 7.5's `prog loadall`, built by scripts/build-refs.sh) and by
// BPF Lens's loadObject. Every object libbpf loads, BPF Lens loads with the same programs
// (type, kernel name, tag, bytes_xlated, verified instructions, maps used, BTF) and the same
// maps (type, sizes, flags, frozen, BTF, initial contents). Objects both refuse are listed, and
// each of their programs is loaded alone by both (the others' autoload off): what one loads the
// other loads the same. Differences must be in KNOWN with why. The summary lines give the counts.
import assert from 'node:assert/strict';
import * as path from 'path';
import { after, test } from 'node:test';
import { KernelBtf } from '../../server/src/kernel';
import { LoadError } from '../../server/src/load/types';
import {
  type Snapshot,
  lensLoad,
  lensLoadOne,
  lensSnapshot,
  libbpfLoad,
  libbpfLoadOne,
  openFile,
  snapshotDifferences,
} from '../load-helpers';
import { loadOneTool, modernRefs, selftestsCorpus } from '../refs';
import { bpffsDir } from './kernel-env';

const targetBtf = KernelBtf.open();
after(() => targetBtf.close());
const refs = modernRefs();
const corpus = selftestsCorpus();
const loadOne = loadOneTool();

const SYSCALL_WRAPPER =
  "LINUX_HAS_SYSCALL_WRAPPER: libbpf 1.5 probes it by creating a kprobe on __x64_sys_bpf, which this host's lockdown refuses (0); BPF Lens finds the symbol in kallsyms (1), so the verifier prunes other branches (the same tag, other bytes_xlated)";
/**
 * Objects where BPF Lens and libbpf 1.5 do not agree yet, and why. An entry that starts to
 * agree fails the test, so the list only shrinks.
 */
const KNOWN: Record<string, string> = {
  bpf_syscall_macro: SYSCALL_WRAPPER,
  test_attach_probe: SYSCALL_WRAPPER,
  test_pinning:
    'the harness sees only the maps libbpf pins or its programs use: the object pins by name, so no pinmaps directory, and nopinmap/nopinmap2 are used by no program',
};

/**
 * `bpftool prog loadall` pins every program, so it fails on objects with programs libbpf leaves
 * unloaded (`SEC("?...")`, autoload off) though libbpf loaded the object: BPF Lens must load them.
 */
const UNPINNABLE = /can't pin program that wasn't loaded/;

async function lens(file: string): Promise<{ snap?: Snapshot; error?: string }> {
  const { dir, done } = bpffsDir('selftests');
  try {
    const r = await lensLoad(file, { pinRoot: dir, targetBtf });
    try {
      return { snap: lensSnapshot(r) };
    } finally {
      r.close();
    }
  } catch (error) {
    const log = error instanceof LoadError ? (error.details.log ?? '').split('\n').slice(-4).join('\n') : '';
    return { error: `${error instanceof Error ? error.message : String(error)}\n${log}` };
  } finally {
    done();
  }
}

const counts = { objects: 0, libbpf: 0, lens: 0, same: 0, bothRefuse: 0, onlyLens: 0, unpinnable: 0, progs: 0, sameTags: 0 };
/** Programs of objects both refuse, each loaded alone (every other program's autoload off). */
const alone = { programs: 0, both: 0, sameTags: 0, onlyLibbpf: 0, onlyLens: 0, refused: 0 };

/**
 * An object both refuse as a whole (one fentry program refuses it here, under lockdown): each of
 * its programs loaded alone by libbpf 1.5 (test/tools/load-one.c) and by BPF Lens (noAutoload of
 * the others). What one loads the other must load, with the same shape.
 */
async function eachAlone(file: string, name: string): Promise<string[]> {
  const diff: string[] = [];
  for (const p of openFile(file).programs.filter((x) => x.autoload)) {
    alone.programs++;
    const lib = libbpfLoadOne(file, p.name, loadOne);
    const ours = await lensLoadOne(file, p.name, { targetBtf });
    if (lib.ok && ours.ok) {
      alone.both++;
      if (lib.shape?.tag === ours.shape?.tag) alone.sameTags++;
      if (JSON.stringify(lib.shape) !== JSON.stringify(ours.shape))
        diff.push(`${name}/${p.name} alone: libbpf ${JSON.stringify(lib.shape)}, BPF Lens ${JSON.stringify(ours.shape)}`);
    } else if (lib.ok) {
      alone.onlyLibbpf++;
      diff.push(`${name}/${p.name} alone: BPF Lens refuses what libbpf loads: ${ours.stderr.split('\n')[0]}`);
    } else if (ours.ok) {
      alone.onlyLens++;
      diff.push(`${name}/${p.name} alone: BPF Lens loads what libbpf refuses: ${lib.stderr.split('\n').slice(-3).join(' | ')}`);
    } else alone.refused++;
  }
  return diff;
}
const bothRefuse: string[] = [];
const onlyLens: string[] = [];

test('the corpus compiled: most of the 6.1 selftests', () => {
  assert.ok(corpus.sources > 400, `${corpus.sources} sources`);
  assert.equal(corpus.objects.length + corpus.skipped.length, corpus.sources);
  assert.ok(corpus.objects.length > corpus.sources / 2, `${corpus.objects.length} of ${corpus.sources} compiled`);
});

for (const file of corpus.objects) {
  const name = path.basename(file, '.o');
  test(`${name}: libbpf 1.5 and BPF Lens agree`, async () => {
    counts.objects++;
    const lib = libbpfLoad(file, { bpftool: refs.bpftool });
    const ours = await lens(file);
    if (lib.ok) counts.libbpf++;
    if (ours.snap) counts.lens++;
    let diff: string[];
    if (lib.ok && ours.snap) {
      diff = snapshotDifferences(lib.snapshot!, ours.snap);
      for (const [p, shape] of lib.snapshot!.progs) {
        counts.progs++;
        if (ours.snap.progs.get(p)?.tag === shape.tag) counts.sameTags++;
      }
    } else if (lib.ok) diff = [`BPF Lens refuses what libbpf loads: ${ours.error}`];
    else if (UNPINNABLE.test(lib.stderr)) {
      counts.unpinnable++;
      diff = ours.snap ? [] : [`BPF Lens refuses what libbpf loads (with programs left unloaded): ${ours.error}`];
    } else if (ours.snap) {
      onlyLens.push(name);
      counts.onlyLens++;
      diff = [];
    } else {
      bothRefuse.push(name);
      counts.bothRefuse++;
      diff = await eachAlone(file, name);
    }
    if (diff.length === 0 && lib.ok) counts.same++;
    if (KNOWN[name]) {
      assert.notDeepEqual(diff, [], `${name} now agrees: remove it from KNOWN (${KNOWN[name]})`);
      return;
    }
    assert.deepEqual(diff, [], `${name}:\n${diff.join('\n')}\nlibbpf: ${lib.stderr.split('\n').slice(-6).join('\n')}`);
  });
}

test('summary', () => {
  // node:test runs a file's tests in order: this one comes last
  assert.equal(counts.objects, corpus.objects.length);
  console.log(
    `selftests-diff: ${corpus.sources} sources, ${corpus.objects.length} compiled, ${corpus.skipped.length} skipped; ` +
      `libbpf 1.5 loads ${counts.libbpf}, BPF Lens ${counts.lens}, equal ${counts.same}; ` +
      `${counts.sameTags}/${counts.progs} programs with identical tags; ` +
      `${counts.unpinnable} more loaded by both (with programs left unloaded: bpftool cannot pin those); ` +
      `both refuse ${counts.bothRefuse}; only BPF Lens loads ${counts.onlyLens}; ${Object.keys(KNOWN).length} known differences`,
  );
  console.log(
    `selftests-diff: programs of the objects both refuse, each loaded alone: ${alone.programs}; both load ${alone.both}, ` +
      `${alone.sameTags} with identical tags; only libbpf ${alone.onlyLibbpf}; only BPF Lens ${alone.onlyLens}; both refuse ${alone.refused}`,
  );
  console.log(`selftests-diff: both refuse: ${bothRefuse.join(' ')}`);
  assert.deepEqual(onlyLens, [], 'BPF Lens loads objects libbpf refuses');
});
