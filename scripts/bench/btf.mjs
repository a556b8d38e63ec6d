// BTF: `btf dump` of vmlinux against bpftool, and the in-process parse + name index.
import { readFileSync } from 'node:fs';
import { CLI, VMLINUX, RUNS, engine, fmtMs, race, verdict } from './lib.mjs';

// `json` is the same dump in another format: the same bound (issue 20: btf dump of vmlinux ≤ 1.5 × bpftool).
function dumpSection(name, format, goal) {
  const json = format === 'json';
  const tool = `bpftool${json ? ' -j' : ''} btf dump file vmlinux`;
  return {
    name,
    needs: ['dist', 'bpftool'],
    goal: `bpf-lens btf dump vmlinux --format ${format} ≤ ${goal} × ${tool} (wall, node start-up included)`,
    run() {
      const [ours, bpftool, node] = race([
        [process.execPath, [CLI, 'btf', 'dump', VMLINUX, '--format', format]],
        ['bpftool', [...(json ? ['-j'] : []), 'btf', 'dump', 'file', VMLINUX]],
        [process.execPath, ['-e', '0']],
      ]);
      const ratio = ours / bpftool;
      return [
        `bpf-lens btf dump ${VMLINUX} --format ${format}: ${fmtMs(ours)} (median of ${RUNS}; bare node start-up ${fmtMs(node)})`,
        `${tool}: ${fmtMs(bpftool)} (median of ${RUNS})`,
        `ratio ${ratio.toFixed(2)} (goal ≤ ${goal}) ${verdict(ratio, goal)}`,
      ];
    },
  };
}

const parse = {
  name: 'parse',
  needs: ['out'],
  goal: 'parse + name index of vmlinux BTF ≤ 150 ms in-process (first run, cold JIT); heap ≤ 100 MB',
  run() {
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
      `parse ${fmtMs(t1 - t0)}, name index ${fmtMs(t2 - t1)}, together ${fmtMs(total)} (goal ≤ 150 ms) ${verdict(total, 150)}`,
      `heap used ${(heap / 1e6).toFixed(1)} MB with the parsed and indexed BTF (${((heap - heap0) / 1e6).toFixed(1)} MB for it; goal ≤ 100 MB) ${verdict(heap, 100e6)}`,
      `1000 lookups by name ${fmtMs(t4 - t3)}`,
    ];
  },
};

export const sections = [dumpSection('dump', 'raw', 1.5), dumpSection('dump-json', 'json', 1.5), parse];
