import { parseArgs } from './args';
import { openObject } from '../object';
import { type CliIo, type CommandRun, UsageError } from './command';
import { readWithoutDwarf } from './input';
import { checkTargetSpecs, fanoutArgs, openCliTarget } from './target-args';
import { shortTargetName } from '../targets/matrix-format';
import type { KernelTarget } from '../targets';
import { BPF_LOG_STATS, type ProgramStats, STAT_COLUMNS, programStats, statsDiff } from '../verifier/stats';

function parse(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        compare: { type: 'string' },
        'log-level': { type: 'string' },
        target: { type: 'string', multiple: true },
        parallel: { type: 'string' },
        timeout: { type: 'string' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1)
    throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : 'missing object file');
  const level = values['log-level'] !== undefined ? Number(values['log-level']) : 1;
  if (![1, 2].includes(level)) throw new UsageError(`--log-level must be 1 or 2, not '${values['log-level']}'`);
  const targets = values.target?.length ? values.target : ['local'];
  checkTargetSpecs(targets);
  if (targets.length > 1 && values.compare !== undefined)
    throw new UsageError('--compare compares two objects on one target; several --target compare one object across kernels');
  const fan = fanoutArgs(values.parallel, values.timeout);
  return { file: positionals[0], json: values.json ?? false, compare: values.compare, level, targets, fan };
}

/** Loads each program of the object on its own (veristat does the same) on a target and reads its statistics. */
async function verifyObject(file: string, level: number, target: KernelTarget): Promise<ProgramStats[]> {
  const bytes = readWithoutDwarf(file);
  const names = openObject(bytes, file).programs.map((p) => p.name);
  const out: ProgramStats[] = [];
  for (const name of names) {
    const r = await target.load({
      name: file,
      object: bytes,
      logLevel: level | BPF_LOG_STATS,
      noAutoload: names.filter((n) => n !== name),
    });
    if (r.ok) {
      // a check leaves nothing behind: not even the maps it pinned by name
      await target.unload(r.loaded.handle, { unpinMaps: true });
      const p = r.loaded.programs.find((x) => x.name === name);
      out.push(programStats(name, p?.log ?? '', p));
    } else {
      // a program that failed before the verifier (a map, BTF, an extern) has no statistics
      out.push({ ...programStats(name, r.error.log ?? '', undefined), ...(r.error.log ? {} : { error: r.error.message }) });
    }
  }
  return out;
}

/** The statistics of an object on one target (opened, used, closed). */
async function verifyOn(spec: string, file: string, level: number, io: CliIo): Promise<ProgramStats[]> {
  const target = await openCliTarget(spec, io, { inProcess: true });
  try {
    return await verifyObject(file, level, target);
  } finally {
    await target.close();
  }
}

/** Several targets at once (bounded, each within --timeout): a target that fails is its own result. */
async function verifyOnTargets(a: VerifyArgs, io: CliIo): Promise<number> {
  const { fanout } = await import('../targets/fanout');
  const results = await fanout(
    a.targets,
    (spec, signal) => openCliTarget(spec, io, { signal, inProcess: true }),
    (t) => verifyObject(a.file, a.level, t),
    a.fan,
  );
  const ok = results.every((r) => r.ok && r.value.every((p) => p.verdict === 'success'));
  const failure = (e: Error) => ({
    message: e.message,
    ...('code' in e ? { code: String(e.code) } : {}),
    ...('detail' in e && typeof e.detail === 'string' && e.detail.trim() ? { detail: e.detail.trim() } : {}),
  });
  if (a.json) {
    const targets = results.map((r) =>
      r.ok
        ? { target: r.target, ok: r.value.every((p) => p.verdict === 'success'), answered: true, programs: r.value }
        : { target: r.target, ok: false, answered: false, error: failure(r.error) },
    );
    const [x, y] = results;
    const diff = results.length === 2 && x.ok && y.ok ? { diff: diffOf(x.value, y.value) } : {};
    io.out(`${JSON.stringify({ ok, targets, ...diff }, null, 2)}\n`);
    return ok ? 0 : 1;
  }
  const good = results.filter((r) => r.ok);
  if (results.length === 2 && good.length === 2)
    io.out(`A: ${a.targets[0]}  B: ${a.targets[1]}\n${compareTable(good[0].value, good[1].value)}`);
  else {
    const names = [...new Set(good.flatMap((r) => r.value.map((p) => p.name)))];
    const head = ['Program', ...results.map((r) => shortTargetName(r.target))];
    const rows = names.map((n) => [
      n,
      ...results.map((r) => {
        const p = r.ok ? r.value.find((q) => q.name === n) : undefined;
        return !r.ok ? 'target failed' : !p ? '-' : p.verdict === 'success' ? `ok ${cell(p.verified_insns)}` : 'failure';
      }),
    ]);
    io.out(`${a.file} (verdict, verified insns)\n${table([head, ...rows])}\n`);
  }
  for (const r of results) {
    if (r.ok) continue;
    const f = failure(r.error);
    io.out(`${r.target}: target failed: ${f.code ? `(${f.code}) ` : ''}${f.message}\n`);
    if (f.detail)
      io.out(
        `${f.detail
          .split('\n')
          .slice(-12)
          .map((l) => `    ${l}\n`)
          .join('')}`,
      );
  }
  return ok ? 0 : 1;
}

