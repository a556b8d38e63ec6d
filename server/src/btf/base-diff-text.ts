// The base diff as text: a summary line, one table row per distilled type (with the
// reason under each row that does not relocate), and the verdict. The CLI prints it;
// the editor can show it as a document.
import { type BaseDiff, type BaseDiffRow } from './base-diff';
import { RELOCATABLE } from './relocate';

export interface BaseDiffTextOptions {
  /** Names the module and the target in the summary line. */
  readonly module: string;
  readonly target: string;
  /** Where the distilled base came from ('.BTF.base' or the file it was distilled on). */
  readonly distilledFrom: string;
  /** Only rows that do not relocate, or relocate without a size check. */
  readonly problemsOnly?: boolean;
  /** Split types named per row before "(+N)" (default 3). */
  readonly maxUsers?: number;
}

function users(r: BaseDiffRow, max: number): string {
  const names = r.dependents.slice(0, max).map((d) => `${d.kind.toLowerCase()} ${d.name || `[${d.id}]`}`);
  const more = r.dependents.length - max;
  return names.join(', ') + (more > 0 ? ` (+${more})` : '');
}

/** Rows worth a look: those that do not relocate and those whose size was not compared. */
export function isProblem(r: BaseDiffRow): boolean {
  return !RELOCATABLE.has(r.status) || r.status === 'size-not-checked';
}

export function formatBaseDiff(diff: BaseDiff, opts: BaseDiffTextOptions): string {
  const rows = opts.problemsOnly ? diff.rows.filter(isProblem) : diff.rows;
  const head = ['STATUS', 'KIND', 'NAME', 'SIZE', 'TARGET', 'TSIZE', 'USED BY'];
  const cells = rows.map((r) => [
    r.status,
    r.kind,
    r.name,
    String(r.size),
    r.targetId !== undefined ? `[${r.targetId}]` : '-',
    r.targetSize !== undefined ? String(r.targetSize) : '-',
    users(r, opts.maxUsers ?? 3),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const right = new Set([3, 5]);
  const fmt = (c: string[]) =>
    c
      .map((x, i) => (i === c.length - 1 ? x : right.has(i) ? x.padStart(width[i]) : x.padEnd(width[i])))
      .join('  ')
      .trimEnd();
  const counts = Object.entries(diff.counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const from = opts.distilledFrom === '.BTF.base' ? '.BTF.base' : `distilled from ${opts.distilledFrom}`;
  const lines = [`${opts.module}: ${diff.rows.length} distilled base types (${from}) against ${opts.target}: ${counts}`, fmt(head)];
  rows.forEach((r, i) => {
    lines.push(fmt(cells[i]));
    if (r.reason && !RELOCATABLE.has(r.status)) lines.push(`    ${r.reason}`);
  });
  const bad = diff.rows.filter((r) => !RELOCATABLE.has(r.status)).length;
  lines.push(diff.relocates ? 'relocates' : `does not relocate: ${bad} type${bad === 1 ? '' : 's'} without a single match`);
  return lines.join('\n') + '\n';
}
