// A program whose verification a signal keeps interrupting: the kernel stops the verifier with
// EAGAIN whenever a signal is pending. After as many tries as libbpf makes, `bpf-lens load`
// says the program was not verified (EAGAIN, and why), and blames no source line: the log is a
// walk cut short, not a rejection. The signals come from node's own profiler (SIGPROF every
// 10 µs); the same object loads without them.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { CLI, compileBpf } from '../helpers';

/** ~140,000 instructions to verify (a bounded loop walked iteration by iteration): milliseconds of verifier. */
const BUSY = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("xdp") int busy(struct xdp_md *ctx) {
  volatile __u32 sink = 0;
  for (__u32 i = 0; i < 20000; i++) sink = i;
  return XDP_PASS;
}
`;

function loadJson(args: string[]): {
  ok: boolean;
  error?: { message: string; insn?: number; source?: unknown; log?: string; interrupted?: boolean };
} {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
  assert.ok(r.stdout, `no output (status ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('a load a signal keeps interrupting is "not verified: EAGAIN", with no source line blamed', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'load-interrupted-'));
  try {
    const c = path.join(dir, 'busy.bpf.c');
    const o = path.join(dir, 'busy.bpf.o');
    writeFileSync(c, BUSY);
    compileBpf(c, o);
    const profiled = ['--cpu-prof', '--cpu-prof-interval', '10', '--cpu-prof-dir', dir];
    const interrupted = loadJson([...profiled, CLI, 'load', o, '--json']);
    assert.equal(interrupted.ok, false);
    assert.match(
      interrupted.error!.message,
      /^program 'busy' \(SEC\("xdp"\)\) was not verified: EAGAIN — a signal interrupted the verifier in each of 5 tries/,
    );
    assert.equal(interrupted.error!.insn, undefined);
    assert.equal(interrupted.error!.source, undefined);
    assert.match(interrupted.error!.log ?? '', /processed \d+ insns/, 'the cut-short log is kept');
    assert.equal(interrupted.error!.interrupted, true);
    const text = spawnSync(process.execPath, [...profiled, CLI, 'load', o], { encoding: 'utf8', timeout: 60_000 });
    assert.notEqual(text.status, 0);
    assert.match(text.stderr, /was not verified: EAGAIN[\s\S]*\nverifier log, cut short by the interruptions \(last lines\):\n/);
    assert.doesNotMatch(text.stderr, /-->/, 'no source line blamed');
    const quiet = loadJson([CLI, 'load', o, '--json']);
    assert.equal(quiet.ok, true, JSON.stringify(quiet.error));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
