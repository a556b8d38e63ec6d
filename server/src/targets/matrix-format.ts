/**
 * The text and JSON of one object on several targets (`load --target A --target B ...`):
 * a table of programs × targets, then each rejection (source line, first error line) and
 * what was not attempted and why. With many targets (a fleet) the table folds: one line per
 * program saying on how many targets it loaded and where it did not, and each distinct error
 * once with the targets it was seen on, so it stays readable for fifty hosts.
 */
import { type CoreSummary, coreNoteLine } from './core-notes';
import type { FanoutResult } from './fanout';
import { formatLoadJson } from './format';
import { MATRIX_MAX_COLUMNS } from './matrix-fold';
import type { MatrixCell, TargetMatrix } from './matrix';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A column's heading: a VM's kernel directory (`.../6.1/vmlinuz` → 6.1), else the spec, shortened. */
export function shortTargetName(spec: string): string {
  const m = /^vm:([^,]*)/.exec(spec);
  let name = spec;
  if (m) {
    const parts = m[1].split('/').filter(Boolean);
    const file = parts.at(-1) ?? m[1];
    name = /^(vmlinuz|bzImage)$/.test(file) && parts.length > 1 ? `vm:${parts.at(-2)}` : `vm:${file}`;
  }
  return name.length > 24 ? `${name.slice(0, 23)}…` : name;
}

const cellText = (c: MatrixCell | undefined) =>
  !c ? '-' : c.status === 'loaded' ? `ok ${c.verifiedInsns}` : c.status === 'rejected' ? 'REJECTED' : 'not attempted';

function table(rows: string[][]): string[] {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(w[i]))
      .join('  ')
      .trimEnd(),
  );
}

const errorText = (r: FanoutResult<TargetMatrix>) =>
  r.ok ? '' : `${'code' in r.error ? `(${String(r.error.code)}) ` : ''}${r.error.message}`;

