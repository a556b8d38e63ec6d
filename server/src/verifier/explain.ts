/**
 * Why a program was rejected: the family of the error (from the table), an explanation and a
 * fix hint, and the related locations that explain it — where the offending value came from
 * (origin first), the branches the path took, the back-edge of a loop, the acquire that was
 * never released, the global function whose contract was broken.
 */
import { matchFamily, type VerifierFamily } from './families';
import { type VerifierLog, parseVerifierLog } from './log';
import { type InsnEntry, errorPath, insnEffect, lastStackWrite, traceBack } from './path';

/** A source position, from BTF line_info (the caller's) or from the log's own `; ... @ file:line` markers. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

export interface RelatedLocation {
  /** Instruction index in the loaded program. */
  readonly insn: number;
  readonly why: string;
  readonly file?: string;
  readonly line?: number;
  readonly text?: string;
}

export interface RejectionExplanation {
  /** Family id from VERIFIER_FAMILIES (`null_map_value`, …), or 'unknown'. */
  readonly family: string;
  readonly title: string;
  /** The error line the family was recognised in (or the last error line). */
  readonly error: string;
  readonly explanation: string;
  readonly hint: string;
  /** Origin of the offending state first, then the path's branches and the failing instruction. */
  readonly related: readonly RelatedLocation[];
  /** Index of the instruction the verifier stopped at (the last one it printed). */
  readonly insn?: number;
}

type SourceOf = (insn: number) => SourcePosition | undefined;

/** What the loader knows of the program beyond the log. */
export interface ProgramFacts {
  /** BPF-to-BPF calls (instruction index → the called function's first instruction). */
  readonly calls?: readonly { readonly insn: number; readonly target: number }[];
}

function position(insn: number, e: InsnEntry | undefined, sourceOf?: SourceOf): Pick<RelatedLocation, 'file' | 'line' | 'text'> {
  const s = sourceOf?.(insn);
  if (s) return { file: s.file, line: s.line, text: s.text };
  const m = e?.source;
  if (m?.file && m.line) return { file: m.file, line: m.line, text: m.text };
  return m ? { text: m.text } : {};
}

