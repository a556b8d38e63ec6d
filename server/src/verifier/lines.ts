/**
 * The verifier's state per source line, from a level-2 log: replaying the log keeps a full
 * state per frame (from `N: R1=...` and `from X to Y: ...` lines), applies each instruction's
 * changes (`; R1=...`), and records the state after each instruction under its source line.
 * A line reached on several paths lists each register's distinct values.
 */
import { type VerifierLog, parseVerifierLog } from './log';
import type { SourcePosition } from './explain';
import type { VerifierState } from './state';

export interface LineState {
  readonly file?: string;
  readonly line?: number;
  /** The source text (from the log's marker or line_info). */
  readonly text: string;
  /** Instruction indices walked on this line. */
  readonly insns: readonly number[];
  /** How many times the verifier walked an instruction of this line (across paths). */
  readonly visits: number;
  /** Per register (`R0`…`R10`) and stack slot (`fp-8`): the distinct values seen after this line's instructions. */
  readonly values: Readonly<Record<string, readonly string[]>>;
  /** Whether the walk stopped here with an error. */
  readonly rejected: boolean;
}

/** At most this many distinct values per register and line are kept (a loop has one per iteration). */
const MAX_VALUES = 8;

type Full = { regs: Map<string, string>; stack: Map<number, string> };

function fromState(s: VerifierState): Full {
  return {
    regs: new Map(Object.entries(s.regs).map(([k, v]) => [k, v.text])),
    stack: new Map(Object.entries(s.stack).map(([k, v]) => [Number(k), v])),
  };
}

function keyOf(file: string | undefined, line: number | undefined, text: string): string {
  return file && line ? `${file.split('/').pop()}:${line}` : `text:${text.trim()}`;
}

/**
 * The states per source line. `sourceOf` maps an instruction to its line (BTF line_info); without it
 * the log's `; text @ file:line` markers are used (6.1 prints only the text: lines are then keyed by text).
 */
export function lineStates(logOrText: VerifierLog | string, sourceOf?: (insn: number) => SourcePosition | undefined): LineState[] {
  const log = typeof logOrText === 'string' ? parseVerifierLog(logOrText) : logOrText;
  const frames = new Map<number, Full>();
  const acc = new Map<
    string,
    { file?: string; line?: number; text: string; insns: Set<number>; visits: number; values: Map<string, Set<string>>; rejected: boolean }
  >();
  let lastInsn: { key: string } | undefined;
  for (const e of log.entries) {
    // `from X to Y:` prints the whole state of the path it resumes; `N: R0=...` only what changed
    if (e.kind === 'branch' && e.state) frames.set(e.state.frame, fromState(e.state));
    else if (e.kind === 'state') {
      const cur = frames.get(e.state.frame) ?? { regs: new Map(), stack: new Map() };
      const d = fromState(e.state);
      for (const [k, v] of d.regs) cur.regs.set(k, v);
      for (const [k, v] of d.stack) cur.stack.set(k, v);
      frames.set(e.state.frame, cur);
    }
    if (e.kind !== 'insn') continue;
    if (e.text.startsWith('call pc')) frames.delete(e.frame + 1); // a new callee frame
    const cur = frames.get(e.frame) ?? { regs: new Map(), stack: new Map() };
    frames.set(e.frame, cur);
    // helper and kfunc calls scratch R1-R5; the log prints only R0
    if (e.text.startsWith('call ') && !e.text.startsWith('call pc')) for (const r of ['R1', 'R2', 'R3', 'R4', 'R5']) cur.regs.delete(r);
    const after = e.after;
    if (after) {
      for (const [k, v] of Object.entries(after.regs)) cur.regs.set(k, v.text);
      for (const [k, v] of Object.entries(after.stack)) cur.stack.set(Number(k), v);
    }
    const pos = sourceOf?.(e.idx);
    const file = pos?.file ?? e.source?.file;
    const line = pos?.line ?? e.source?.line;
    const text = pos?.text ?? e.source?.text ?? '';
    if (!file && !text.trim()) continue;
    const key = keyOf(file, line, text);
    let a = acc.get(key);
    if (!a)
      acc.set(
        key,
        (a = {
          ...(file ? { file } : {}),
          ...(line ? { line } : {}),
          text,
          insns: new Set(),
          visits: 0,
          values: new Map(),
          rejected: false,
        }),
      );
    a.insns.add(e.idx);
    a.visits++;
    const seen = [...cur.regs.entries(), ...[...cur.stack.entries()].map(([k, v]) => [`fp${k}`, v] as [string, string])];
    for (const [k, v] of seen) {
      let set = a.values.get(k);
      if (!set) a.values.set(k, (set = new Set()));
      if (set.size < MAX_VALUES) set.add(v);
    }
    lastInsn = { key };
  }
  if (log.errors.length && lastInsn) acc.get(lastInsn.key)!.rejected = true;
  return [...acc.values()].map((a) => ({
    ...(a.file ? { file: a.file } : {}),
    ...(a.line ? { line: a.line } : {}),
    text: a.text,
    insns: [...a.insns].sort((x, y) => x - y),
    visits: a.visits,
    values: Object.fromEntries([...a.values.entries()].sort(([x], [y]) => regOrder(x) - regOrder(y)).map(([k, v]) => [k, [...v]])),
    rejected: a.rejected,
  }));
}

function regOrder(k: string): number {
  return k.startsWith('R') ? Number(k.slice(1)) : 100 - Number(k.slice(2));
}

/** A line's states as hover markdown: one row per register or stack slot, values across paths. */
export function lineStateMarkdown(s: LineState, program?: string): string {
  const head = `**Verifier state${program ? ` in ${program}` : ''}** — ${s.visits} visit${s.visits === 1 ? '' : 's'}, insn ${s.insns.join(', ')}${s.rejected ? ' — **rejected here**' : ''}`;
  const rows = Object.entries(s.values).map(([k, v]) => `| ${k} | ${v.map((x) => `\`${x}\``).join(' · ')} |`);
  return [head, '', '| reg | value(s) after this line |', '| --- | --- |', ...rows].join('\n');
}
