// bpf-lens verify: per-program verification statistics (veristat's job) on this kernel. The
// numbers must be the kernel's: verified_insns as prog info reports it for the same program,
// states / peak states / max states per insn / stack depth as the BPF_LOG_STATS lines say.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoadError } from '../../server/src/load/types';
import { cli, fixture } from '../helpers';
import { lensLoad } from '../load-helpers';

interface Row {
  name: string;
  verdict: string;
  verified_insns: number;
  total_states: number;
  peak_states: number;
  max_states_per_insn: number;
  duration_us: number;
  stack_depth: number;
  error?: string;
}

/** The kernel's own statistics for one program loaded alone with BPF_LOG_STATS. */
async function kernelStats(obj: string, name: string, others: string[]): Promise<{ verifiedInsns?: number; log: string }> {
  try {
    const r = await lensLoad(fixture(obj), { logLevel: 1 | 4, noAutoload: others });
    const p = r.programs.find((x) => x.name === name)!;
    r.close();
    return { verifiedInsns: p.verifiedInsns, log: p.log! };
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    return { log: e.details.log! };
  }
}

function statsLine(log: string) {
  const m = /processed (\d+) insns \(limit \d+\) max_states_per_insn (\d+) total_states (\d+) peak_states (\d+)/.exec(log)!;
  const depth = /stack depth ([\d+]+)/
    .exec(log)![1]
    .split('+')
    .filter(Boolean)
    .map(Number)
    .reduce((a, b) => a + b, 0);
  return { processed: Number(m[1]), max: Number(m[2]), total: Number(m[3]), peak: Number(m[4]), depth };
}

test("verify --json: each program's numbers are what the kernel reports (prog info, BPF_LOG_STATS)", async () => {
  const r = cli(['verify', fixture('loader_rich.o'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows: Row[] = JSON.parse(r.stdout).programs;
  assert.deepEqual(rows.map((p) => p.name).sort(), ['leaf', 'rich_main', 'rich_other']);
  for (const p of rows) {
    const k = await kernelStats(
      'loader_rich.o',
      p.name,
      rows.map((x) => x.name).filter((n) => n !== p.name),
    );
    const s = statsLine(k.log);
    assert.equal(p.verdict, 'success');
    assert.equal(p.verified_insns, k.verifiedInsns, `${p.name}: prog info verified_insns`);
    assert.equal(p.verified_insns, s.processed, `${p.name}: the log's processed insns`);
    assert.deepEqual([p.total_states, p.peak_states, p.max_states_per_insn, p.stack_depth], [s.total, s.peak, s.max, s.depth], p.name);
    assert.ok(p.duration_us > 0);
  }
  assert.ok(rows.find((p) => p.name === 'rich_main')!.total_states > 0);
});

test("verify: a rejected program is a failure with the log's numbers and the reason; exit 1; the table says so", async () => {
  const r = cli(['verify', fixture('loader_reject.o'), '--json']);
  assert.equal(r.code, 1, r.stderr);
  const rows: Row[] = JSON.parse(r.stdout).programs;
  const bad = rows.find((p) => p.name === 'xdp_bad')!;
  const k = await kernelStats('loader_reject.o', 'xdp_bad', ['xdp_ok']);
  assert.equal(k.verifiedInsns, undefined);
  assert.equal(bad.verdict, 'failure');
  assert.equal(bad.verified_insns, statsLine(k.log).processed);
  assert.match(bad.error!, /invalid mem access 'map_value_or_null'/);
  assert.equal(rows.find((p) => p.name === 'xdp_ok')!.verdict, 'success');
  const t = cli(['verify', fixture('loader_reject.o')]);
  assert.match(t.stdout, /^Program\s+Verdict\s+Duration \(us\)\s+Insns\s+States\s+Peak states\s+Max states\/insn\s+Stack depth$/m);
  assert.match(t.stdout, new RegExp(`^xdp_bad\\s+failure\\s+\\d+\\s+${bad.verified_insns}\\s`, 'm'));
});

test("verify --compare: both objects' numbers side by side and the differences (B - A)", () => {
  const a = fixture('loader_reject.o');
  const b = fixture('verifier_null_map.o');
  const r = cli(['verify', a, '--compare', b, '--json']);
  const j = JSON.parse(r.stdout);
  assert.equal(j.compare.object, b);
  assert.deepEqual(
    j.compare.programs.map((p: Row) => p.name),
    ['null_map'],
  );
  assert.deepEqual(j.compare.diff, []); // no program in common
  const self = JSON.parse(cli(['verify', fixture('loader_rich.o'), '--compare', fixture('loader_rich.o'), '--json']).stdout);
  for (const d of self.compare.diff)
    assert.deepEqual([d.verified_insns, d.total_states, d.peak_states, d.stack_depth], [0, 0, 0, 0], d.name);
  const t = cli(['verify', fixture('loader_rich.o'), '--compare', fixture('loader_rich.o')]);
  assert.match(t.stdout, /Insns \(A\)\s+Insns \(B\)\s+Insns \(DIFF\)/);
  assert.match(t.stdout, /^rich_main\s+success\s+success\s+(\d+)\s+\1\s+0\s/m);
});

test('verify --target T --target U: per target under "targets", side by side with differences; an unreachable target exits 2', () => {
  const r = cli(['verify', fixture('loader_rich.o'), '--target', 'local', '--target', 'local', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(
    j.targets.map((t: { target: string }) => t.target),
    ['local', 'local'],
  );
  for (const t of j.targets) assert.deepEqual(t.programs.map((p: Row) => p.name).sort(), ['leaf', 'rich_main', 'rich_other']);
  for (const d of j.diff) assert.deepEqual([d.verified_insns, d.total_states, d.peak_states, d.stack_depth], [0, 0, 0, 0], d.name);
  const t = cli(['verify', fixture('loader_rich.o'), '--target', 'local', '--target', 'local']);
  assert.match(t.stdout, /^A: local {2}B: local$/m);
  assert.match(t.stdout, /^rich_main\s+success\s+success\s+(\d+)\s+\1\s+0\s/m);
  const down = cli(['verify', fixture('loader_rich.o'), '--target', 'ssh://root@127.0.0.1:1']);
  assert.equal(down.code, 2, down.stdout);
  assert.match(down.stderr, /127\.0\.0\.1/);
});
