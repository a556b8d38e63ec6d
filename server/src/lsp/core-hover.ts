/**
 * Hover on a field (or type) that a CO-RE relocation reads: what the compiler assumed and what
 * the selected target's kernel has, for each object built from this source.
 */
import * as path from 'path';
import { coreAccessAt, wordAt } from './c-text';
import type { CoreCheck } from './core-checks';
import type { LoadedObject } from './loaded';
import { reloReason } from '../core/relocate';

export interface CoreHoverInput {
  readonly object: LoadedObject;
  /** The target as the user knows it: `lab (6.12.8)`. */
  readonly target: string;
  readonly check: CoreCheck;
}

export function coreHover(
  lines: readonly string[],
  line: number,
  character: number,
  checks: readonly CoreHoverInput[],
  source: string,
): string | undefined {
  if (!wordAt(lines, line, character)) return undefined;
  const rows: string[] = [];
  const notes: string[] = [];
  let target: string | undefined;
  for (const { object, target: t, check } of checks) {
    for (const { section, report: r } of check.relocations) {
      if (!r.source || path.basename(r.source.file) !== path.basename(source)) continue;
      const at = coreAccessAt(lines, r.source.line - 1, r.access);
      if (at.line !== line || at.column === undefined || character < at.column || character > at.column + at.length) continue;
      target ??= t;
      const local = r.localValue ?? '?';
      const there =
        r.status === 'ok'
          ? `**${r.targetValue ?? '?'}**`
          : r.status === 'poisoned'
            ? 'poisoned: fails verification if reached'
            : r.status === 'missing'
              ? `${r.targetValue ?? 0} (absent there)`
              : `${r.status}: libbpf refuses to load`;
      rows.push(`| \`${r.access}\` | ${r.kindName} | ${local} | ${there} | ${path.basename(object.path)} \`${section}\` #${r.index} |`);
      const why = reloReason(r);
      if (why) notes.push(`- \`${r.access}\`: ${why}`);
    }
  }
  if (!rows.length) return undefined;
  return [
    `**CO-RE** on ${target}`,
    '',
    '| access | relocation | compiled | on the target | object, section, relo |',
    '|---|---|---|---|---|',
    ...rows,
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}
