// Cold start: what a `bpf-lens` process costs above node's own start-up, against the whole
// run of the bpftool command that does the same job (libbpf-tools-sized CO-RE objects).
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CLI, EXAMPLES, FIXTURES, RUNS, fmtMs, geomean, race, table, verdict, wall } from './lib.mjs';

const GOAL = 1.3;
const OBJECTS = [path.join(EXAMPLES, 'exec_tracer.bpf.o'), path.join(FIXTURES, 'core_tracer.o'), path.join(FIXTURES, 'core_flavors.o')];

/** bpftool prog loadall into a fresh bpffs directory, removed after (not timed). */
function loadall(obj) {
  const dir = `/sys/fs/bpf/bench_cold_${process.pid}`;
  mkdirSync(dir, { recursive: true });
  try {
    return wall('bpftool', ['prog', 'loadall', obj, dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** [label, our command, the reference (a command or a timing function), what the reference is]. */
function cases() {
  const rows = [];
  for (const obj of OBJECTS) {
    const name = path.basename(obj);
    rows.push([`load ${name}`, ['load', obj], () => loadall(obj), 'bpftool prog loadall']);
    rows.push([`inspect ${name}`, ['inspect', obj], ['bpftool', ['gen', 'skeleton', obj]], 'bpftool gen skeleton (libbpf open)']);
    rows.push([`btf dump ${name}`, ['btf', 'dump', obj], ['bpftool', ['btf', 'dump', 'file', obj]], 'bpftool btf dump file']);
  }
  rows.push(['probe', ['probe'], ['bpftool', ['feature', 'probe', 'kernel']], 'bpftool feature probe kernel (probes more)']);
  return rows;
}

export const sections = [
  {
    name: 'cold',
    needs: ['dist', 'fixtures', 'examples', 'root', 'bpffs'],
    goal: `(bpf-lens process − node -e 0) ≤ ${GOAL} × the bpftool command's whole run, medians of one run`,
    run() {
      const rows = [];
      const ratios = [];
      for (const [label, args, ref, refName] of cases()) {
        const [ours, node, tool] = race([[process.execPath, [CLI, ...args]], [process.execPath, ['-e', '0']], ref]);
        const ratio = Math.max(ours - node, 0) / tool;
        ratios.push(ratio);
        rows.push([label, fmtMs(ours), fmtMs(node), fmtMs(ours - node), fmtMs(tool), ratio.toFixed(2), verdict(ratio, GOAL), refName]);
      }
      const g = geomean(ratios);
      return [
        `medians of ${RUNS}, commands alternating`,
        ...table(['command', 'bpf-lens', 'node -e 0', 'ours', 'bpftool', 'ratio', 'goal', 'reference'], rows),
        `geometric mean of the ratios ${g.toFixed(2)} (goal ≤ ${GOAL}) ${verdict(g, GOAL)}; every command ${ratios.every((r) => r <= GOAL) ? 'MET' : 'not all met'}`,
      ];
    },
  },
];
