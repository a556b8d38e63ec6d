#!/usr/bin/env node
// Split BTF speed and real-world outcome: every Debian 6.1 module is distilled on 6.1's
// vmlinux BTF, diffed against a target vmlinux BTF (default: this machine's) and, where it
// maps, relocated onto it; one target index is shared by all modules. Prints the total
// and per-module times, how many modules relocate, and the commonest reasons they do not.
// For scale: libbpf 1.1 has no distill/relocate, so the reference is `bpftool btf dump`
// of the module on its own vmlinux (parse + print) on a sample, per module.
// Usage: node scripts/bench-split-btf.mjs [TARGET_BTF...]   (needs `npx tsc -p .` first;
// downloads the Debian 6.1 kernel package into the cache on first use, ~70 MB)
import { execFileSync, spawnSync } from 'child_process';
import { readFileSync, readdirSync } from 'fs';
import { createRequire } from 'module';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const out = (p) => require(path.join(root, 'out/server/src', p));
const { parseBtf } = out('btf/btf.js');
const { ElfFile } = out('elf/reader.js');
const { distillBase } = out('btf/distill.js');
const { TargetIndex, relocateSplit } = out('btf/relocate.js');
const { baseDiff } = out('btf/base-diff.js');
const { readModuleBtf } = out('btf/module-btf.js');

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const dir = execFileSync('bash', [path.join(root, 'scripts/debian-kernel.sh'), '6.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const findKos = (d, acc = []) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) findKos(p, acc);
    else if (e.name.endsWith('.ko')) acc.push(p);
  }
  return acc;
};
const modules = findKos(path.join(dir, 'modules')).sort();
const origFile = path.join(dir, 'vmlinux.btf');
const targets = process.argv.slice(2).length ? process.argv.slice(2) : ['/sys/kernel/btf/vmlinux'];

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

for (const targetFile of targets) {
  const t0 = process.hrtime.bigint();
  const orig = parseBtf(readFileSync(origFile), { file: origFile });
  const index = new TargetIndex(parseBtf(readFileSync(targetFile), { file: targetFile }));
  const setupMs = ms(t0);
  const per = [];
  const reasons = new Map();
  let relocated = 0, types = 0, rows = 0;
  for (const ko of modules) {
    const t = process.hrtime.bigint();
    const { split } = readModuleBtf(new ElfFile(readFileSync(ko), ko), orig);
    const d = distillBase(split);
    const diff = baseDiff(d.split, index);
    if (diff.relocates) {
      relocateSplit(d.split, index, diff.mapping);
      relocated++;
    }
    per.push(ms(t));
    types += split.count;
    rows += diff.rows.length;
    const seen = new Set();
    for (const r of diff.rows) {
      if (r.status === 'match' || r.status === 'size-not-checked') continue;
      const key = `${r.status} ${r.kind} ${r.name}`;
      if (!seen.has(key)) reasons.set(key, (reasons.get(key) ?? 0) + 1);
      seen.add(key);
    }
  }
  const totalMs = ms(t0);
  const sorted = per.slice().sort((a, b) => a - b);
  console.log(`split BTF: ${modules.length} Debian 6.1 modules (${types} types, ${rows} distilled base types) → ${targetFile}`);
  console.log(`  total ${(totalMs / 1000).toFixed(2)} s (setup: parse 6.1 vmlinux + target index ${setupMs.toFixed(0)} ms)`);
  const slowest = per.indexOf(sorted[sorted.length - 1]);
  console.log(`  per module: p50 ${pct(sorted, 50).toFixed(2)} ms, p95 ${pct(sorted, 95).toFixed(2)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms (${path.basename(modules[slowest])}, module ${slowest + 1})`);
  console.log(`  relocate: ${relocated}, do not: ${modules.length - relocated}`);
  console.log('  commonest reasons (modules):');
  for (const [k, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`    ${String(n).padStart(5)}  ${k}`);

  // reference, on every 40th module: libbpf parsing and printing the module's BTF
  if (spawnSync('sh', ['-c', 'command -v bpftool']).status === 0) {
    const sample = modules.filter((_, i) => i % 40 === 0);
    let libbpfMs = 0, oursMs = 0;
    for (const ko of sample) {
      const t = process.hrtime.bigint();
      spawnSync('bpftool', ['btf', 'dump', 'file', ko, '--base-btf', origFile], { stdio: 'ignore' });
      libbpfMs += ms(t);
      oursMs += per[modules.indexOf(ko)];
    }
    console.log(`  reference: bpftool btf dump of the module (libbpf 1.1, process incl.) ${(libbpfMs / sample.length).toFixed(2)} ms/module`
      + ` vs our distill+diff+relocate ${(oursMs / sample.length).toFixed(2)} ms/module on the same ${sample.length} → ratio ${(libbpfMs / oursMs).toFixed(1)}x`);
  }
}
