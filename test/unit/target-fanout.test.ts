// One job on many targets (targets/fanout.ts): never more open at once than --parallel, a target
// that runs out of time is a `timeout` result while the others finish, one that opens after its
// time ran out is closed; and the matrix text of a fleet (more than six targets) is one line
// per target. The targets here are stand-ins that only count: what is tested is the fan-out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TargetError } from '../../server/src/remote/errors';
import { fanout } from '../../server/src/targets/fanout';
import { formatMatrixJson, formatMatrixText, shortTargetName } from '../../server/src/targets/matrix-format';
import type { TargetMatrix } from '../../server/src/targets/matrix';
import type { KernelTarget } from '../../server/src/targets/target';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function standIn(name: string, closed: Set<string>): KernelTarget {
  return { label: name, inProcess: false, close: async () => void closed.add(name) } as unknown as KernelTarget;
}

test('fanout: at most `parallel` targets open at once, each closed after its job, results in the order given', async () => {
  let open = 0;
  let peak = 0;
  const closed = new Set<string>();
  const specs = Array.from({ length: 10 }, (_, i) => `h${i}`);
  const r = await fanout(
    specs,
    async (s) => {
      open++;
      peak = Math.max(peak, open);
      await sleep(5);
      const t = standIn(s, closed);
      const close = t.close.bind(t);
      return Object.assign(t, { close: async () => (open--, close()) });
    },
    async (_t, s) => {
      await sleep(10);
      return s.toUpperCase();
    },
    { parallel: 3, timeoutMs: 5_000 },
  );
  assert.equal(peak, 3);
  assert.deepEqual(
    r.map((x) => (x.ok ? x.value : x.error.message)),
    specs.map((s) => s.toUpperCase()),
  );
  assert.equal(closed.size, 10);
});

test('fanout: a target past its time is a timeout result, closed once it opens; the others are unaffected', async () => {
  const closed = new Set<string>();
  const r = await fanout(
    ['fast', 'slow'],
    async (s) => {
      if (s === 'slow') await sleep(150);
      return standIn(s, closed);
    },
    async () => 'done',
    { timeoutMs: 50 },
  );
  assert.equal(r[0].ok, true);
  assert.equal(r[1].ok, false);
  const e = (r[1] as { error: Error }).error;
  assert.ok(e instanceof TargetError && e.code === 'timeout', String(e));
  assert.match(e.message, /slow did not finish within 0 s/);
  await sleep(200);
  assert.deepEqual([...closed].sort(), ['fast', 'slow']);
});

const row = (loaded: boolean): TargetMatrix => ({
  release: '6.1.0-57-amd64',
  outcome: loaded
    ? {
        ok: true,
        loaded: {
          handle: 1,
          ms: 1,
          warnings: [],
          programs: [{ name: 'p', section: 'xdp', type: 'xdp', id: 7, verifiedInsns: 12 }],
          maps: [],
        },
      }
    : { ok: false, error: { message: "program 'p' was rejected", stage: 'programs', program: 'p' } },
  cells: [
    loaded
      ? { program: 'p', status: 'loaded', verifiedInsns: 12 }
      : { program: 'p', status: 'rejected', error: "program 'p' was rejected" },
  ],
  notes: [],
});

test('matrix text: columns up to six targets, one line per target for a fleet; JSON ok only when all loaded', () => {
  const few = formatMatrixText('x.o', [{ target: 'vm:/k/6.1/vmlinuz', ok: true, value: row(true), ms: 1000 }], ['p']);
  assert.match(few, /^ {2}program\s+vm:6\.1$/m);
  assert.match(few, /^ {2}p\s+ok 12$/m);
  const fleet = Array.from({ length: 50 }, (_, i) =>
    i === 7
      ? { target: `host${i}`, ok: false as const, error: new TargetError('unreachable', `host${i} is unreachable`), ms: 10 }
      : { target: `host${i}`, ok: true as const, value: row(i !== 3), ms: 10 },
  );
  const text = formatMatrixText('x.o', fleet, ['p']);
  assert.match(text, /^x\.o on 50 targets: 48 loaded everything, 2 did not$/m);
  assert.match(text, /^ {2}host3: 0 loaded, 1 rejected \(p\), 0 not attempted$/m);
  assert.match(text, /^ {2}host7: target failed$/m);
  assert.match(text, /^host7: target failed: \(unreachable\) host7 is unreachable$/m);
  const json = JSON.parse(formatMatrixJson(fleet)) as {
    ok: boolean;
    targets: { target: string; ok: boolean; error?: { code?: string } }[];
  };
  assert.equal(json.ok, false);
  assert.equal(json.targets.length, 50);
  assert.equal(json.targets[7].error?.code, 'unreachable');
  assert.equal(shortTargetName('vm:/var/cache/bpf-lens/kernels/6.12/vmlinuz,memory=2048'), 'vm:6.12');
  assert.equal(shortTargetName('vm:/boot/bzImage-custom'), 'vm:bzImage-custom');
});
