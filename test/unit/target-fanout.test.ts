// One job on many targets (targets/fanout.ts): never more open at once than --parallel, a target
// that runs out of time is a `timeout` result while the others finish, one that opens after its
// time ran out is closed; and the matrix text of a fleet (more than six targets) is folded:
// one line per program, each distinct error once with the targets it was seen on. The targets here are stand-ins that only count: what is tested is the fan-out.
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

test('matrix text: columns up to six targets, folded per program for a fleet; JSON ok only when all loaded', () => {
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
  assert.match(text, /^ {2}p: loaded on 48\/50 \(12 insns\); rejected on host3; target failed on host7$/m);
  assert.match(text, /^p rejected on host3: program 'p' was rejected$/m);
  assert.match(text, /^host7: target failed: \(unreachable\) host7 is unreachable$/m);
  const json = JSON.parse(formatMatrixJson(fleet)) as {
    ok: boolean;
    targets: { target: string; ok: boolean; answered: boolean; error?: { code?: string } }[];
  };
  assert.equal(json.ok, false);
  assert.equal(json.targets.length, 50);
  // "ok": the object loaded there; "answered": the target could be used (host3 answered and rejected p)
  assert.deepEqual(
    [0, 3, 7].map((i) => [json.targets[i].target, json.targets[i].ok, json.targets[i].answered]),
    [
      ['host0', true, true],
      ['host3', false, true],
      ['host7', false, false],
    ],
  );
  assert.equal(json.targets[7].error?.code, 'unreachable');
  assert.equal(shortTargetName('vm:/var/cache/bpf-lens/kernels/6.12/vmlinuz,memory=2048'), 'vm:6.12');
  assert.equal(shortTargetName('vm:/boot/bzImage-custom'), 'vm:bzImage-custom');
});

/** A target's row for a two-program object: p loaded (with `insns`) or rejected at x.c:9, q loaded or not attempted. */
function fleetRow(release: string, p: number | 'rejected', q: 'loaded' | 'not-attempted', notes: string[] = []): TargetMatrix {
  return {
    release,
    outcome: p !== 'rejected' && q === 'loaded' ? row(true).outcome : { ok: false, error: { message: 'x', stage: 'programs' } },
    cells: [
      p === 'rejected'
        ? {
            program: 'p',
            status: 'rejected',
            error: 'R1 invalid mem access',
            source: { file: 'x.c', line: 9, column: 3, text: '  v = *ptr;' },
          }
        : { program: 'p', status: 'loaded', verifiedInsns: p },
      q === 'loaded'
        ? { program: 'q', status: 'loaded', verifiedInsns: 40 }
        : { program: 'q', status: 'not-attempted', why: 'maps: no ringbuf' },
    ],
    notes,
  };
}

test('matrix text for 50 hosts: one line per program, each error once with where, kernels counted; no wall of columns', () => {
  const fleet = Array.from({ length: 50 }, (_, i) => {
    const target = `host-${String(i).padStart(2, '0')}`;
    if (i === 49)
      return {
        target,
        ok: false as const,
        error: new TargetError('timeout', `${target} did not finish within 5 s (--timeout)`, 'console line'),
        ms: 5000,
      };
    const release = i < 30 ? '6.1.0-57-amd64' : '6.12.9-amd64';
    const p = i === 3 || i === 4 ? ('rejected' as const) : i === 20 ? 14 : 12;
    const q = i >= 30 && i < 41 ? ('not-attempted' as const) : ('loaded' as const);
    return { target, ok: true as const, value: fleetRow(release, p, q, i < 2 ? ['__arg_ctx: emulated'] : []), ms: 1000 + i * 10 };
  });
  const text = formatMatrixText('x.o', fleet, ['p', 'q']);
  const lines = text.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, 4), [
    'x.o on 50 targets: 36 loaded everything, 14 did not',
    '  p: loaded on 47/50 (12–14 insns); rejected on host-03, host-04; target failed on host-49',
    '  q: loaded on 38/50 (40 insns); not attempted on host-30, host-31, host-32, host-33, host-34, host-35, host-36, host-37 and 3 more; target failed on host-49',
    'kernels: 6.1.0-57-amd64 on 30, 6.12.9-amd64 on 19; 1.0–5.0 s each (slowest host-49)',
  ]);
  assert.deepEqual(lines.slice(4), [
    'p rejected at x.c:9 on host-03, host-04: R1 invalid mem access',
    '    |   v = *ptr;',
    'note on host-00, host-01: __arg_ctx: emulated',
    'q not attempted on host-30, host-31, host-32, host-33, host-34, host-35, host-36, host-37 and 3 more: maps: no ringbuf',
    'host-49: target failed: (timeout) host-49 did not finish within 5 s (--timeout)',
    '    console line',
  ]);
});
