// The rates `bpf-lens top` prints between two readings of the run statistics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progRates } from '../../server/src/observe/prog-rates';
import type { ProgStat, ProgStatsResult } from '../../protocol/agent';

const prog = (id: number, runCnt: number, runTimeNs: number, tag = 'aa'): ProgStat => ({
  id,
  type: 'xdp',
  name: `p${id}`,
  tag,
  runCnt,
  runTimeNs,
});
const reading = (timeNs: number, ...programs: ProgStat[]): ProgStatsResult => ({ stats: 'fd', timeNs, programs });

test('runs per second, ns per run over the period and overall, and CPU share of the period', () => {
  const [r] = progRates(reading(0, prog(1, 100, 10_000)), reading(2e9, prog(1, 1100, 510_000)));
  assert.equal(r.runsPerSec, 500);
  assert.equal(r.periodNsPerRun, 500);
  assert.equal(r.totalNsPerRun, 510_000 / 1100);
  assert.equal(r.cpuPercent, (500_000 / 2e9) * 100);
});

test('a program that did not run has zero rates, not NaN', () => {
  const [r] = progRates(reading(0, prog(1, 0, 0)), reading(1e9, prog(1, 0, 0)));
  assert.deepEqual([r.runsPerSec, r.periodNsPerRun, r.totalNsPerRun, r.cpuPercent], [0, 0, 0, 0]);
});

test('a program loaded during the period, or a reused id, counts from zero', () => {
  const rates = progRates(reading(0, prog(2, 50, 5000, 'old')), reading(1e9, prog(2, 10, 1000, 'new'), prog(3, 40, 4000)));
  assert.deepEqual(
    rates.map((r) => [r.id, r.runsPerSec, r.periodNsPerRun]),
    [
      [2, 10, 100],
      [3, 40, 100],
    ],
  );
});