function regOf(groups: Record<string, string | undefined>, errors: readonly string[]): number | undefined {
  if (groups.reg !== undefined) return Number(groups.reg);
  for (const l of errors) {
    const m = /^R(\d+) /.exec(l);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** The conditional jumps the path took after `from` (at most `n`, nearest to the failure), with their direction. */
function branchesTaken(path: readonly InsnEntry[], from: number, n: number): { entry: InsnEntry; why: string }[] {
  const out: { entry: InsnEntry; why: string }[] = [];
  for (let i = path.length - 2; i > from && out.length < n; i--) {
    const e = path[i];
    const fx = insnEffect(e.text, e.idx);
    if (fx.kind !== 'jump' || !fx.cond) continue;
    const taken = path[i + 1].idx === e.idx + fx.off + 1 && fx.off !== 0;
    out.push({ entry: e, why: `the path ${taken ? 'took' : 'did not take'} this branch (\`${e.text}\`)` });
  }
  return out.reverse();
}

/** The loop around the failing instruction: the last backward jump on the path and its target. */
function loopOf(path: readonly InsnEntry[], insn?: number): { back: InsnEntry; head: number } | undefined {
  for (let i = path.length - 1; i >= 0; i--) {
    const fx = insnEffect(path[i].text, path[i].idx);
    if (fx.kind === 'jump' && fx.off < 0) {
      const head = path[i].idx + fx.off + 1;
      if (insn === undefined || head <= insn) return { back: path[i], head };
    }
  }
  return undefined;
}

function entryAt(path: readonly InsnEntry[], idx: number): InsnEntry | undefined {
  for (let i = path.length - 1; i >= 0; i--) if (path[i].idx === idx) return path[i];
  return undefined;
}

function relatedFor(
  f: VerifierFamily,
  g: Record<string, string | undefined>,
  errors: readonly string[],
  log: VerifierLog,
  path: InsnEntry[],
  prog?: ProgramFacts,
): { insn: number; why: string; entry?: InsnEntry }[] {
  const at = path.length - 1;
  const fail = path[at];
  const out: { insn: number; why: string; entry?: InsnEntry }[] = [];
  switch (f.trace) {
    case 'reg':
    case 'offset': {
      const reg = regOf(g, errors);
      if (reg === undefined || !fail) break;
      const steps = traceBack(path, at, reg, f.trace === 'offset');
      const origin = steps.find((s) => s.role === 'origin') ?? steps[steps.length - 1];
      if (origin) out.push({ insn: origin.entry.idx, why: origin.why, entry: origin.entry });
      const originPos = origin ? path.indexOf(origin.entry) : -1;
      for (const b of branchesTaken(path, originPos, 3)) out.push({ insn: b.entry.idx, why: b.why, entry: b.entry });
      break;
    }
    case 'ref': {
      const insn = g.insn !== undefined ? Number(g.insn) : undefined;
      if (insn === undefined) break;
      const e = entryAt(path, insn);
      out.push({
        insn,
        why: `the reference${g.id ? ` (id=${g.id})` : ''} is acquired here${e ? ` by \`${e.text}\`` : ''} and not released on the path to the exit`,
        entry: e,
      });
      const pos = e ? path.indexOf(e) : -1;
      for (const b of branchesTaken(path, pos, 2)) out.push({ insn: b.entry.idx, why: b.why, entry: b.entry });
      break;
    }
    case 'loop': {
      const lp = loopOf(path, g.insn !== undefined ? Number(g.insn) : fail?.idx);
      if (lp) {
        const headEntry = entryAt(path, lp.head);
        out.push({
          insn: lp.head,
          why: `the loop starts here (back-edge from instruction ${lp.back.idx} to ${lp.head})`,
          entry: headEntry,
        });
        if (lp.back !== fail)
          out.push({ insn: lp.back.idx, why: `the back-edge: \`${lp.back.text}\` jumps back to instruction ${lp.head}`, entry: lp.back });
      }
      break;
    }
    case 'callee': {
      const call = fail && insnEffect(fail.text, fail.idx);
      if (call?.kind === 'subcall')
        out.push({
          insn: call.target,
          why: `the global function${g.what ? ` ${g.what}()` : ''} is defined here; it is verified on its own against its declaration`,
        });
      break;
    }
    case 'calls': {
      for (const e of path) {
        const fx = insnEffect(e.text, e.idx);
        if (fx.kind === 'subcall')
          out.push({
            insn: e.idx,
            why: `this call adds a frame: its stack counts on top of the caller's (function at instruction ${fx.target})`,
            entry: e,
          });
      }
      // a level-1 log keeps no instruction of the finished paths: the program's own calls say where
      if (!out.length)
        for (const c of prog?.calls ?? [])
          out.push({
            insn: c.insn,
            why: `this call adds a frame: its stack counts on top of the caller's (function at instruction ${c.target})`,
          });
      if (!out.length)
        for (const fn of log.funcs.filter((x) => x.index > 0))
          out.push({ insn: fn.insn, why: `func#${fn.index} starts here; its stack adds to its callers'` });
      break;
    }
    case 'stack': {
      if (g.off === undefined || !fail) break;
      const off = Number(g.off) + Number(g.add ?? 0);
      const w = lastStackWrite(path, at, Number(g.off), Number(g.size ?? 8));
      if (w)
        out.push({
          insn: w.idx,
          why: `only part of the object at fp${g.off} is written on this path (last write: \`${w.text}\`); the read at fp${off} covers bytes never written`,
          entry: w,
        });
      break;
    }
    case 'none':
      break;
  }
  return out;
}

/**
 * Explains a rejection from its verifier log. `sourceOf` maps an instruction index to its
 * source line (BTF line_info); without it the log's own markers are used. Undefined when
 * the log has no error (the program was accepted).
 */
export function explainRejection(
  logOrText: VerifierLog | string,
  sourceOf?: SourceOf,
  prog?: ProgramFacts,
): RejectionExplanation | undefined {
  const log = typeof logOrText === 'string' ? parseVerifierLog(logOrText) : logOrText;
  if (!log.errors.length) return undefined;
  const path = errorPath(log);
  const fail = path[path.length - 1];
  const m = matchFamily(log.errors);
  if (!m) {
    return {
      family: 'unknown',
      title: 'rejected by the verifier',
      error: log.errors[0],
      explanation: log.errors.join('\n'),
      hint: 'Read the log from the failing instruction upwards: the register the message names, and where it got its state.',
      related: fail ? [{ insn: fail.idx, why: 'the verifier stopped here', ...position(fail.idx, fail, sourceOf) }] : [],
      ...(fail ? { insn: fail.idx } : {}),
    };
  }
  const rel = relatedFor(m.family, m.groups, log.errors, log, path, prog);
  if (fail && m.family.trace !== 'calls' && !rel.some((r) => r.insn === fail.idx && r.entry === fail))
    rel.push({ insn: fail.idx, why: `the verifier stopped here: ${m.line}`, entry: fail });
  return {
    family: m.family.id,
    title: m.family.title,
    error: m.line,
    explanation: m.family.explanation(m.groups),
    hint: m.family.hint,
    related: rel.map((r) => ({ insn: r.insn, why: r.why, ...position(r.insn, r.entry, sourceOf) })),
    ...(fail ? { insn: fail.idx } : {}),
  };
}
