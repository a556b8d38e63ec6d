#!/usr/bin/env node
// BPF Lens benchmarks: each section measures one thing against its reference (measured
// in the same run) and prints its numbers and goals. Not a test: nothing here fails CI.
//   npm run bench                 every section
//   npm run bench -- dump parse   only the named sections
// To add a section, append { name, goal, run } to SECTIONS; run() returns lines to print.
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const VMLINUX = process.env.BENCH_VMLINUX ?? '/sys/kernel/btf/vmlinux';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

/** Compiled sources: out/ (npx tsc -p .) — the bench imports engine modules from there. */
function engine(mod) {
  const p = path.join(ROOT, 'out', 'server', 'src', mod);
  if (!existsSync(`${p}.js`)) throw new Error(`${p}.js is missing: run 'npx tsc -p .' first`);
  return require(p);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(1)} ms`;

/** Wall time of one run of a command with stdout to /dev/null. */
function wall(cmd, args) {
  const devnull = openSync('/dev/null', 'w');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', devnull, 'pipe'] });
    const t1 = process.hrtime.bigint();
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    return Number(t1 - t0) / 1e6;
  } finally {
    closeSync(devnull);
  }
}

/** Median of RUNS wall times of each command, run alternately so load hits both alike. */
function race(cmds) {
  const times = cmds.map(() => []);
  for (let i = 0; i < RUNS; i++) cmds.forEach(([c, a], k) => times[k].push(wall(c, a)));
  return times.map(median);
}

/** A section racing `bpf-lens btf dump` against `bpftool [-j] btf dump file` on vmlinux. */
function dumpSection(name, format, goal) {
  const json = format === 'json';
  return {
    name,
    goal: goal
      ? `bpf-lens btf dump vmlinux --format ${format} ≤ ${goal} × bpftool${json ? ' -j' : ''} btf dump file vmlinux (wall, node start-up included)`
      : `bpf-lens btf dump vmlinux --format ${format} vs bpftool${json ? ' -j' : ''} btf dump file vmlinux (no goal set; for reference)`,
    run() {
      const cli = path.join(ROOT, 'bin', 'bpf-lens.js');
      const [ours, bpftool, node] = race([
        [process.execPath, [cli, 'btf', 'dump', VMLINUX, '--format', format]],
        ['bpftool', [...(json ? ['-j'] : []), 'btf', 'dump', 'file', VMLINUX]],
        [process.execPath, ['-e', '0']],
      ]);
      const ratio = ours / bpftool;
      return [
        `bpf-lens btf dump ${VMLINUX} --format ${format}: ${ms(ours)} (median of ${RUNS}; bare node start-up ${ms(node)})`,
        `bpftool${json ? ' -j' : ''} btf dump file ${VMLINUX}: ${ms(bpftool)} (median of ${RUNS})`,
        goal ? `ratio ${ratio.toFixed(2)} (goal ≤ ${goal}) ${ratio <= goal ? 'MET' : 'MISSED'}` : `ratio ${ratio.toFixed(2)}`,
      ];
    },
  };
}

const SECTIONS = [
  dumpSection('dump', 'raw', 1.5),
  dumpSection('dump-json', 'json'),
  {
    name: 'parse',
    goal: 'parse + name index of vmlinux BTF ≤ 150 ms in-process (first run, cold JIT); heap ≤ 100 MB',
    run() {
      const { readFileSync } = require('node:fs');
      const { parseBtf } = engine('btf/btf');
      const bytes = readFileSync(VMLINUX);
      global.gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      const t0 = performance.now();
      const btf = parseBtf(bytes, { file: VMLINUX });
      const t1 = performance.now();
      btf.index();
      const t2 = performance.now();
      global.gc?.();
      const heap = process.memoryUsage().heapUsed;
      const total = t2 - t0;
      const lookups = ['task_struct', 'sk_buff', 'bpf_prog', 'file', 'nonexistent_type_name'];
      const t3 = performance.now();
      for (let i = 0; i < 1000; i++) btf.byName(lookups[i % lookups.length]);
      const t4 = performance.now();
      return [
        `${btf.count} types, ${(bytes.length / 1e6).toFixed(1)} MB`,
        `parse ${ms(t1 - t0)}, name index ${ms(t2 - t1)}, together ${ms(total)} (goal ≤ 150 ms) ${total <= 150 ? 'MET' : 'MISSED'}`,
        `heap used ${(heap / 1e6).toFixed(1)} MB with the parsed and indexed BTF (${((heap - heap0) / 1e6).toFixed(1)} MB for it; goal ≤ 100 MB) ${heap <= 100e6 ? 'MET' : 'MISSED'}`,
        `1000 lookups by name ${ms(t4 - t3)}`,
      ];
    },
  },
];

const only = process.argv.slice(2);
for (const s of SECTIONS) {
  if (only.length && !only.includes(s.name)) continue;
  console.log(`== ${s.name}: ${s.goal}`);
  try {
    for (const line of s.run()) console.log(`   ${line}`);
  } catch (e) {
    console.log(`   failed: ${e.message}`);
  }
}
