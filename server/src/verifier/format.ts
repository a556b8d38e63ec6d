/**
 * A rejection's explanation as the CLI prints it: JSON fields for `load --json`
 * (`family`, `explanation`, `hint`, `related` with the origin first) and text lines.
 */
import type { RejectionExplanation } from './explain';

/** What the formatters read (also the shape that travels from an agent). */
type Explained = Pick<RejectionExplanation, 'family' | 'title' | 'explanation' | 'hint' | 'related'>;

export interface ExplanationJson {
  family: string;
  explanation: string;
  hint: string;
  related: { file: string | null; line: number | null; text: string | null; insn: number; why: string }[];
}

export function explanationJson(x: Explained): ExplanationJson {
  return {
    family: x.family,
    explanation: x.explanation,
    hint: x.hint,
    related: x.related.map((r) => ({ file: r.file ?? null, line: r.line ?? null, text: r.text?.trim() ?? null, insn: r.insn, why: r.why })),
  };
}

/** `why:`, `hint:` and one line per related location, for the CLI's error text. */
export function explanationLines(x: Explained): string[] {
  const out = [`why (${x.title}): ${x.explanation}`, `hint: ${x.hint}`];
  if (x.related.length) out.push('related:');
  for (const r of x.related)
    out.push(`  ${r.file ? `${r.file}:${r.line}` : `insn ${r.insn}`}: ${r.why}${r.text ? `\n   | ${r.text.trim()}` : ''}`);
  return out;
}
