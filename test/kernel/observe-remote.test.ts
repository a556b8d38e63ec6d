// Observe on a remote target as a user runs it: `bpf-lens run observe_ticks.o --json` through
// the SSH test host (this kernel, the agent over ssh) and in Debian's 6.12 under qemu (the
// product's vm: target). The program records the target's first 32 scheduler switches: every
// ring buffer and perf record arrives once, decoded as struct tick; the bpf_printk line comes
// from the target's trace pipe tied to its source line; nothing is dropped or lost; the maps
// line at the end holds the counts. Through SSH, `map dump --target` of a live map prints what
// bpftool prints for it.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { after, test } from 'node:test';
import { CLI, fixture, ROOT, run, withTracePipe } from '../helpers';
import { debianKernel } from '../kernels';
import { type Ev, startRun } from '../run-helpers';
import { startSshHost, type SshHost } from '../ssh-host';

const TICKS = 32;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ssh: SshHost | undefined;
after(() => ssh?.stop());

interface Tick {
  seq: number;
  cpu: number;
  pid: number;
  comm: string;
}

/** What every run of observe_ticks.o shows, wherever it ran. */
function checkTicks(events: Ev[], where: string): void {
  for (const kind of ['ringbuf', 'perf']) {
    const got = events.filter((e) => e.event === kind);
    assert.deepEqual(
      got.map((e) => (e.data as Tick).seq).sort((a, b) => a - b),
      Array.from({ length: TICKS }, (_, i) => i),
      `${where}: every ${kind} record once`,
    );
    for (const e of got) {
      const d = e.data as Tick;
      assert.deepEqual(Object.keys(d), ['seq', 'cpu', 'pid', 'comm'], `${where}: ${kind} decoded as struct tick`);
      assert.equal(typeof d.comm, 'string');
      if (kind === 'perf') assert.equal(e.cpu, d.cpu, `${where}: a perf record comes from the ring of the CPU that wrote it`);
    }
  }
  const p = events.find((e) => e.event === 'printk');
  assert.ok(p, `${where}: no printk line`);
  assert.match(p.text as string, /^lens tick seq=0 cpu=\d+$/);
  assert.equal(p.program, 'on_switch');
  const src = readFileSync(join(ROOT, 'test', 'fixtures', 'observe_ticks.bpf.c'), 'utf8').split('\n');
  assert.match(src[(p.source as { line: number }).line - 1], /bpf_printk\("lens tick/);
  const obs = events.find((e) => e.event === 'observed');
  assert.deepEqual([obs?.records, obs?.dropped, obs?.lost], [2 * TICKS, 0, { tick_pb: 0 }], where);
  const maps = events.find((e) => e.event === 'maps')?.maps as Record<string, { formatted: { key: number; value: unknown } }[]>;
  assert.deepEqual(Object.keys(maps).sort(), ['.bss', '.rodata', 'per_cpu', 'total']);
  assert.deepEqual(maps.total[0].formatted, { key: 0, value: TICKS });
  const seen = maps.per_cpu.map((e) => e.formatted.value as { ticks: number; last_comm: string });
  assert.equal(
    seen.reduce((n, s) => n + s.ticks, 0),
    TICKS,
    `${where}: the per-CPU counts add up`,
  );
}

async function until(f: () => boolean, ms: number): Promise<boolean> {
  for (let t = 0; t < ms; t += 50) {
    if (f()) return true;
    await sleep(50);
  }
  return f();
}

test('run --target ssh://: the target kernel’s records, printk and maps; map dump --target equals bpftool’s', () => withTracePipe(sshRun));

// The ssh target is this machine: its printk comes from this kernel's one trace pipe.
async function sshRun(): Promise<void> {
  ssh = startSshHost();
  const env = { ...process.env, BPF_LENS_SSH_CONFIG: ssh.config };
  const r = startRun([fixture('observe_ticks.o'), '--target', 'bpflens-test'], env);
  try {
    await r.running;
    assert.equal(r.events[0]?.event, 'loaded', r.stderr());
    assert.ok(await until(() => r.events.filter((e) => e.event === 'ringbuf').length >= TICKS, 20_000), 'records arrive');
    const ids = Object.fromEntries((r.events[0].maps as { name: string; id: number }[]).map((m) => [m.name, m.id]));
    for (const name of ['per_cpu', 'total']) {
      const ours = spawnSync(process.execPath, [CLI, 'map', 'dump', '--id', String(ids[name]), '--target', 'bpflens-test', '--json'], {
        encoding: 'utf8',
        env,
      });
      assert.equal(ours.status, 0, ours.stderr);
      assert.deepEqual(JSON.parse(ours.stdout), JSON.parse(run('bpftool', ['-j', 'map', 'dump', 'id', String(ids[name])])), name);
    }
    r.child.kill('SIGINT');
    assert.equal(await r.exited, 0, r.stderr());
  } finally {
    if (r.child.exitCode === null) r.child.kill('SIGKILL');
  }
  checkTicks(r.events, 'ssh');
}

test(
  'run --target vm: (Debian 6.12 under qemu) --duration: the guest kernel’s records, printk and maps',
  { timeout: 600_000 },
  async () => {
    const vm = `vm:${debianKernel('6.12').vmlinuz}`;
    const r = startRun([fixture('observe_ticks.o'), '--target', vm, '--duration', '4']);
    assert.equal(await r.exited, 0, r.stderr());
    assert.equal(r.events[0]?.event, 'loaded', r.stderr());
    checkTicks(r.events, 'vm 6.12');
    const pids = new Set(r.events.filter((e) => e.event === 'ringbuf').map((e) => (e.data as Tick).pid));
    assert.ok(![...pids].includes(process.pid), 'the records are the guest’s, not this machine’s');
  },
);