/** The whole text: summary line, table (or, for a fleet, one folded line per program), details. */
export function formatMatrixText(file: string, results: readonly FanoutResult<TargetMatrix>[], programs: readonly string[]): string {
  const okCount = results.filter((r) => r.ok && r.value.outcome.ok).length;
  const lines = [`${file} on ${results.length} targets: ${okCount} loaded everything, ${results.length - okCount} did not`];
  const names = results.map((r) => shortTargetName(r.target));
  if (results.length > MATRIX_MAX_COLUMNS) return `${[...lines, ...fleetText(results, programs, names)].join('\n')}\n`;
  const head = ['program', ...names];
  const rows = programs.map((p) => [
    p,
    ...results.map((r) => (r.ok ? cellText(r.value.cells.find((c) => c.program === p)) : 'target failed')),
  ]);
  lines.push(...table([head, ...rows]).map((l) => `  ${l}`));
  lines.push('targets:');
  for (const [i, r] of results.entries())
    lines.push(`  ${names[i]} = ${r.target}${r.ok ? ` (${r.value.release})` : ''}, ${(r.ms / 1000).toFixed(1)} s`);
  for (const [i, r] of results.entries()) {
    if (!r.ok) {
      lines.push(`${names[i]}: target failed: ${errorText(r)}`, ...detailLines(r));
      continue;
    }
    for (const n of r.value.notes) lines.push(`${names[i]}: note: ${n}`);
    const core = r.value.core && coreNoteLine(r.value.core);
    if (core) lines.push(`${names[i]}: ${core}`);
    for (const c of r.value.cells) {
      if (c.status === 'rejected') {
        lines.push(`${names[i]}: ${c.program} rejected${c.source ? ` at ${c.source.file}:${c.source.line}` : ''}: ${c.error}`);
        if (c.source) lines.push(`    | ${c.source.text}`);
      } else if (c.status === 'not-attempted') lines.push(`${names[i]}: ${c.program} not attempted: ${c.why}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A failed target's detail (a VM's console, qemu's complaint), its last lines, indented. */
function detailLines(r: FanoutResult<TargetMatrix>): string[] {
  const detail = !r.ok && 'detail' in r.error ? r.error.detail : undefined;
  if (typeof detail !== 'string' || !detail.trim()) return [];
  return detail
    .trim()
    .split('\n')
    .slice(-12)
    .map((l) => `    ${l}`);
}

/** Names in a folded line: the first few, then how many more (--json lists every one). */
const MAX_NAMES = 8;
const nameList = (names: readonly string[]) =>
  names.length <= MAX_NAMES ? names.join(', ') : `${names.slice(0, MAX_NAMES).join(', ')} and ${names.length - MAX_NAMES} more`;

/** Keys in first-seen order, each with the names it was seen on. */
function groupBy(entries: Iterable<[string, string]>): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, name] of entries) m.set(k, [...(m.get(k) ?? []), name]);
  return m;
}

/**
 * A fleet (more than MATRIX_MAX_COLUMNS targets) folded so that fifty hosts stay readable: one line per
 * program (`loaded on 48/50 (54 insns); rejected on host-a, host-b`), the kernels seen, then each
 * distinct rejection, reason and note once with the targets it applies to, and each target
 * that could not be used.
 */
function fleetText(results: readonly FanoutResult<TargetMatrix>[], programs: readonly string[], names: readonly string[]): string[] {
  const lines: string[] = [];
  const failed = names.filter((_, i) => !results[i].ok);
  const cellsOf = (p: string) =>
    results.flatMap((r, i) => (r.ok ? [{ name: names[i], cell: r.value.cells.find((c) => c.program === p) }] : []));
  for (const p of programs) {
    const cells = cellsOf(p);
    const insns = cells.flatMap((x) => (x.cell?.status === 'loaded' ? [x.cell.verifiedInsns] : []));
    const on = (s: MatrixCell['status']) => cells.filter((x) => x.cell?.status === s).map((x) => x.name);
    const range = insns.length
      ? ` (${Math.min(...insns)}${Math.max(...insns) > Math.min(...insns) ? `–${Math.max(...insns)}` : ''} insns)`
      : '';
    const parts = [`loaded on ${insns.length}/${results.length}${range}`];
    for (const [s, what] of [
      ['rejected', 'rejected'],
      ['not-attempted', 'not attempted'],
    ] as const)
      if (on(s).length) parts.push(`${what} on ${nameList(on(s))}`);
    const missing = cells.filter((x) => !x.cell).map((x) => x.name);
    if (missing.length) parts.push(`not in the answer of ${nameList(missing)}`);
    if (failed.length) parts.push(`target failed on ${nameList(failed)}`);
    lines.push(`  ${p}: ${parts.join('; ')}`);
  }
  const kernels = groupBy(results.flatMap((r, i): [string, string][] => (r.ok ? [[r.value.release, names[i]]] : [])));
  const slowest = results.reduce((a, r) => (r.ms > a.ms ? r : a), results[0]);
  lines.push(
    `kernels: ${[...kernels].map(([k, n]) => `${k} on ${n.length}`).join(', ') || 'none'}; ` +
      `${(Math.min(...results.map((r) => r.ms)) / 1000).toFixed(1)}–${(slowest.ms / 1000).toFixed(1)} s each (slowest ${shortTargetName(slowest.target)})`,
  );
  const renamed = results.flatMap((r, i) => (names[i] !== r.target ? [`  ${names[i]} = ${r.target}`] : []));
  if (renamed.length) lines.push('targets:', ...renamed);
  lines.push(...fleetDetails(results, names));
  return lines;
}

/** Each distinct rejection, reason and note once, with the targets it was seen on; then each failed target. */
function fleetDetails(results: readonly FanoutResult<TargetMatrix>[], names: readonly string[]): string[] {
  const lines: string[] = [];
  const rejections = new Map<string, { cell: Extract<MatrixCell, { status: 'rejected' }>; on: string[] }>();
  const entries: [string, string][] = [];
  for (const [i, r] of results.entries()) {
    if (!r.ok) continue;
    for (const n of r.value.notes) entries.push([`note: ${n}`, names[i]]);
    const core = r.value.core && coreNoteLine(r.value.core);
    if (core) entries.push([`note: ${core}`, names[i]]);
    for (const c of r.value.cells) {
      if (c.status === 'rejected') {
        const k = JSON.stringify([c.program, c.error, c.source?.file, c.source?.line]);
        const g = rejections.get(k) ?? { cell: c, on: [] };
        g.on.push(names[i]);
        rejections.set(k, g);
      } else if (c.status === 'not-attempted') entries.push([`${c.program} not attempted: ${c.why}`, names[i]]);
    }
  }
  for (const { cell: c, on } of rejections.values()) {
    lines.push(`${c.program} rejected${c.source ? ` at ${c.source.file}:${c.source.line}` : ''} on ${nameList(on)}: ${c.error}`);
    if (c.source) lines.push(`    | ${c.source.text}`);
  }
  for (const [what, on] of groupBy(entries)) {
    const colon = what.indexOf(': ');
    lines.push(`${what.slice(0, colon)} on ${nameList(on)}: ${what.slice(colon + 2)}`);
  }
  for (const [i, r] of results.entries()) if (!r.ok) lines.push(`${names[i]}: target failed: ${errorText(r)}`, ...detailLines(r));
  return lines;
}

/**
 * `{"ok": all ok, "targets": [{"target": NAME, "answered", ...one target's load --json, "matrix": [cells]}]}`.
 * A target's `"ok"` is its load --json's (the object loaded: false when a program was rejected or
 * not attempted, or the target failed); `"answered"` says only that the target could be used.
 */
export function formatMatrixJson(results: readonly FanoutResult<TargetMatrix>[]): string {
  const targets = results.map((r): { [k: string]: Json } => {
    if (!r.ok) {
      const code = 'code' in r.error ? String(r.error.code) : undefined;
      const one = JSON.parse(
        formatLoadJson(
          { ok: false, error: { message: r.error.message, stage: code ? 'target' : 'internal', ...(code ? { code } : {}) } },
          { remote: { spec: r.target } },
        ),
      ) as { [k: string]: Json };
      // what the target said as it failed (a VM's console, qemu's complaint): its last lines
      const detail = 'detail' in r.error && typeof r.error.detail === 'string' ? r.error.detail.trim() : '';
      if (detail) (one.error as { [k: string]: Json }).detail = detail.split('\n').slice(-40).join('\n');
      return { ...one, target: r.target, answered: false, ms: Math.round(r.ms) };
    }
    const remote = { spec: r.target, release: r.value.release, ...(r.value.timing ? { timing: r.value.timing } : {}) };
    const one = JSON.parse(formatLoadJson(r.value.outcome, { remote })) as {
      [k: string]: Json;
    };
    return {
      ...one,
      target: r.target,
      answered: true,
      ms: Math.round(r.ms),
      matrix: r.value.cells.map((c) => ({ ...c })),
      notes: [...r.value.notes],
      ...(r.value.core ? { core: coreJson(r.value.core) } : {}),
    };
  });
  const ok = results.every((r) => r.ok && r.value.outcome.ok);
  return `${JSON.stringify({ ok, targets }, null, 2)}\n`;
}

/** `{"relocations": N, "unresolved": [{program, access, kind, status, message, line?}]}`. */
function coreJson(c: CoreSummary): Json {
  return {
    relocations: c.relocations,
    unresolved: c.problems.map((p) => ({
      program: p.program,
      access: p.access,
      kind: p.kind,
      status: p.status,
      message: p.message,
      ...(p.report.source ? { source: { file: p.report.source.file, line: p.report.source.line } } : {}),
    })),
  };
}
