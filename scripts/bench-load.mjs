#!/usr/bin/env node
// Load speed against libbpf (bpftool prog loadall), in the same run, on three real CO-RE objects:
// examples/exec_tracer and the fixtures core_tracer and core_flavors. For each: the median of 5
// wall times of `bpf-lens load OBJ` and of `bpftool prog loadall OBJ DIR` (one process each, both
// releasing everything at exit), their ratio, loadObject alone (cold: in a fresh process; warm: the
// kernel BTF already parsed, as in the language server or agent), and separately
// the CO-RE relocation time against this kernel's vmlinux BTF (vmlinux parse + candidate search +
// patching, cold then warm). Needs root, `npx tsc -p .`, `make -C examples`, `make -C test/fixtures`.
import { spawnSync } from 'child_process';
import { mkdirSync, readFileSync, rmSync } from 'fs';
import { createRequire } from 'module';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { openObject } = require(path.join(root, 'out/server/src/object/index.js'));
const { loadObject } = require(path.join(root, 'out/server/src/load/index.js'));
const kernel = require(path.join(root, 'out/server/src/kernel/index.js'));
const { relocateCore, CandidateCache } = require(path.join(root, 'out/server/src/core/index.js'));
const { parseBtf } = require(path.join(root, 'out/server/src/btf/btf.js'));

const RUNS = 5;
const OBJECTS = [
  path.join(root, 'examples/build/exec_tracer.bpf.o'),
  path.join(root, 'build/fixtures/core_tracer.o'),
  path.join(root, 'build/fixtures/core_flavors.o'),
];
const pinDir = `/sys/fs/bpf/bench_load_${process.pid}`;

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(cmd, args, after) {
  const out = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    out.push(ms(t0));
    after?.();
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  }
  return median(out);
}

function coreOnly(obj) {
  // what CO-RE costs alone: parse vmlinux BTF, find candidates, patch every section's records
  const t0 = process.hrtime.bigint();
  const vmlinux = parseBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')), { file: 'vmlinux' });
  const parsed = ms(t0);
  const run = () => {
    const cache = new CandidateCache(obj.btf, [{ name: 'vmlinux', btf: vmlinux }]);
    let n = 0;
    for (const sec of obj.ext.coreRelos) {
      const elfSec = obj.elf.sections.find((s) => s.name === sec.section);
      const r = relocateCore({ localBtf: obj.btf, relos: sec.records, insns: Uint8Array.from(elfSec.data), targets: [{ name: 'vmlinux', btf: vmlinux }], cache });
      n += r.reports.length;
    }
    return n;
  };
  const t1 = process.hrtime.bigint();
  const relos = run();
  const cold = ms(t1);
  const warm = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    run();
    warm.push(ms(t));
  }
  return { relos, parseMs: parsed, coldMs: cold, warmMs: median(warm) };
}

// `bpf-lens load` (BPF_LENS_TIMING=1: the CLI's own ms per stage) and `bpftool prog loadall`,
// alternating run by run so both see the same machine (other work on 2 cores skews blocks of runs)
function pairTimed(file) {
  const lens = [];
  const tool = [];
  const stages = {};
  for (let i = 0; i < RUNS; i++) {
    let t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [path.join(root, 'bin/bpf-lens.js'), 'load', file], { encoding: 'utf8', env: { ...process.env, BPF_LENS_TIMING: '1' } });
    lens.push(ms(t0));
    if (r.status !== 0) throw new Error(`bpf-lens load ${file}: ${r.stderr}`);
    const m = /bpf-lens timing: (\{.*\})/.exec(r.stderr);
    for (const [k, v] of Object.entries(JSON.parse(m[1]))) (stages[k] ??= []).push(v);
    mkdirSync(pinDir, { recursive: true });
    t0 = process.hrtime.bigint();
    const b = spawnSync('bpftool', ['prog', 'loadall', file, pinDir], { encoding: 'utf8' });
    tool.push(ms(t0));
    rmSync(pinDir, { recursive: true, force: true });
    if (b.status !== 0) throw new Error(`bpftool prog loadall ${file}: ${b.stderr}`);
  }
  const breakdown = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)]));
  return { lens: median(lens), tool: median(tool), breakdown };
}

