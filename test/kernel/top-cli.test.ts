// `bpf-lens top` on this kernel: while it runs, statistics are on and a program run by
// bpftool (`prog run ... repeat`) shows its runs and run time, equal to what bpftool's own
// `prog show` reports after; once it exits, statistics are off again (counters stand still).
// The same through the agent (`--target local`). Bad options are usage errors.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { buildPacket } from '../../server/src/run/packet';
import { CLI, cli, fixture, run, withHostLock } from '../helpers';
import { bpffsDir } from './kernel-env';

interface TopProg {
  id: number;
  type: string;
  name: string;
  run_cnt: number;
  run_time_ns: number;
  runs_per_sec: number;
  period_ns_per_run: number;
  total_ns_per_run: number;
  cpu_percent: number;
}
interface TopLine {
  stats: string;
  programs: TopProg[];
}

function progShow(id: number): { run_cnt?: number; run_time_ns?: number } {
  return JSON.parse(run('bpftool', ['-j', 'prog', 'show', 'id', String(id)])) as { run_cnt?: number; run_time_ns?: number };
}

/** xdp_reflect pinned by bpftool, a packet for it, and its id. */
function pinnedXdp(t: { after(fn: () => void): void }): { pinned: string; dataIn: string; id: number } {
  const pins = bpffsDir('top');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bpflens-top-'));
  t.after(() => {
    pins.done();
    rmSync(tmp, { recursive: true, force: true });
  });
  run('bpftool', ['prog', 'loadall', fixture('testrun_progs.o'), `${pins.dir}/p`]);
  const pinned = `${pins.dir}/p/xdp_reflect`;
  const dataIn = path.join(tmp, 'packet');
  writeFileSync(dataIn, buildPacket('eth/ipv4/udp(dport=9)/payload(x)'));
  const id = (JSON.parse(run('bpftool', ['-j', 'prog', 'show', 'pinned', pinned])) as { id: number }).id;
  return { pinned, dataIn, id };
}

const runXdp = (pinned: string, dataIn: string, repeat: number) =>
  run('bpftool', ['prog', 'run', 'pinned', pinned, 'data_in', dataIn, 'repeat', String(repeat)]);

/** Runs `top --json` until it exits, calling `during` once its first sample is out. */
async function topWhile(args: string[], during: () => void): Promise<TopLine[]> {
  const child = spawn(process.execPath, [CLI, 'top', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let ran = false;
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!ran && out.includes('\n')) {
      ran = true;
      during();
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `top exited ${String(code)}: ${err}`);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TopLine);
}

// Whether the kernel keeps run statistics is host-wide: tests that turn them on take turns.
test('top shows a program bpftool runs, with the counts bpftool reports, and leaves statistics off', (t) =>
  withHostLock('run-stats', () => topCounts(t)));

async function topCounts(t: { after(fn: () => void): void }): Promise<void> {
  const { pinned, dataIn, id } = pinnedXdp(t);
  const lines = await topWhile(['--interval', '0.4', '--count', '4'], () => runXdp(pinned, dataIn, 200_000));
  assert.equal(lines.length, 4);
  for (const l of lines) assert.equal(l.stats, 'fd');
  const mine = lines.map((l) => l.programs.find((p) => p.id === id));
  assert.ok(
    mine.every((p) => p && p.type === 'xdp' && p.name === 'xdp_reflect'),
    JSON.stringify(mine),
  );
  const last = mine[mine.length - 1] as TopProg;
  assert.equal(last.run_cnt, 200_000);
  assert.ok(last.run_time_ns > 0 && last.total_ns_per_run > 0, JSON.stringify(last));
  // the runs fell into the periods: each busy period has a run time and a CPU share
  const busy = mine.filter((p) => (p?.runs_per_sec ?? 0) > 0) as TopProg[];
  assert.ok(busy.length >= 1 && busy.every((p) => p.period_ns_per_run > 0 && p.cpu_percent > 0), JSON.stringify(mine));
  // bpftool reads the same counters
  const shown = progShow(id);
  assert.equal(shown.run_cnt, last.run_cnt);
  assert.equal(shown.run_time_ns, last.run_time_ns);
  // top is gone: statistics are off, the counters no longer move
  assert.equal(spawnSync('sysctl', ['-n', 'kernel.bpf_stats_enabled'], { encoding: 'utf8' }).stdout.trim(), '0');
  runXdp(pinned, dataIn, 1000);
  assert.equal(progShow(id).run_cnt, 200_000);
}

test('top through the agent (--target local) sees the same program and counts', (t) => withHostLock('run-stats', () => topAgent(t)));

async function topAgent(t: { after(fn: () => void): void }): Promise<void> {
  const { pinned, dataIn, id } = pinnedXdp(t);
  const lines = await topWhile(['--target', 'local', '--interval', '0.5', '--count', '3'], () => runXdp(pinned, dataIn, 5000));
  const last = lines[lines.length - 1].programs.find((p) => p.id === id);
  assert.ok(last, 'the pinned program is listed');
  assert.equal(last.run_cnt, 5000);
  assert.equal(lines[lines.length - 1].stats, 'fd');
}

test('top: bad options are usage errors; the table names the columns', async () => {
  for (const bad of [['--interval', '0'], ['--interval', 'x'], ['--count', '0'], ['--count', '1.5'], ['--no-sudo']]) {
    const r = cli(['top', ...bad]);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--interval|--count|--no-sudo/);
  }
  const r = await withHostLock('run-stats', async () => cli(['top', '--count', '1', '--interval', '0.1']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^local: \d+ programs, statistics on \(BPF_ENABLE_STATS\)\nID +TYPE +NAME +RUNS\/S +NS\/RUN +TOTAL NS\/RUN +CPU%/);
});
