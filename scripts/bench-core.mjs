#!/usr/bin/env node
// CO-RE engine speed: relocate every record of three real CO-RE objects (test fixtures)
// against this machine's vmlinux BTF. Prints the cold run (vmlinux parse excluded; candidate
// search and its name index included) and warm runs (fresh candidate cache each time, name
// index reused), and for scale the wall time of `bpftool prog loadall` on the same objects
// (libbpf 1.1: open + CO-RE + verification + load, so an upper bound, not a like-for-like).
// Needs `npx tsc -p .` and `make -C test/fixtures` first.
import { spawnSync } from 'child_process';
import { createRequire } from 'module';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { readCoreObject, readTargetBtf, relocateObject } = require(path.join(root, 'out/test/core-helpers.js'));

const objects = ['core_tracer.o', 'core_flavors.o', 'core_local.o'].map((n) => path.join(root, 'build/fixtures', n));
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

let t0 = process.hrtime.bigint();
const vmlinux = readTargetBtf('/sys/kernel/btf/vmlinux', 'vmlinux');
const parseMs = ms(t0);
const objs = objects.map((f) => readCoreObject(f));
const records = objs.reduce((n, o) => n + o.ext.coreRelos.reduce((m, s) => m + s.records.length, 0), 0);

t0 = process.hrtime.bigint();
for (const o of objs) relocateObject(o, [vmlinux]);
const coldMs = ms(t0);

// steady state: best of 5 rounds of 20 (the first rounds also pay for JIT compilation)
const runs = 20;
let warmMs = Infinity;
for (let round = 0; round < 5; round++) {
  t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) for (const o of objs) relocateObject(o, [vmlinux]);
  warmMs = Math.min(warmMs, ms(t0) / runs);
}

console.log(`CO-RE: ${records} relocations in ${objs.length} objects against vmlinux (${vmlinux.btf.count} types)`);
console.log(`  vmlinux BTF parse (lazy):            ${parseMs.toFixed(1)} ms`);
console.log(`  cold relocation (index + candidates): ${coldMs.toFixed(1)} ms`);
console.log(`  warm, all 3 objects (fresh cand. cache): ${warmMs.toFixed(2)} ms  (${(warmMs * 1000 / records).toFixed(1)} µs/relocation)`);

const bpffs = spawnSync('sh', ['-c', 'mount | grep -q " /sys/fs/bpf type bpf" || mount -t bpf bpf /sys/fs/bpf']);
if (bpffs.status === 0 && spawnSync('sh', ['-c', 'command -v bpftool']).status === 0) {
  let total = 0;
  for (const f of objects) {
    const pin = `/sys/fs/bpf/bpflens_bench_core_${process.pid}`;
    const t = process.hrtime.bigint();
    spawnSync('bpftool', ['prog', 'loadall', f, pin]);
    total += ms(t);
    spawnSync('rm', ['-rf', pin]);
  }
  console.log(`  bpftool prog loadall (libbpf 1.1, incl. verify+load): ${total.toFixed(1)} ms → ratio ${(total / (parseMs + coldMs)).toFixed(2)}x of our parse+cold`);
}
