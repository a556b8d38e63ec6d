/**
 * A model of a verifier log (levels 1 and 2, and the BPF_LOG_STATS lines) as kernels 6.1 to
 * 6.18 print it: the instructions walked with their states, `; source @ file:line` markers,
 * branches (`from X to Y`), pruning (`safe`), frames, the final error and the statistics.
 * Pure text in, model out: a hostile or truncated log gives a partial model, never a throw.
 */
import { type VerifierState, looksLikeState, parseState } from './state';

/** A `; source text @ file:line` marker (6.1 prints only the text). */
export interface SourceMarker {
  readonly text: string;
  readonly file?: string;
  readonly line?: number;
}

export type LogEntry =
  /** An instruction walked: index, opcode byte, text, and the registers it changed (`; R1=...`). */
  | {
      readonly kind: 'insn';
      readonly at: number;
      readonly idx: number;
      readonly opcode: number;
      readonly text: string;
      readonly frame: number;
      readonly after?: VerifierState;
      readonly source?: SourceMarker;
    }
  /** A full state at entry to an instruction (`6: R0=... R10=fp0`). */
  | { readonly kind: 'state'; readonly at: number; readonly idx: number; readonly state: VerifierState }
  /** A branch walked later (`from X to Y: state`, or level 1's `goto pc+4 15: state`). */
  | {
      readonly kind: 'branch';
      readonly at: number;
      readonly from: number;
      readonly to: number;
      readonly state?: VerifierState;
      readonly safe: boolean;
      readonly inline: boolean;
    }
  /** Pruned: an equivalent state at this instruction was already proven safe. */
  | { readonly kind: 'safe'; readonly at: number; readonly idx: number }
  | { readonly kind: 'source'; readonly at: number; readonly marker: SourceMarker }
  /** Anything else the verifier said (notes, the error). */
  | { readonly kind: 'message'; readonly at: number; readonly text: string };

export interface VerifierStats {
  /** Instructions processed (what `BPF program is too large` counts), and the limit. */
  readonly processed: number;
  readonly limit?: number;
  readonly maxStatesPerInsn?: number;
  readonly totalStates?: number;
  readonly peakStates?: number;
  readonly markRead?: number;
}

export interface VerifierLog {
  readonly entries: readonly LogEntry[];
  /** `func#N @insn` lines (level 2): where each subprogram starts. */
  readonly funcs: readonly { readonly index: number; readonly insn: number }[];
  /** The lines that say why it was rejected (empty when it was not). */
  readonly errors: readonly string[];
  readonly stats?: VerifierStats;
  /** `verification time N usec` (BPF_LOG_STATS). */
  readonly verificationTimeUsec?: number;
  /** `stack depth 8+16`: per subprogram (BPF_LOG_STATS). */
  readonly stackDepth?: readonly number[];
  /** 2 when the log shows every path (level 2), else 1. */
  readonly level: 1 | 2;
  /** The log does not end with its statistics line: cut short (buffer full) or not from a finished load. */
  readonly truncated: boolean;
}

