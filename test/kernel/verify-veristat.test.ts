// `bpf-lens verify` against the kernel's veristat (built with libbpf 1.5 by
// scripts/build-refs.sh) on the same objects (issue 17): each program loaded on its own, the
// same verdict, and for verified programs the same verified instructions, total and peak
// states and max states per instruction (duration and stack are not compared: timing, and
// veristat does not print the stack).
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { readdirSync } from 'fs';
import { test } from 'node:test';
import { FIXTURES, cli, fixture } from '../helpers';
import { removeByNamePinsAfter } from '../load-helpers';
import { modernRefs } from '../refs';

const refs = modernRefs();

interface Stats {
  verdict: string;
  verified_insns: number;
  total_states: number;
  peak_states: number;
  max_states_per_insn: number;
}

/** veristat's CSV: one row per program. */
function veristat(file: string): Map<string, Stats> {
  const r = spawnSync(refs.veristat, ['-o', 'csv', file], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `veristat ${file}: ${r.stderr}`);
  const [head, ...rows] = r.stdout.trim().split('\n');
  const cols = head.split(',');
  const out = new Map<string, Stats>();
  for (const row of rows) {
    const v = Object.fromEntries(row.split(',').map((x, i) => [cols[i], x]));
    out.set(v.prog_name, {
      verdict: v.verdict,
      verified_insns: Number(v.total_insns),
      total_states: Number(v.total_states),
      peak_states: Number(v.peak_states),
      max_states_per_insn: Number(v.max_states_per_insn),
    });
  }
  return out;
}

function lensVerify(file: string): Map<string, Stats> {
  const r = cli(['verify', file, '--json']);
  const out = JSON.parse(r.stdout) as { programs: (Stats & { name: string })[] };
  return new Map(
    out.programs.map((p) => [
      p.name,
      {
        verdict: p.verdict,
        verified_insns: p.verified_insns,
        total_states: p.total_states,
        peak_states: p.peak_states,
        max_states_per_insn: p.max_states_per_insn,
      },
    ]),
  );
}

// the load fixtures (trampolines excepted: this host refuses them whoever loads) and the parity ones
const objects = readdirSync(FIXTURES)
  .filter((f) => /^(load|parity)_.*\.o$/.test(f) && !f.endsWith('.eb.o') && !/^load_(fentry|lsm|ksym_typed)\b/.test(f))
  .sort();
const totals = { programs: 0, same: 0 };
// bpf-lens verify loads like bpf-lens load: load_pinned's maps pin by name under /sys/fs/bpf.
removeByNamePinsAfter(objects.map(fixture));

/**
 * Where veristat's verdict is not the verifier's: veristat loads one program at a time, and
 * libbpf then fails to fill a prog-array's initial slots with the programs it left unloaded —
 * after the verifier accepted this one (its numbers are printed and must still be equal).
 */
const VERDICT_NOT_VERIFIER = new Set(['load_tailcall']);

for (const name of objects) {
  test(`${name}: bpf-lens verify gives veristat's numbers`, () => {
    const theirs = veristat(fixture(name));
    const ours = lensVerify(fixture(name));
    assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), 'programs');
    for (const [prog, v] of theirs) {
      const mine = ours.get(prog)!;
      totals.programs++;
      if (VERDICT_NOT_VERIFIER.has(name.replace(/(\.v3)?\.o$/, '')) && v.verdict === 'failure') {
        assert.deepEqual(mine, { ...v, verdict: 'success' }, prog);
        totals.same++;
        continue;
      }
      if (v.verdict !== 'success') {
        assert.equal(mine.verdict, v.verdict, `${prog}: verdict`);
        continue;
      }
      assert.deepEqual(mine, v, prog);
      totals.same++;
    }
  });
}

test('summary', () => {
  assert.ok(totals.programs > 40, JSON.stringify(totals));
  console.log(`verify-veristat: ${objects.length} objects, ${totals.same} of ${totals.programs} programs with veristat's numbers`);
});