const rows = [];
const breakdowns = [];
for (const file of OBJECTS) {
  const name = path.basename(file);
  const { lens, tool, breakdown } = pairTimed(file);
  breakdowns.push({ name, breakdown });
  // the pipeline alone, cold (a fresh process: vmlinux parsed and indexed, probes run) and warm
  const cold = [];
  for (let i = 0; i < RUNS; i++) {
    const code = `const o=require(${JSON.stringify(path.join(root, 'out/server/src/object/index.js'))});`
      + `const l=require(${JSON.stringify(path.join(root, 'out/server/src/load/index.js'))});`
      + `const k=require(${JSON.stringify(path.join(root, 'out/server/src/kernel/index.js'))});`
      + `const ob=o.openObject(new Uint8Array(require('fs').readFileSync(${JSON.stringify(file)})),'x');`
      + 'const t=process.hrtime.bigint();l.loadObject(ob,{kernel:k.localKernel}).close();'
      + 'console.log(Number(process.hrtime.bigint()-t)/1e6)';
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    cold.push(Number(r.stdout));
  }
  const obj = openObject(new Uint8Array(readFileSync(file)), file);
  const inproc = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const t0 = process.hrtime.bigint();
    loadObject(obj, { kernel: kernel.localKernel }).close();
    if (i > 0) inproc.push(ms(t0));
  }
  const core = coreOnly(openObject(new Uint8Array(readFileSync(file)), file));
  rows.push({ name, lens, tool, ratio: lens / tool, cold: median(cold), inproc: median(inproc), ...core });
}
rmSync(pinDir, { recursive: true, force: true });

const f = (x) => x.toFixed(1).padStart(7);
console.log(`load: median of ${RUNS}, wall ms per process (bpf-lens load vs bpftool prog loadall), same run, runs alternating`);
console.log('object               bpf-lens  bpftool   ratio | loadObject cold   warm  warm/bpftool | CO-RE: relos  vmlinux parse  relocate cold  warm');
for (const r of rows) {
  console.log(`${r.name.padEnd(20)} ${f(r.lens)}  ${f(r.tool)}  ${r.ratio.toFixed(2).padStart(6)} |      ${f(r.cold)} ${f(r.inproc)}  ${(r.inproc / r.tool).toFixed(2).padStart(12)} | ${String(r.relos).padStart(11)}  ${f(r.parseMs)}       ${f(r.coldMs)}  ${f(r.warmMs)}`);
}
console.log('\nbpf-lens load per stage (ms, median of 5; startup = process start to command run: node + bundle; modules = kernel/load modules + koffi;');
console.log('core = CO-RE incl. reading, parsing and indexing vmlinux BTF; programs = BPF_PROG_LOAD, i.e. the verifier; exit = wall - the rest)');
const keys = ['startup', 'open', 'modules', 'probe', 'core', 'btf', 'maps', 'programs', 'pin', 'cleanup'];
console.log(`${'object'.padEnd(20)} ${keys.map((k) => k.padStart(8)).join(' ')}     exit`);
breakdowns.forEach(({ name, breakdown }, i) => {
  const sum = keys.reduce((a, k) => a + (breakdown[k] ?? 0), 0);
  console.log(`${name.padEnd(20)} ${keys.map((k) => (breakdown[k] ?? 0).toFixed(1).padStart(8)).join(' ')} ${(rows[i].lens - sum).toFixed(1).padStart(8)}`);
});
const nodeStart = timed(process.execPath, ['-e', '0']);
console.log(`(node -e 0 alone: ${nodeStart.toFixed(1)} ms; the CLI also loads its modules and koffi, and parses vmlinux BTF once per process)`);
const geo = Math.exp(rows.reduce((a, r) => a + Math.log(r.ratio), 0) / rows.length);
console.log(`geometric mean ratio bpf-lens/bpftool: ${geo.toFixed(2)} (goal <= 1.3)`);
