/**
 * Explain Verification's side document: for one program, the verifier's numbers, the path it
 * walked to a rejection (source lines interleaved with the instructions and the registers each
 * one changed, as bpf-disasm shows them), then every source line with its states across all
 * paths. Source lines start with `FILE:LINE` so an editor can link each one to the source.
 */
import { errorPath } from './path';
import { type LineState, lineStates } from './lines';
import { type VerifierLog, parseVerifierLog } from './log';
import type { VerifierState } from './state';

/** What the kernel allows a program to walk (BPF_COMPLEXITY_LIMIT_INSNS). */
export const INSN_LIMIT = 1_000_000;

/** Turns a file name as line_info spells it into the path to show (absolute when it can be found). */
export type ResolveSource = (file: string) => string | undefined;

const changed = (s: VerifierState | undefined) =>
  s
    ? [
        ...Object.entries(s.regs).map(([k, v]) => `${k}=${v.text}`),
        ...Object.entries(s.stack).map(([k, v]) => `fp${k}=${v}`),
        ...(s.refs ? [`refs=${s.refs}`] : []),
      ].join(' ')
    : '';

/**
 * Whether a source position is worth a heading: a real line, or (6.1 logs, no line_info given)
 * the text alone. Line 0 is code the compiler made up: it stays under the line before it.
 */
const shown = (s: { file?: string; line?: number; text: string }) => !!s.line || (!s.file && !!s.text.trim());

function where(file: string | undefined, line: number | undefined, resolve: ResolveSource): string {
  if (!file || !line) return ';';
  return `${resolve(file) ?? file}:${line}`;
}

function header(program: string, log: VerifierLog): string[] {
  const s = log.stats;
  const verdict = log.errors.length ? 'rejected' : 'accepted';
  const out = [`${program}: ${verdict}`];
  if (s) {
    const share = ((s.processed / (s.limit ?? INSN_LIMIT)) * 100).toFixed(s.processed * 1000 < INSN_LIMIT ? 3 : 1);
    out.push(
      `  processed ${s.processed} instructions (${share}% of the ${(s.limit ?? INSN_LIMIT).toLocaleString('en-US')} limit)` +
        `${s.totalStates !== undefined ? `, states ${s.totalStates} total, ${s.peakStates ?? '?'} peak` : ''}` +
        `${s.maxStatesPerInsn !== undefined ? `, at most ${s.maxStatesPerInsn} per instruction` : ''}`,
    );
  }
  if (log.verificationTimeUsec !== undefined) out.push(`  verification time ${log.verificationTimeUsec} µs`);
  if (log.stackDepth) out.push(`  stack depth ${log.stackDepth.join('+')}`);
  if (log.truncated) out.push('  (the log is cut short: the numbers and paths below may be partial)');
  return out;
}

/** The walk to the rejection, a source line before the instructions it compiled to. */
function rejectedPath(log: VerifierLog, sourceOf: (insn: number) => LineKey | undefined, resolve: ResolveSource): string[] {
  const path = errorPath(log);
  if (!log.errors.length || !path.length) return [];
  const out = ['', `The path to the rejection (${path.length} instructions walked, oldest first):`];
  let last = '';
  for (const e of path) {
    // line 0 (code the compiler made up) stays under the line before it
    const src = sourceOf(e.idx) ?? (e.source ? { file: e.source.file, line: e.source.line, text: e.source.text } : undefined);
    const key = src && shown(src) ? `${src.file}:${src.line}:${src.text}` : last;
    if (src && shown(src) && key !== last) out.push(`${where(src.file, src.line, resolve)}  ${src.text.trim()}`);
    last = key;
    const regs = changed(e.after);
    out.push(`  ${String(e.idx).padStart(5)}: ${e.text}${regs ? `    ; ${regs}` : ''}`);
  }
  out.push(...log.errors.map((m, i) => `${i ? '  ' : '✗ '}${m}`));
  return out;
}

interface LineKey {
  readonly file?: string;
  readonly line?: number;
  readonly text: string;
}

function lineSection(all: readonly LineState[], resolve: ResolveSource): string[] {
  const states = all.filter(shown);
  if (!states.length) return [];
  const out = ['', `Every source line the verifier walked (${states.length}), with the values after it across all paths:`];
  for (const s of states) {
    out.push(
      `${where(s.file, s.line, resolve)}  ${s.text.trim()}    [${s.visits} visit${s.visits === 1 ? '' : 's'}, insn ${s.insns.join(',')}${s.rejected ? ', REJECTED HERE' : ''}]`,
    );
    for (const [k, v] of Object.entries(s.values)) out.push(`    ${k.padEnd(6)} ${v.join('  |  ')}`);
  }
  return out;
}

/** The side document of one program's level-2 (or level-1) log. */
export function verificationText(program: string, logText: string, resolve: ResolveSource = () => undefined): string {
  const log = parseVerifierLog(logText);
  const states = lineStates(log);
  const byInsn = new Map<number, LineKey>();
  for (const s of states) for (const i of s.insns) byInsn.set(i, s);
  return [...header(program, log), ...rejectedPath(log, (i) => byInsn.get(i), resolve), ...lineSection(states, resolve), ''].join('\n');
}
