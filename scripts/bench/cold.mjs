// Cold start: what a `bpf-lens` process costs above node's own start-up, against the whole
// run of the bpftool command that does the same job (libbpf-tools-sized CO-RE objects).
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CLI, EXAMPLES, FIXTURES, RUNS, fmtMs, geomean, median, rounds, table, verdict, wall } from './lib.mjs';

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

/**
 * One row's judgement. `above` (ours − node -e 0) at or below zero is noise, not a ratio of 0:
 * the machine made node's own start slower than our whole run, so this run cannot tell.
 */
function judge(above, tool) {
  if (above <= 0) return { ratio: undefined, shown: `n/a (ours ≤ node -e 0: noise)`, verdict: 'UNDECIDED' };
  const ratio = above / tool;
  return { ratio, shown: ratio.toFixed(2), verdict: verdict(ratio, GOAL) };
}

/** The section's verdict: MET only when every command met its goal. */
function overall(verdicts) {
  const missed = verdicts.filter((v) => v === 'MISSED').length;
  const undecided = verdicts.filter((v) => v === 'UNDECIDED').length;
  if (!missed && !undecided) return `every command MET (${verdicts.length} of ${verdicts.length})`;
  const why = [missed && `${missed} MISSED`, undecided && `${undecided} UNDECIDED (noise: run again)`].filter(Boolean).join(', ');
  return `not every command met: ${why} of ${verdicts.length}`;
}

export const sections = [
  {
    name: 'cold',
    needs: ['dist', 'fixtures', 'examples', 'root', 'bpffs'],
    goal: `(bpf-lens process − node -e 0) ≤ ${GOAL} × the bpftool command's whole run, each command, medians of one run`,
    run() {
      const rows = [];
      const judged = [];
      for (const [label, args, ref, refName] of cases()) {
        const [ours, node, tool] = rounds([[process.execPath, [CLI, ...args]], [process.execPath, ['-e', '0']], ref]);
        // Paired run by run (they ran back to back), so a slow moment weighs on both alike.
        const above = median(ours.map((t, i) => t - node[i]));
        const j = judge(above, median(tool));
        judged.push(j);
        rows.push([label, fmtMs(median(ours)), fmtMs(median(node)), fmtMs(above), fmtMs(median(tool)), j.shown, j.verdict, refName]);
      }
      const measured = judged.filter((j) => j.ratio !== undefined).map((j) => j.ratio);
      const left = judged.length - measured.length;
      return [
        `medians of ${RUNS}, commands in a random order each round; "above node" is the median of (bpf-lens − node -e 0) paired run by run`,
        ...table(['command', 'bpf-lens', 'node -e 0', 'above node', 'bpftool', 'ratio', 'goal', 'reference'], rows),
        `verdict (goal ≤ ${GOAL} for each command): ${overall(judged.map((j) => j.verdict))}`,
        measured.length
          ? `for information: geometric mean of the ratios ${geomean(measured).toFixed(2)}${left ? ` (${left} undecided row${left > 1 ? 's' : ''} left out)` : ''}`
          : 'for information: no ratio measured (every row undecided)',
      ];
    },
  },
];
