// `bpf-lens run OBJ --target local --target vm:6.12 --duration S` as a user runs it: the object
// is loaded, attached and observed on this kernel and in a Debian 6.12 guest at once; --json is
// one document, {"ok", "targets": [{"target", ...its counts, "events"}]}, each target's sampling
// counter moved on its own kernel. In text, every line is prefixed with
// its target and a target that cannot be used is its row of the summary, with exit 1.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli, fixture } from '../helpers';
import { debianKernel } from '../kernels';
import { SLOT } from '../run-helpers';

type Ev = Record<string, unknown> & { event: string };

const V612 = () => `vm:${debianKernel('6.12').vmlinuz}`;

/** The value of counts[slot] from a target's `maps` event. */
function countOf(events: Ev[], on: string, slot: number): number {
  const m = events.find((e) => e.event === 'maps');
  assert.ok(m, `no maps event from ${on}`);
  const counts = (m.maps as Record<string, { formatted: { key: number; value: number } }[]>).counts;
  return counts.find((c) => c.formatted.key === slot)!.formatted.value;
}

test('run on local and a 6.12 guest at once: events per target, each counter moved on its kernel, a summary', { timeout: 600_000 }, (t) => {
  const vm = V612();
  const t0 = performance.now();
  const r = cli(
    [
      'run',
      fixture('attach_counters.o'),
      '--attach',
      'sample=cpu-clock@200',
      '--no-attach',
      'tasks',
      '--target',
      'local',
      '--target',
      vm,
      '--duration',
      '3',
      '--json',
    ],
    { timeoutMs: 600_000 },
  );
  t.diagnostic(`run on 2 targets (one TCG boot), 3 s: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const doc = JSON.parse(r.stdout) as {
    ok: boolean;
    targets: { target: string; ok: boolean; kernel_release: string; attached: number; events: Ev[] }[];
  };
  const { targets } = doc;
  assert.equal(doc.ok, true);
  assert.deepEqual(
    targets.map((x) => [x.target, x.ok, x.attached]),
    [
      ['local', true, 3],
      [vm, true, 3],
    ],
  );
  for (const { target: on, events } of targets) {
    const mine = events.map((e) => e.event);
    assert.equal(mine[0], 'loaded', on);
    assert.ok(mine.includes('running') && mine.at(-1) === 'detached', `${on}: ${mine.join(' ')}`);
    const attached = events.filter((e) => e.event === 'attached').map((e) => e.program);
    assert.deepEqual(attached.sort(), ['rawtp_exec', 'sample', 'tp_getppid'], on);
    assert.ok(countOf(events, on, SLOT.SAMPLE) > 0, `${on}: the sampling program never ran`);
  }
  assert.match(targets[1].kernel_release, /^6\.12\.\d+/);
});

test(
  'run on several targets in text: each line prefixed by its target; one that cannot boot fails its row, exit 1',
  { timeout: 300_000 },
  () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lens-run-targets-'));
    try {
      const bogus = path.join(dir, 'bogus.img');
      writeFileSync(bogus, 'not a kernel\n'.repeat(100));
      const r = cli(
        ['run', fixture('attach_counters.o'), '--no-attach', 'tasks', '--target', 'local', '--target', `vm:${bogus}`, '--duration', '0.5'],
        {
          timeoutMs: 300_000,
        },
      );
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      const lines = r.stdout.split('\n');
      const summaryAt = lines.findIndex((l) => /attach_counters\.o on 2 targets for 0\.5 s: 1 ran, 1 did not/.test(l));
      assert.ok(summaryAt > 0, r.stdout);
      assert.ok(
        lines.slice(0, summaryAt).every((l) => /^\[local\s*\] /.test(l)),
        `only local ran, every line of it prefixed:\n${r.stdout}`,
      );
      assert.match(r.stdout, /^\[local\s*\] attached tp_getppid → tracepoint syscalls:sys_enter_getppid/m);
      assert.match(r.stdout, /^ {2}local\s+ran\s+2\s+7\s+0\s+0\s+[\d.]+ s$/m);
      assert.match(r.stdout, /^ {2}vm:bogus\.img\s+target failed\s/m);
      assert.match(r.stdout, /^vm:bogus\.img: target failed: \(vm-boot-failed\) /m);
      const usage = cli(['run', fixture('attach_counters.o'), '--target', 'local', '--target', `vm:${bogus}`]);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /give --duration SECONDS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
