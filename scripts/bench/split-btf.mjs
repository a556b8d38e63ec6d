// Split BTF at scale: every Debian 6.1 module distilled on 6.1's vmlinux BTF, diffed against
// a target vmlinux BTF (BENCH_SPLIT_TARGETS, default this machine's) and relocated where it
// maps; one target index shared by all. Reference: bpftool btf dump of a sample of modules.
// The Debian 6.1 kernel package is fetched into the cache on first use (~70 MB).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, engine, pct, since, verdict } from './lib.mjs';

const GOAL_S = 60;

function findKos(d, acc = []) {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) findKos(p, acc);
    else if (e.name.endsWith('.ko')) acc.push(p);
  }
  return acc;
}

function diffAll(modules, origFile, targetFile) {
  const { parseBtf } = engine('btf/btf.js');
  const { ElfFile } = engine('elf/reader.js');
  const { distillBase } = engine('btf/distill.js');
  const { TargetIndex, relocateSplit } = engine('btf/relocate.js');
  const { baseDiff } = engine('btf/base-diff.js');
  const { readModuleBtf } = engine('btf/module-btf.js');
  const t0 = process.hrtime.bigint();
  const orig = parseBtf(readFileSync(origFile), { file: origFile });
  const index = new TargetIndex(parseBtf(readFileSync(targetFile), { file: targetFile }));
  const per = [];
  const reasons = new Map();
  let relocated = 0;
  for (const ko of modules) {
    const t = process.hrtime.bigint();
    const { split } = readModuleBtf(new ElfFile(readFileSync(ko), ko), orig);
    const d = distillBase(split);
    const diff = baseDiff(d.split, index);
    if (diff.relocates) {
      relocateSplit(d.split, index, diff.mapping);
      relocated++;
    }
    per.push(since(t));
    const seen = new Set();
    for (const r of diff.rows) {
      if (r.status === 'match' || r.status === 'size-not-checked') continue;
      const key = `${r.status} ${r.kind} ${r.name}`;
      if (!seen.has(key)) reasons.set(key, (reasons.get(key) ?? 0) + 1);
      seen.add(key);
    }
  }
  return { totalMs: since(t0), per, relocated, reasons };
}

export const sections = [
  {
    name: 'split-btf',
    needs: ['out', 'bpftool'],
    goal: `distill + base-diff (+ relocate where it maps) of every Debian 6.1 module against a vmlinux ≤ ${GOAL_S} s`,
    run() {
      const dir = execFileSync('bash', [path.join(ROOT, 'scripts/debian-kernel.sh'), '6.1'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }).trim();
      const modules = findKos(path.join(dir, 'modules')).sort();
      const origFile = path.join(dir, 'vmlinux.btf');
      const targets = (process.env.BENCH_SPLIT_TARGETS ?? '/sys/kernel/btf/vmlinux').split(',');
      const lines = [];
      for (const target of targets) {
        const r = diffAll(modules, origFile, target);
        const s = r.totalMs / 1000;
        lines.push(`${modules.length} modules → ${target}: ${s.toFixed(2)} s (goal ≤ ${GOAL_S} s) ${verdict(s, GOAL_S)}`);
        lines.push(
          `per module p50 ${pct(r.per, 50).toFixed(2)} ms, p95 ${pct(r.per, 95).toFixed(2)} ms; relocate ${r.relocated}, do not ${modules.length - r.relocated}`,
        );
        for (const [k, n] of [...r.reasons].sort((a, b) => b[1] - a[1]).slice(0, 8)) lines.push(`  ${String(n).padStart(5)}  ${k}`);
        const sample = modules.filter((_, i) => i % 40 === 0);
        let tool = 0;
        let ours = 0;
        for (const ko of sample) {
          const t = process.hrtime.bigint();
          spawnSync('bpftool', ['btf', 'dump', 'file', ko, '--base-btf', origFile], { stdio: 'ignore' });
          tool += since(t);
          ours += r.per[modules.indexOf(ko)];
        }
        lines.push(
          `reference: bpftool btf dump of a module (libbpf, process) ${(tool / sample.length).toFixed(2)} ms vs our distill+diff+relocate ${(ours / sample.length).toFixed(2)} ms per module (${sample.length} sampled)`,
        );
      }
      return lines;
    },
  },
];
