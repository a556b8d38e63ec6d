#!/usr/bin/env node
// Static linker speed against libbpf's (bpftool gen object), in the same run:
//  1. every test fixture that links with the others (chosen greedily, in-process);
//  2. N generated CO-RE objects on the running kernel's vmlinux.h (much repeated BTF to dedup).
// Prints wall times of both CLIs (one process each, best of 3) and of the in-process link,
// with BTF type counts of both outputs. Needs `npx tsc -p .` and `make -C test/fixtures` first.
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'fs';
import { createRequire } from 'module';
import { tmpdir } from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { linkObjects } = require(path.join(root, 'out/server/src/link/linker.js'));
const { parseBtf } = require(path.join(root, 'out/server/src/btf/btf.js'));
const { ElfFile } = require(path.join(root, 'out/server/src/elf/reader.js'));
const fx = path.join(root, 'build/fixtures');
const tmp = mkdtempSync(path.join(tmpdir(), 'bench-link-'));
const N = Number(process.argv[2] ?? 32);

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const read = (f) => ({ file: f, bytes: new Uint8Array(readFileSync(f)) });
const types = (f) => parseBtf(new ElfFile(new Uint8Array(readFileSync(f)), f).section('.BTF').data).count;
function best(cmd, args) {
  let b = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    b = Math.min(b, ms(t0));
  }
  return b;
}

function compare(label, files) {
  const ours = path.join(tmp, 'ours.o');
  const theirs = path.join(tmp, 'libbpf.o');
  const cliMs = best(process.execPath, [path.join(root, 'bin/bpf-lens.js'), 'link', ...files, '-o', ours, '-q']);
  const toolMs = best('bpftool', ['gen', 'object', theirs, ...files]);
  const inputs = files.map(read);
  linkObjects(inputs);
  let inMs = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    linkObjects(inputs);
    inMs = Math.min(inMs, ms(t0));
  }
  const inTypes = files.reduce((n, f) => n + types(f), 0);
  console.log(`${label}: ${files.length} objects, ${inTypes} BTF types in`);
  console.log(`  bpf-lens link (process):  ${cliMs.toFixed(1)} ms   BTF ${types(ours)} types`);
  console.log(`  bpftool gen object:       ${toolMs.toFixed(1)} ms   BTF ${types(theirs)} types`);
  console.log(`  bpf-lens in-process:      ${inMs.toFixed(1)} ms   ratio process/bpftool ${(cliMs / toolMs).toFixed(2)}`);
}

// 1. fixtures that link together
const picked = [];
for (const f of readdirSync(fx).filter((n) => /^[a-z_]+\.o$/.test(n) && !/err|bad/.test(n)).sort()) {
  const trial = [...picked, path.join(fx, f)];
  try {
    linkObjects(trial.map(read));
    if (spawnSync('bpftool', ['gen', 'object', path.join(tmp, 'probe.o'), ...trial]).status === 0) picked.push(trial.at(-1));
  } catch { /* conflicts with one already picked */ }
}
compare('fixtures', picked);

// 2. generated CO-RE objects
const files = [];
for (let i = 0; i < N; i++) {
  const src = path.join(tmp, `gen${i}.bpf.c`);
  writeFileSync(src, `#include "vmlinux.h"
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
`);
  const o = path.join(tmp, `gen${i}.o`);
  const r = spawnSync('clang', ['-target', 'bpf', '-g', '-O2', `-I${fx}`, '-c', src, '-o', o], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  files.push(o);
}
compare('generated CO-RE objects', files);
rmSync(tmp, { recursive: true, force: true });
