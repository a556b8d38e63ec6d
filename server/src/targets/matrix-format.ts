/**
 * The text and JSON of one object on several targets (`load --target A --target B ...`):
 * a table of programs × targets, then each rejection (source line, first error line) and
 * what was not attempted and why. With many targets (a fleet) the table turns: one line per
 * target, so it stays readable for fifty hosts.
 */
import type { FanoutResult } from './fanout';
import { formatLoadJson } from './format';
import type { MatrixCell, TargetMatrix } from './matrix';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Targets are columns up to this many; beyond, one line per target. */
const MAX_COLUMNS = 6;

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

/** The whole text: summary line, table (or per-target lines), details. */
export function formatMatrixText(file: string, results: readonly FanoutResult<TargetMatrix>[], programs: readonly string[]): string {
  const okCount = results.filter((r) => r.ok && r.value.outcome.ok).length;
  const lines = [`${file} on ${results.length} targets: ${okCount} loaded everything, ${results.length - okCount} did not`];
  const names = results.map((r) => shortTargetName(r.target));
  if (results.length <= MAX_COLUMNS) {
    const head = ['program', ...names];
    const rows = programs.map((p) => [
      p,
      ...results.map((r) => (r.ok ? cellText(r.value.cells.find((c) => c.program === p)) : 'target failed')),
    ]);
    lines.push(...table([head, ...rows]).map((l) => `  ${l}`));
  } else {
    for (const [i, r] of results.entries()) {
      if (!r.ok) {
        lines.push(`  ${names[i]}: target failed`);
        continue;
      }
      const by = (s: MatrixCell['status']) => r.value.cells.filter((c) => c.status === s);
      const rej = by('rejected').map((c) => c.program);
      lines.push(
        `  ${names[i]}: ${by('loaded').length} loaded, ${rej.length} rejected${rej.length ? ` (${rej.join(', ')})` : ''}, ${by('not-attempted').length} not attempted`,
      );
    }
  }
  lines.push('targets:');
  for (const [i, r] of results.entries())
    lines.push(`  ${names[i]} = ${r.target}${r.ok ? ` (${r.value.release})` : ''}, ${(r.ms / 1000).toFixed(1)} s`);
  for (const [i, r] of results.entries()) {
    if (!r.ok) {
      lines.push(`${names[i]}: target failed: ${errorText(r)}`);
      const detail = 'detail' in r.error ? r.error.detail : undefined;
      if (typeof detail === 'string' && detail.trim())
        lines.push(
          ...detail
            .trim()
            .split('\n')
            .slice(-12)
            .map((l) => `    ${l}`),
        );
      continue;
    }
    for (const n of r.value.notes) lines.push(`${names[i]}: note: ${n}`);
    for (const c of r.value.cells) {
      if (c.status === 'rejected') {
        lines.push(`${names[i]}: ${c.program} rejected${c.source ? ` at ${c.source.file}:${c.source.line}` : ''}: ${c.error}`);
        if (c.source) lines.push(`    | ${c.source.text}`);
      } else if (c.status === 'not-attempted') lines.push(`${names[i]}: ${c.program} not attempted: ${c.why}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `{"ok": all ok, "targets": [{"target": NAME, ...one target's load --json, "matrix": [cells]}]}`. */
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
      return { ...one, target: r.target, ms: Math.round(r.ms) };
    }
    const remote = { spec: r.target, release: r.value.release, ...(r.value.timing ? { timing: r.value.timing } : {}) };
    const one = JSON.parse(formatLoadJson(r.value.outcome, { remote })) as {
      [k: string]: Json;
    };
    return {
      ...one,
      target: r.target,
      ms: Math.round(r.ms),
      matrix: r.value.cells.map((c) => ({ ...c })),
      notes: [...r.value.notes],
    };
  });
  const ok = results.every((r) => r.ok && r.value.outcome.ok);
  return `${JSON.stringify({ ok, targets }, null, 2)}\n`;
}
