// CO-RE engine speed: every record of three real CO-RE fixtures against this machine's vmlinux,
// cold in a fresh process (as a `bpf-lens load` pays it) against bpftool prog loadall of the
// same objects, and warm in-process for reference.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, ROOT, RUNS, VMLINUX, fmtMs, median, race, since, testModule, verdict, wall } from './lib.mjs';

// libbpf does its CO-RE inside prog loadall; ours must leave room in the cold budget (bpf-lens
// process − node ≤ 1.3 × loadall, section 'cold') for start-up, maps, programs and exit.
const GOAL = 0.5;
const FILES = ['core_tracer.o', 'core_flavors.o', 'core_local.o'].map((n) => path.join(FIXTURES, n));

/** bpftool prog loadall of each file into a fresh bpffs directory (removed after), summed. */
function loadall(files) {
  let ms = 0;
  for (const f of files) {
    const pin = `/sys/fs/bpf/bpflens_bench_core_${process.pid}`;
    mkdirSync(pin, { recursive: true });
    try {
      ms += wall('bpftool', ['prog', 'loadall', f, pin]);
    } finally {
      rmSync(pin, { recursive: true, force: true });
    }
  }
  return ms;
}

/** A fresh node process: the objects read, then timed: vmlinux BTF read + parsed, every relocation (index and candidates included). */
function coldChild(files) {
  const helpers = JSON.stringify(path.join(ROOT, 'out', 'test', 'core-helpers.js'));
  const code =
    `const h=require(${helpers});const objs=${JSON.stringify(files)}.map((f)=>h.readCoreObject(f));` +
    `const t0=performance.now();const v=h.readTargetBtf(${JSON.stringify(VMLINUX)},'vmlinux');const t1=performance.now();` +
    'for(const o of objs)h.relocateObject(o,[v]);console.log(JSON.stringify([t1-t0,performance.now()-t1]))';
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`CO-RE in a fresh process failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Best per-round time of relocating all objects again (JIT warm, a fresh candidate cache each time). */
function warm(objs, vmlinux, relocateObject) {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) for (const o of objs) relocateObject(o, [vmlinux]);
    best = Math.min(best, since(t0) / 20);
  }
  return best;
}

export const sections = [
  {
    name: 'core',
    needs: ['out', 'fixtures', 'root', 'bpffs'],
    goal: `CO-RE cold in a fresh process with nothing cached (vmlinux BTF read and parsed, index, candidates, every relocation; no BTF index file, no code cache) ≤ ${GOAL} × bpftool prog loadall of the same objects (libbpf's whole load, its CO-RE included), its share of the 'cold' budget; warm for reference`,
    run() {
      const { readCoreObject, readTargetBtf, relocateObject } = testModule('core-helpers');
      // bpftool's libbpf may refuse what ours relocates (libbpf 1.1 has no typedef-rooted
      // relocations, core_local.o has one): the goal compares the objects both handle.
      const refused = FILES.filter((f) => {
        try {
          loadall([f]);
          return false;
        } catch {
          return true;
        }
      });
      const both = FILES.filter((f) => !refused.includes(f));
      if (!both.length) throw new Error(`bpftool prog loadall refused every fixture (${FILES.map((f) => path.basename(f)).join(', ')})`);
      const parse = [];
      const relocate = [];
      const [ours, tool] = race([
        () => {
          const [p, r] = coldChild(both);
          parse.push(p);
          relocate.push(r);
          return p + r;
        },
        () => loadall(both),
      ]);
      const vmlinux = readTargetBtf(VMLINUX, 'vmlinux');
      const objs = FILES.map((f) => readCoreObject(f));
      const records = objs.reduce((n, o) => n + o.ext.coreRelos.reduce((m, s) => m + s.records.length, 0), 0);
      const warmMs = warm(objs, vmlinux, relocateObject);
      const ratio = ours / tool;
      const names = both.map((f) => path.basename(f)).join(', ');
      return [
        `medians of ${RUNS}, alternating; ${names}${refused.length ? ` (bpftool refused ${refused.map((f) => path.basename(f)).join(', ')})` : ''}`,
        `ours cold: ${fmtMs(ours)} = vmlinux BTF read + parse ${fmtMs(median(parse))} + relocation ${fmtMs(median(relocate))} (${vmlinux.btf.count} types)`,
        `bpftool prog loadall (incl. verify + load): ${fmtMs(tool)}`,
        `ratio ${ratio.toFixed(2)} (goal ≤ ${GOAL}) ${verdict(ratio, GOAL)}`,
        `warm, all ${objs.length} objects, ${records} relocations (fresh candidate cache): ${warmMs.toFixed(2)} ms (${((warmMs * 1000) / records).toFixed(1)} µs/relocation)`,
      ];
    },
  },
];
