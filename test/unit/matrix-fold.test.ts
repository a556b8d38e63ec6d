// The matrix view on a fleet: beyond six targets (the CLI's threshold too) bpfLens/loadMatrix
// folds each program to one line, the targets grouped by what happened there, so 50 SSH hosts
// read as "loaded on 47/50; rejected on host-3, host-9: <error>; ..." rather than 50 columns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoadMatrixCell, LoadMatrixTarget } from '../../protocol/lsp';
import type { CoreProblem } from '../../server/src/targets/core-notes';
import type { TargetMatrix } from '../../server/src/targets/matrix';
import { formatMatrixText } from '../../server/src/targets/matrix-format';
import { foldMatrix, MATRIX_MAX_COLUMNS } from '../../server/src/targets/matrix-fold';

const REJECT = "program 'xdp_bad' (SEC(\"xdp\")) was rejected by the verifier at x.bpf.c:12: R1 invalid mem access 'scalar'";

function host(i: number): LoadMatrixTarget {
  const name = `host-${i}`;
  if (i === 20)
    return {
      name,
      kind: 'ssh',
      answered: false,
      loadedAll: false,
      error: { code: 'unreachable', message: `${name}: connection refused\nmore` },
      cells: [],
      notes: [],
      ms: 5,
    };
  const bad: LoadMatrixCell =
    i === 3 || i === 9
      ? { program: 'xdp_bad', status: 'rejected', error: REJECT, source: { file: '/src/x.bpf.c', line: 11, column: 2, text: '*p = 1;' } }
      : i === 40
        ? { program: 'xdp_bad', status: 'not-attempted', why: 'maps: BPF_MAP_TYPE_ARENA is not supported' }
        : { program: 'xdp_bad', status: 'loaded', verifiedInsns: 40 };
  return {
    name,
    kind: 'ssh',
    answered: true,
    loadedAll: bad.status === 'loaded',
    release: '6.1.0',
    cells: [{ program: 'xdp_ok', status: 'loaded', verifiedInsns: 12 }, bad],
    notes: [],
    ms: 5,
  };
}

test('six targets stay columns: no fold', () => {
  const six = Array.from({ length: MATRIX_MAX_COLUMNS }, (_, i) => host(i));
  assert.equal(foldMatrix(['xdp_ok', 'xdp_bad'], six), undefined);
});

test('50 hosts fold per program: the loaded count, then the hosts that differ grouped by the same error', () => {
  const fleet = Array.from({ length: 50 }, (_, i) => host(i));
  const fold = foldMatrix(['xdp_ok', 'xdp_bad'], fleet);
  assert.ok(fold);
  const [ok, bad] = fold;
  assert.equal(ok.program, 'xdp_ok');
  assert.equal(ok.loaded, 49);
  assert.equal(ok.summary, 'loaded on 49/50; target failed on host-20');
  assert.equal(bad.loaded, 46);
  assert.equal(
    bad.summary,
    `loaded on 46/50; rejected on host-3, host-9: ${REJECT}; not attempted on host-40: maps: BPF_MAP_TYPE_ARENA is not supported; target failed on host-20`,
  );
  // every target is in exactly one group (expanding the groups gives back every cell)
  assert.deepEqual(bad.groups.flatMap((g) => g.targets).sort(), fleet.map((t) => t.name).sort());
  assert.deepEqual(
    bad.groups.map((g) => [g.outcome, g.targets.length]),
    [
      ['loaded', 46],
      ['rejected', 2],
      ['not-attempted', 1],
      ['failed', 1],
    ],
  );
  assert.deepEqual(bad.groups[1].targets, ['host-3', 'host-9']);
});

test('many hosts failing alike: the summary names four and counts the rest; the group holds all', () => {
  const fleet = Array.from({ length: 12 }, (_, i) => ({ ...host(i), ...(i >= 2 ? { cells: [host(3).cells[1]] } : {}) }));
  const [bad] = foldMatrix(['xdp_bad'], fleet)!;
  assert.equal(bad.summary, `loaded on 2/12; rejected on host-2, host-3, host-4, host-5 and 6 more: ${REJECT}`);
  assert.equal(bad.groups.find((g) => g.outcome === 'rejected')?.targets.length, 10);
});

test("the CLI's fleet text names a CO-RE note once with the targets it was seen on; a few targets get one line each", () => {
  const problem = (access: string, status: 'missing' | 'poisoned') =>
    ({ program: 'p', access, kind: 'FIELD_EXISTS', status, message: 'is absent there', report: {} }) as unknown as CoreProblem;
  const core = { relocations: 3, problems: [problem('task_struct->dl_server', 'missing'), problem('inode->i_mtime_sec', 'poisoned')] };
  const row = (i: number): TargetMatrix => ({
    release: i < 2 ? '6.1.0' : '6.12.0',
    outcome: { ok: true, loaded: { handle: 1, programs: [], maps: [], warnings: [], ms: 1 } } as unknown as TargetMatrix['outcome'],
    cells: [{ program: 'p', status: 'loaded', verifiedInsns: 9 }],
    notes: [],
    core: i < 2 ? core : { relocations: 3, problems: [] },
  });
  const results = (n: number) => Array.from({ length: n }, (_, i) => ({ target: `host-${i}`, ok: true as const, value: row(i), ms: 10 }));
  const line = '2 of 3 CO-RE relocations do not resolve: dl_server, i_mtime_sec';
  const fleet = formatMatrixText('x.o', results(8), ['p']);
  assert.match(fleet, new RegExp(`^note on host-0, host-1: ${line}$`, 'm'), fleet);
  const few = formatMatrixText('x.o', results(3), ['p']);
  assert.match(few, new RegExp(`^host-0: ${line}$`, 'm'), few);
  assert.match(few, new RegExp(`^host-1: ${line}$`, 'm'), few);
  assert.doesNotMatch(few, /^host-2: .*CO-RE/m, few);
});
