// Static linker speed against libbpf's (bpftool gen object): the fixtures that link together,
// and N generated CO-RE objects on this kernel's vmlinux.h (much repeated BTF to dedup).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, FIXTURES, engine, since, verdict } from './lib.mjs';

const N = Number(process.env.BENCH_LINK_OBJECTS ?? 32);
const GOAL = 1.5;

function best(cmd, args) {
  let b = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    b = Math.min(b, since(t0));
  }
  return b;
}

function compare(tmp, label, files) {
  const { linkObjects } = engine('link/linker.js');
  const { parseBtf } = engine('btf/btf.js');
  const { ElfFile } = engine('elf/reader.js');
  const types = (f) => parseBtf(new ElfFile(new Uint8Array(readFileSync(f)), f).section('.BTF').data).count;
  const read = (f) => ({ file: f, bytes: new Uint8Array(readFileSync(f)) });
  const ours = path.join(tmp, 'ours.o');
  const theirs = path.join(tmp, 'libbpf.o');
  const cliMs = best(process.execPath, [CLI, 'link', ...files, '-o', ours, '-q']);
  const toolMs = best('bpftool', ['gen', 'object', theirs, ...files]);
  const inputs = files.map(read);
  let inMs = Infinity;
  for (let i = 0; i < 6; i++) {
    const t0 = process.hrtime.bigint();
    linkObjects(inputs);
    if (i > 0) inMs = Math.min(inMs, since(t0));
  }
  const ratio = cliMs / toolMs;
  return [
    `${label}: ${files.length} objects, ${files.reduce((n, f) => n + types(f), 0)} BTF types in`,
    `  bpf-lens link (process) ${cliMs.toFixed(1)} ms → ${types(ours)} types; bpftool gen object ${toolMs.toFixed(1)} ms → ${types(theirs)} types; in-process ${inMs.toFixed(1)} ms`,
    `  ratio process/bpftool ${ratio.toFixed(2)} (goal ≤ ${GOAL}) ${verdict(ratio, GOAL)}`,
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
    goal: `bpf-lens link (process) ≤ ${GOAL} × bpftool gen object, on linkable fixtures and ${N} generated CO-RE objects; type counts of both`,
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