/** Lines that carry no meaning for the model: liveness and precision tracking. */
const NOISE = [
  /^mark_precise: /,
  /^\(\d+(,\d+)*\) frame \d+ insn \d+/,
  /^Live regs before insn:$/,
  /^\s+\d+: [.0-9]{8,} \(/,
  /^-- END PROG LOAD LOG --/,
  /^parent (didn't|already) /,
  /^last_idx \d+ first_idx /,
  /^regs=\S* stack=\S* before \d+: /,
  /^propagating /,
];
/** Lines that frame a call or return in a level-2 log; the state line after them is the frame's. */
const CALL_CONTEXT = /^(caller:|callee:|returning from callee:|to caller at \d+:)$/;
/** Follow-ups of an error that are context, not the reason (`infinite loop detected` prints both states). */
export const ERROR_CONTEXT =
  /^(Validating \S+ func#\d+\.\.\.$|cur state:|old state:|verification time|stack depth|processed \d+ insns|func#\d+ @|Func#\d+ \(.*\) is (global|safe))/;

function parseSource(body: string): SourceMarker {
  const m = /^(.*) @ ([^\s@]+):(\d+)$/.exec(body);
  return m ? { text: m[1].trim(), file: m[2], line: Number(m[3]) } : { text: body.trim() };
}

type InsnEntryT = Extract<LogEntry, { kind: 'insn' }>;

/** An instruction entry whose state (after `; `) is parsed on first use. */
class LazyInsn {
  readonly kind = 'insn' as const;
  private parsed?: VerifierState;
  constructor(
    readonly at: number,
    readonly idx: number,
    readonly opcode: number,
    readonly text: string,
    readonly frame: number,
    private readonly stateText: string | undefined,
    readonly source: SourceMarker | undefined,
  ) {}

  get after(): VerifierState | undefined {
    if (this.stateText && !this.parsed) this.parsed = parseState(this.stateText);
    return this.parsed;
  }

  toJSON(): object {
    return {
      kind: this.kind,
      at: this.at,
      idx: this.idx,
      opcode: this.opcode,
      text: this.text,
      frame: this.frame,
      after: this.after,
      source: this.source,
    };
  }
}

function insnEntry(
  at: number,
  idx: number,
  opcode: number,
  text: string,
  frame: number,
  state: string | undefined,
  source: SourceMarker | undefined,
): InsnEntryT {
  return new LazyInsn(at, idx, opcode, text, frame, state, source);
}

interface Cursor {
  frame: number;
  source?: SourceMarker;
  level: 1 | 2;
  afterCallContext: boolean;
}

/** Splits `text ; state` and level 1's inline branch target (`goto pc+4 15: R0=...`). */
function insnParts(rest: string): { text: string; state?: string; branchTo?: number; branchState?: string } {
  let text = rest;
  let state: string | undefined;
  // instruction text never holds ';': the first one starts the state
  const semi = rest.indexOf(';');
  if (semi >= 0) {
    text = rest.slice(0, semi).trimEnd();
    state = rest.slice(semi + 1).trimStart();
  }
  const inl = text.includes('goto') ? /^(.*?goto [^ ]+) (\d+): (.*)$/.exec(text) : null;
  if (inl && (looksLikeState(inl[3]) || inl[3] === 'safe')) return { text: inl[1], state, branchTo: Number(inl[2]), branchState: inl[3] };
  return { text: text.trimEnd(), state };
}

function parseLine(
  raw: string,
  at: number,
  c: Cursor,
  out: LogEntry[],
  model: { funcs: { index: number; insn: number }[]; stats?: VerifierStats; time?: number; depth?: number[] },
): void {
  const line = raw.trimEnd();
  if (!line.trim()) return;
  let m = /^(\d+): \(([0-9a-f]{2})\) (.*)$/.exec(line);
  if (!m && NOISE.some((re) => re.test(line))) {
    if (/^Live regs|^mark_precise/.test(line)) c.level = 2;
    return;
  }
  if (m) {
    const p = insnParts(m[3]);
    const st = p.state?.trim();
    // the frame is read cheaply here; the state itself is parsed when someone asks (logs reach 1M lines)
    if (st) c.frame = /^frame(\d+): /.test(st) ? Number(/^frame(\d+): /.exec(st)![1]) : /^R\d/.test(st) ? 0 : c.frame;
    const idx = Number(m[1]);
    out.push(insnEntry(at, idx, parseInt(m[2], 16), p.text, c.frame, st, c.source));
    if (p.branchTo !== undefined) {
      const safe = p.branchState === 'safe';
      const st = safe ? undefined : parseState(p.branchState!);
      if (st) c.frame = st.frame;
      out.push({ kind: 'branch', at, from: idx, to: p.branchTo, safe, inline: true, ...(st ? { state: st } : {}) });
    }
    return;
  }
  m = /^from (\d+) to (\d+)(?: \(speculative execution\))?: ?(.*)$/.exec(line);
  if (m) {
    c.level = 2;
    const safe = m[3].trim() === 'safe';
    const st = !safe && m[3].trim() ? parseState(m[3]) : undefined;
    if (st) c.frame = st.frame;
    out.push({ kind: 'branch', at, from: Number(m[1]), to: Number(m[2]), safe, inline: false, ...(st ? { state: st } : {}) });
    return;
  }
  m = /^(\d+): (.*)$/.exec(line);
  if (m && (looksLikeState(m[2]) || m[2].trim() === 'safe')) {
    if (m[2].trim() === 'safe') out.push({ kind: 'safe', at, idx: Number(m[1]) });
    else {
      const state = parseState(m[2]);
      c.frame = state.frame;
      out.push({ kind: 'state', at, idx: Number(m[1]), state });
    }
    return;
  }
  if (line.startsWith(';')) {
    c.source = parseSource(line.slice(1).replace(/^ /, ''));
    out.push({ kind: 'source', at, marker: c.source });
    return;
  }
  if (CALL_CONTEXT.test(line)) {
    c.level = 2;
    c.afterCallContext = true;
    return;
  }
  if (c.afterCallContext && looksLikeState(line)) {
    c.afterCallContext = false;
    return;
  }
  c.afterCallContext = false;
  if ((m = /^func#(\d+) @(\d+)$/.exec(line))) {
    model.funcs.push({ index: Number(m[1]), insn: Number(m[2]) });
    return;
  }
  m =
    /^processed (\d+) insns(?: \(limit (\d+)\))?(?: max_states_per_insn (\d+))?(?: total_states (\d+))?(?: peak_states (\d+))?(?: mark_read (\d+))?/.exec(
      line,
    );
  if (m) {
    const n = (i: number) => (m![i] !== undefined ? { v: Number(m![i]) } : undefined);
    model.stats = {
      processed: Number(m[1]),
      limit: n(2)?.v,
      maxStatesPerInsn: n(3)?.v,
      totalStates: n(4)?.v,
      peakStates: n(5)?.v,
      markRead: n(6)?.v,
    };
    return;
  }
  if ((m = /^verification time (\d+) usec$/.exec(line))) {
    model.time = Number(m[1]);
    return;
  }
  if ((m = /^stack depth ([\d+]+)$/.exec(line))) {
    model.depth = m[1].split('+').filter(Boolean).map(Number);
    return;
  }
  out.push({ kind: 'message', at, text: line.trim() });
}

/** The messages after the last instruction or state: the verifier's reason, most specific first as printed. */
function errorsOf(entries: readonly LogEntry[]): string[] {
  let i = entries.length;
  while (i > 0 && entries[i - 1].kind === 'message') i--;
  return entries
    .slice(i)
    .map((e) => (e as { text: string }).text)
    .filter((t) => !ERROR_CONTEXT.test(t));
}

/** Parses a verifier log; never throws. */
export function parseVerifierLog(text: string): VerifierLog {
  const entries: LogEntry[] = [];
  const model: { funcs: { index: number; insn: number }[]; stats?: VerifierStats; time?: number; depth?: number[] } = { funcs: [] };
  const c: Cursor = { frame: 0, level: 1, afterCallContext: false };
  const lines = String(text ?? '')
    .replace(/\0+$/, '')
    .split('\n');
  for (let i = 0; i < lines.length; i++) {
    // a line of a megabyte is not a verifier line; keep the model bounded
    const raw = lines[i].length > 65536 ? lines[i].slice(0, 65536) : lines[i];
    parseLine(raw, i, c, entries, model);
  }
  if (model.funcs.length) c.level = 2;
  return {
    entries,
    funcs: model.funcs,
    errors: errorsOf(entries),
    ...(model.stats ? { stats: model.stats } : {}),
    ...(model.time !== undefined ? { verificationTimeUsec: model.time } : {}),
    ...(model.depth ? { stackDepth: model.depth } : {}),
    level: c.level,
    truncated: !model.stats,
  };
}

/** The instructions walked, in log order. */
export function insnEntries(log: VerifierLog): Extract<LogEntry, { kind: 'insn' }>[] {
  return log.entries.filter((e): e is Extract<LogEntry, { kind: 'insn' }> => e.kind === 'insn');
}
