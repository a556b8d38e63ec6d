// Static linker speed against libbpf's (bpftool gen object): the fixtures that link together,
// and N generated CO-RE objects on this kernel's vmlinux.h (much repeated BTF to dedup).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, FIXTURES, RUNS, engine, fmtMs, race, since, verdict } from './lib.mjs';

const N = Number(process.env.BENCH_LINK_OBJECTS ?? 32);
const GOAL = 1.5;

/**
 * One link both ways, as `cold` judges a process: bpf-lens link minus node -e 0 (node's own start,
 * which no linker work removes) against bpftool gen object's whole run, medians of RUNS
 * alternating; the raw process ratio beside it. In-process: the first run in this process (cold
 * code: what the CLI process pays, ignition and GC included) and the best of five after (JIT warm).
 */
function compare(tmp, label, files) {
  const { linkObjects } = engine('link/linker.js');
  const { parseBtf } = engine('btf/btf.js');
  const { ElfFile } = engine('elf/reader.js');
  const types = (f) => parseBtf(new ElfFile(new Uint8Array(readFileSync(f)), f).section('.BTF').data).count;
  const read = (f) => ({ file: f, bytes: new Uint8Array(readFileSync(f)) });
  const ours = path.join(tmp, 'ours.o');
  const theirs = path.join(tmp, 'libbpf.o');
  const [cliMs, nodeMs, toolMs] = race([
    [process.execPath, [CLI, 'link', ...files, '-o', ours, '-q']],
    [process.execPath, ['-e', '0']],
    ['bpftool', ['gen', 'object', theirs, ...files]],
  ]);
  const inputs = files.map(read);
  const times = [];
  for (let i = 0; i < 6; i++) {
    const t0 = process.hrtime.bigint();
    linkObjects(inputs);
    times.push(since(t0));
  }
  const above = cliMs - nodeMs;
  const ratio = above / toolMs;
  return [
    `${label}: ${files.length} objects, ${files.reduce((n, f) => n + types(f), 0)} BTF types in; ${types(ours)} types out (bpftool ${types(theirs)})`,
    `  bpf-lens link ${fmtMs(cliMs)}, node -e 0 ${fmtMs(nodeMs)}, above node ${fmtMs(above)}; bpftool gen object ${fmtMs(toolMs)}; in-process first run ${fmtMs(times[0])}, warm ${fmtMs(Math.min(...times.slice(1)))}`,
    `  (bpf-lens link − node -e 0)/bpftool ${above > 0 ? ratio.toFixed(2) : 'n/a (ours ≤ node -e 0: noise)'} (goal ≤ ${GOAL}) ${above > 0 ? verdict(ratio, GOAL) : 'UNDECIDED'}; raw process/bpftool ${(cliMs / toolMs).toFixed(2)}`,
  ];
}

/** The fixtures that link with the ones picked before them (greedy), as both linkers agree. */
function linkableFixtures(tmp) {
  const { linkObjects } = engine('link/linker.js');
  const picked = [];
  for (const f of readdirSync(FIXTURES)
    .filter((n) => /^[a-z_]+\.o$/.test(n) && !/err|bad/.test(n))
    .sort()) {
    const trial = [...picked, path.join(FIXTURES, f)];
    try {
      linkObjects(trial.map((x) => ({ file: x, bytes: new Uint8Array(readFileSync(x)) })));
      if (spawnSync('bpftool', ['gen', 'object', path.join(tmp, 'probe.o'), ...trial]).status === 0) picked.push(trial.at(-1));
    } catch {
      // conflicts with one already picked
    }
  }
  return picked;
}

function generated(tmp) {
  const files = [];
  for (let i = 0; i < N; i++) {
    const src = path.join(tmp, `gen${i}.bpf.c`);
    writeFileSync(
      src,
      `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
char LICENSE[] SEC("license") = "GPL";
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 128); __type(key, u32); __type(value, struct file); } files${i} SEC(".maps");
u64 seen${i};
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch${i}, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	u32 pid = BPF_CORE_READ(next, pid);
	struct file *f = bpf_map_lookup_elem(&files${i}, &pid);
	seen${i} += BPF_CORE_READ(prev, mm, total_vm) + BPF_CORE_READ(next, real_parent, tgid) + (f ? BPF_CORE_READ(f, f_flags) : 0);
	return 0;
}
`,
    );
    const o = path.join(tmp, `gen${i}.o`);
    const r = spawnSync('clang', ['-target', 'bpf', '-g', '-O2', `-I${FIXTURES}`, '-c', src, '-o', o], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    files.push(o);
  }
  return files;
}

export const sections = [
  {
    name: 'link',
    needs: ['out', 'dist', 'fixtures'],
    goal: `(bpf-lens link process − node -e 0) ≤ ${GOAL} × bpftool gen object's whole run (as 'cold'), medians of ${RUNS}, on linkable fixtures and ${N} generated CO-RE objects; raw ratio and type counts of both`,
    run() {
      const tmp = mkdtempSync(path.join(tmpdir(), 'bench-link-'));
      try {
        return [...compare(tmp, 'fixtures', linkableFixtures(tmp)), ...compare(tmp, 'generated CO-RE objects', generated(tmp))];
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  },
];
