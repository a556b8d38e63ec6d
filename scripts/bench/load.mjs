// Load speed against libbpf (bpftool prog loadall) on three real CO-RE objects: the CLI as a
// process with its per-stage breakdown (BPF_LENS_TIMING=1), and the pipeline alone in a fresh
// process (cold) and warm (kernel BTF already parsed, as in the language server or the agent).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CLI, EXAMPLES, FIXTURES, ROOT, RUNS, engine, geomean, median, rounds, since, table, verdict } from './lib.mjs';

const OBJECTS = [path.join(EXAMPLES, 'exec_tracer.bpf.o'), path.join(FIXTURES, 'core_tracer.o'), path.join(FIXTURES, 'core_flavors.o')];
const WARM_GOAL = 0.5;
const COLD_GOAL = 1.3;
const STAGES = ['startup', 'open', 'modules', 'probe', 'core', 'btf', 'maps', 'programs', 'pin', 'cleanup'];
const pinDir = `/sys/fs/bpf/bench_load_${process.pid}`;

/**
 * `bpf-lens load`, `node -e 0` (node's own start, which no pipeline work removes) and `bpftool
 * prog loadall`, each once per round in a random order (rounds() in lib.mjs).
 */
function processes(file) {
  const stages = {};
  const lens = () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [CLI, 'load', file], { encoding: 'utf8', env: { ...process.env, BPF_LENS_TIMING: '1' } });
    const ms = since(t0);
    if (r.status !== 0) throw new Error(`bpf-lens load ${file}: ${r.stderr}`);
    const m = /bpf-lens timing: (\{.*\})/.exec(r.stderr);
    for (const [k, v] of Object.entries(m ? JSON.parse(m[1]) : {})) (stages[k] ??= []).push(v);
    return ms;
  };
  const node = () => {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    return since(t0);
  };
  const tool = () => {
    mkdirSync(pinDir, { recursive: true });
    const t0 = process.hrtime.bigint();
    const b = spawnSync('bpftool', ['prog', 'loadall', file, pinDir], { encoding: 'utf8' });
    const ms = since(t0);
    rmSync(pinDir, { recursive: true, force: true });
    if (b.status !== 0) throw new Error(`bpftool prog loadall ${file}: ${b.stderr}`);
    return ms;
  };
  const [lensMs, nodeMs, toolMs] = rounds([lens, node, tool]);
  return {
    lens: median(lensMs),
    node: median(nodeMs),
    tool: median(toolMs),
    stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)])),
  };
}

/** loadObject alone in a fresh process: vmlinux parsed and indexed, probes run. */
function coldPipeline(file) {
  const out = (m) => JSON.stringify(path.join(ROOT, 'out/server/src', m));
  const code =
    `const o=require(${out('object/index.js')}),l=require(${out('load/index.js')}),k=require(${out('kernel/index.js')});` +
    `const ob=o.openObject(new Uint8Array(require('fs').readFileSync(${JSON.stringify(file)})),'x');` +
    'const t=process.hrtime.bigint();l.loadObject(ob,{kernel:k.localKernel}).close();console.log(Number(process.hrtime.bigint()-t)/1e6)';
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    times.push(Number(r.stdout));
  }
  return median(times);
}

function warmPipeline(file) {
  const { openObject } = engine('object/index.js');
  const { loadObject } = engine('load/index.js');
  const { localKernel } = engine('kernel/index.js');
  const obj = openObject(new Uint8Array(readFileSync(file)), file);
  const times = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = process.hrtime.bigint();
    loadObject(obj, { kernel: localKernel }).close();
    if (i > 0) times.push(since(t0));
  }
  return median(times);
}

export const sections = [
  {
    name: 'load',
    needs: ['out', 'dist', 'fixtures', 'examples', 'root', 'bpffs'],
    goal: `the pipeline warm (in-process, as the editor and the agent run it) ≤ ${WARM_GOAL} × bpftool prog loadall; the CLI process above node's own start ≤ ${COLD_GOAL} × bpftool (as 'cold')`,
    run() {
      const rows = [];
      const stageRows = [];
      const warm = [];
      const cold = [];
      for (const file of OBJECTS) {
        const name = path.basename(file);
        const p = processes(file);
        const pipeline = coldPipeline(file);
        const w = warmPipeline(file);
        warm.push(w / p.tool);
        const above = Math.max(p.lens - p.node, 0);
        cold.push(above / p.tool);
        rows.push([
          name,
          p.lens.toFixed(1),
          p.node.toFixed(1),
          above.toFixed(1),
          p.tool.toFixed(1),
          (above / p.tool).toFixed(2),
          pipeline.toFixed(1),
          w.toFixed(1),
          (w / p.tool).toFixed(2),
        ]);
        const sum = STAGES.reduce((a, k) => a + (p.stages[k] ?? 0), 0);
        stageRows.push([name, ...STAGES.map((k) => (p.stages[k] ?? 0).toFixed(1)), (p.lens - sum).toFixed(1)]);
      }
      const g = geomean(warm);
      return [
        `medians of ${RUNS} (ms); bpf-lens load, node -e 0 and bpftool in a random order each round`,
        ...table(
          ['object', 'bpf-lens', 'node -e 0', 'above node', 'bpftool', 'above/bpftool', 'pipeline cold', 'warm', 'warm/bpftool'],
          rows,
        ),
        `warm/bpftool geometric mean ${g.toFixed(2)} (goal ≤ ${WARM_GOAL}) ${verdict(g, WARM_GOAL)}`,
        `(bpf-lens load − node -e 0)/bpftool geometric mean ${geomean(cold).toFixed(2)} (goal ≤ ${COLD_GOAL}) ${verdict(geomean(cold), COLD_GOAL)}`,
        'bpf-lens load per stage (startup = process start to command run; modules = target, kernel and load modules;',
        'open = the object parsed; probe = the object checked against the kernel (koffi loads at this first call);',
        'core = CO-RE incl. opening the kernel BTF and its index; btf = BTF kind probes (kept for the boot) and BTF_LOAD;',
        'programs = BPF_PROG_LOAD; exit = wall − the rest)',
        ...table(['object', ...STAGES, 'exit'], stageRows),
      ];
    },
  },
];