const diffOf = (x: readonly ProgramStats[], y: readonly ProgramStats[]) =>
  x
    .filter((p) => y.some((q) => q.name === p.name))
    .map((p) => ({
      name: p.name,
      ...statsDiff(
        p,
        y.find((q) => q.name === p.name)!,
      ),
    }));

type VerifyArgs = ReturnType<typeof parse>;

const cell = (v: number | null) => (v === null ? '-' : String(v));
const signed = (v: number | null) => (v === null ? '-' : v > 0 ? `+${v}` : String(v));

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i])))
      .join('  ')
      .trimEnd();
  return [line(rows[0]), w.map((n) => '-'.repeat(n)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** veristat's table: one row per program. */
function statsTable(file: string, s: readonly ProgramStats[]): string {
  const head = ['Program', 'Verdict', ...STAT_COLUMNS.map(([, t]) => t)];
  return (
    `${file}\n${table([head, ...s.map((p) => [p.name, p.verdict, ...STAT_COLUMNS.map(([k]) => cell(p[k]))])])}\n` +
    s
      .filter((p) => p.error)
      .map((p) => `  ${p.name}: ${p.error}\n`)
      .join('')
  );
}

/** veristat -C: each column for A, B and the difference, by program name. */
function compareTable(a: readonly ProgramStats[], b: readonly ProgramStats[]): string {
  const cols = STAT_COLUMNS.filter(([k]) => k !== 'duration_us');
  const head = ['Program', 'Verdict (A)', 'Verdict (B)', ...cols.flatMap(([, t]) => [`${t} (A)`, `${t} (B)`, `${t} (DIFF)`])];
  const names = [...new Set([...a.map((p) => p.name), ...b.map((p) => p.name)])];
  const rows = names.map((n) => {
    const x = a.find((p) => p.name === n);
    const y = b.find((p) => p.name === n);
    const d = x && y ? statsDiff(x, y) : undefined;
    return [
      n,
      x?.verdict ?? '-',
      y?.verdict ?? '-',
      ...cols.flatMap(([k]) => [cell(x?.[k] ?? null), cell(y?.[k] ?? null), signed(d?.[k] ?? null)]),
    ];
  });
  return `${table([head, ...rows])}\n`;
}

/**
 * `bpf-lens verify OBJ`: verification statistics per program on this kernel (veristat's job):
 * verified instructions, states, peak states, max states per instruction, time, stack depth,
 * verdict; `--compare OTHER.o` shows both objects' numbers and the differences. Exit 0 when
 * every program verified.
 */
export const verifyCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const a = parse(args);
    if (a.targets.length > 1) return verifyOnTargets(a, io);
    let runs: ProgramStats[][];
    let other: ProgramStats[] | undefined;
    try {
      runs = [await verifyOn(a.targets[0], a.file, a.level, io)];
      if (a.compare !== undefined) other = await verifyOn(a.targets[0], a.compare, a.level, io);
    } catch (e) {
      const { TargetError, formatTargetError } = await import('../remote');
      if (!(e instanceof TargetError)) throw e;
      io.err(formatTargetError(e));
      return 2;
    }
    const base = runs[0];
    if (a.json) {
      const json = { programs: base, ...(other ? { compare: { object: a.compare, programs: other, diff: diffOf(base, other) } } : {}) };
      io.out(`${JSON.stringify(json, null, 2)}\n`);
    } else io.out(other ? compareTable(base, other) : statsTable(a.file, base));
    return [...runs.flat(), ...(other ?? [])].every((p) => p.verdict === 'success') ? 0 : 1;
  },
};
