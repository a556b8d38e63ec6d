/**
 * On a program's name in C (its function, or its SEC() line): how much verifying it took —
 * instructions the verifier processed on each target where the object is loaded, and how
 * close that is to the kernel's 1M-instruction limit; after Explain Verification, its states,
 * verification time and stack depth too.
 */
import { INSN_LIMIT } from '../verifier/walk-text';
import type { LoadedKernelObject } from '../../../protocol/lsp';
import type { ProgramStats } from '../verifier/stats';

const share = (n: number) => `${((n / INSN_LIMIT) * 100).toFixed(n * 1000 < INSN_LIMIT ? 3 : 1)}%`;

/** Markdown for program `name` of the objects at `paths`, or undefined when nothing is known. */
export function programNumbersMarkdown(
  name: string,
  paths: readonly string[],
  loaded: readonly LoadedKernelObject[],
  explained: ProgramStats | undefined,
): string | undefined {
  const rows = loaded.flatMap((l) =>
    paths.includes(l.path)
      ? l.programs.filter((p) => p.name === name).map((p) => `| ${l.target} | ${p.id} | ${p.verifiedInsns} | ${share(p.verifiedInsns)} |`)
      : [],
  );
  if (!rows.length && !explained) return undefined;
  const out = [`**Verification of \`${name}\`** (the kernel's limit: ${INSN_LIMIT.toLocaleString('en-US')} processed instructions)`];
  if (rows.length) out.push('', '| loaded on | prog id | instructions verified | of the limit |', '| --- | --- | --- | --- |', ...rows);
  if (explained) {
    const v = (x: number | null, unit = '') => (x === null ? '?' : `${x}${unit}`);
    out.push(
      '',
      `Last Explain Verification: ${explained.verdict === 'success' ? 'accepted' : 'rejected'}, ${v(explained.verified_insns)} instructions` +
        `${explained.verified_insns !== null ? ` (${share(explained.verified_insns)})` : ''}, states ${v(explained.total_states)} total / ` +
        `${v(explained.peak_states)} peak, at most ${v(explained.max_states_per_insn)} per instruction, ${v(explained.duration_us, ' µs')}, ` +
        `stack ${v(explained.stack_depth, ' bytes')}`,
    );
  }
  return out.join('\n');
}
