/**
 * A fleet's matrix folded per program: beyond MATRIX_MAX_COLUMNS targets neither the CLI nor
 * the editor draws one column per target. The CLI turns to one line per target; the editor's
 * view folds to one line per program ("loaded on 48/50; rejected on host-a, host-b: <error>"),
 * each group of targets expandable to its cells. Folding rather than turning the grid around
 * (50 rows of targets) because on a fleet nearly every cell says the same thing: what the user
 * looks for is which hosts differ and why, and identical errors on many hosts read once.
 */
import type { LoadMatrixFold, LoadMatrixFoldGroup, LoadMatrixTarget } from '../../../protocol/lsp';

/** Targets are columns up to this many (the CLI's table and the editor's grid); beyond, a fleet. */
export const MATRIX_MAX_COLUMNS = 6;

/** Names a summary spells out before `and N more` (the expanded group lists them all). */
const NAMES_SHOWN = 4;

const ORDER: Record<LoadMatrixFoldGroup['outcome'], number> = { loaded: 0, rejected: 1, 'not-attempted': 2, failed: 3 };

/** Per program, the targets grouped by outcome and message; undefined when the targets fit as columns. */
export function foldMatrix(programs: readonly string[], targets: readonly LoadMatrixTarget[]): LoadMatrixFold[] | undefined {
  if (targets.length <= MATRIX_MAX_COLUMNS) return undefined;
  return programs.map((program) => foldProgram(program, targets));
}

function foldProgram(program: string, targets: readonly LoadMatrixTarget[]): LoadMatrixFold {
  const groups = new Map<string, { outcome: LoadMatrixFoldGroup['outcome']; text: string; targets: string[] }>();
  for (const t of targets) {
    const c = t.answered ? t.cells.find((x) => x.program === program) : undefined;
    const [outcome, text]: [LoadMatrixFoldGroup['outcome'], string] = !t.answered
      ? ['failed', t.error?.message.split('\n')[0] ?? '']
      : !c
        ? ['not-attempted', 'no answer for this program']
        : c.status === 'loaded'
          ? ['loaded', '']
          : c.status === 'rejected'
            ? ['rejected', c.error]
            : ['not-attempted', c.why];
    // target failures differ in their details (host names, ports): one group for all of them
    const key = outcome === 'failed' ? outcome : `${outcome}\0${text}`;
    const g = groups.get(key) ?? { outcome, text: outcome === 'failed' ? '' : text, targets: [] };
    g.targets.push(t.name);
    groups.set(key, g);
  }
  const sorted = [...groups.values()].sort((a, b) => ORDER[a.outcome] - ORDER[b.outcome] || b.targets.length - a.targets.length);
  const loaded = groups.get('loaded\0')?.targets.length ?? 0;
  return { program, loaded, targets: targets.length, summary: summaryOf(loaded, targets.length, sorted), groups: sorted };
}

const names = (t: readonly string[]) =>
  t.length <= NAMES_SHOWN ? t.join(', ') : `${t.slice(0, NAMES_SHOWN).join(', ')} and ${t.length - NAMES_SHOWN} more`;

const WORDS: Record<LoadMatrixFoldGroup['outcome'], string> = {
  loaded: 'loaded',
  rejected: 'rejected',
  'not-attempted': 'not attempted',
  failed: 'target failed',
};

/** `loaded on 48/50; rejected on host-a, host-b: <error>; target failed on host-c`. */
function summaryOf(loaded: number, of: number, groups: readonly LoadMatrixFoldGroup[]): string {
  const rest = groups
    .filter((g) => g.outcome !== 'loaded')
    .map((g) => `${WORDS[g.outcome]} on ${names(g.targets)}${g.text ? `: ${g.text}` : ''}`);
  return [`loaded on ${loaded}/${of}`, ...rest].join('; ');
}
