/**
 * The path the verifier walked to its rejection, and data flow back along it: which
 * instruction gave a register (or a stack slot) the value the verifier complained about.
 * A level-1 log holds exactly that path (the kernel drops the log of paths that ended
 * well); a level-2 log holds every path, and each `from X to Y` continues the latest
 * earlier walk of X that has not been continued yet (the verifier's stack is LIFO).
 */
import { type LogEntry, type VerifierLog } from './log';

export type InsnEntry = Extract<LogEntry, { kind: 'insn' }>;

/** The instructions on the path to the last instruction of the log, oldest first. */
export function errorPath(log: VerifierLog): InsnEntry[] {
  const walked: InsnEntry[] = [];
  const pred: number[] = [];
  // per instruction index, the walks not yet continued by a `from X to Y` (LIFO)
  const open = new Map<number, number[]>();
  let prev = -1;
  for (const e of log.entries) {
    if (e.kind === 'branch' && !e.inline) {
      prev = open.get(e.from)?.pop() ?? -1;
      continue;
    }
    if (e.kind !== 'insn') continue;
    pred.push(prev);
    prev = walked.length;
    walked.push(e);
    let list = open.get(e.idx);
    if (!list) open.set(e.idx, (list = []));
    list.push(prev);
  }
  const path: InsnEntry[] = [];
  // pred always points backwards, so this ends
  for (let i = walked.length - 1; i >= 0; i = pred[i]) path.push(walked[i]);
  return path.reverse();
}

/** An instruction's effect, as far as data flow needs it. */
export type InsnEffect =
  | { kind: 'mov'; dst: number; src: number }
  | { kind: 'alu'; dst: number; op: string; src?: number }
  | { kind: 'const'; dst: number; value: string }
  | { kind: 'load'; dst: number; base: number; off: number }
  | { kind: 'store'; base: number; off: number; src?: number; size: number }
  | { kind: 'call'; name: string }
  | { kind: 'subcall'; target: number }
  | { kind: 'jump'; cond: boolean; off: number; regs: number[] }
  | { kind: 'exit' }
  | { kind: 'other' };

const SIZES: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8, s8: 1, s16: 2, s32: 4, s64: 8 };

/** Reads the kernel's disassembly of one instruction (`r1 = *(u32 *)(r1 +12)`, `call bpf_map_lookup_elem#1`, …). */
export function insnEffect(text: string, idx: number): InsnEffect {
  let m = /^[rw](\d+) = \*\((u8|u16|u32|u64|s8|s16|s32) \*\)\(r(\d+) ([+-]\d+)\)$/.exec(text);
  if (m) return { kind: 'load', dst: Number(m[1]), base: Number(m[3]), off: Number(m[4]) };
  m = /^\*\((u8|u16|u32|u64) \*\)\(r(\d+) ([+-]\d+)\) = (?:[rw](\d+)|(-?\w+))$/.exec(text);
  if (m)
    return {
      kind: 'store',
      base: Number(m[2]),
      off: Number(m[3]),
      size: SIZES[m[1]],
      ...(m[4] !== undefined ? { src: Number(m[4]) } : {}),
    };
  m = /^[rw](\d+) = (?:\(s\d+\))?[rw](\d+)$/.exec(text);
  if (m) return { kind: 'mov', dst: Number(m[1]), src: Number(m[2]) };
  m = /^[rw](\d+) = (?:-[rw]\d+|(?:be|le|bswap)\d+ [rw]\d+)$/.exec(text);
  if (m) return { kind: 'alu', dst: Number(m[1]), op: 'unary' };
  m = /^[rw](\d+) = (-?(?:0x[0-9a-f]+|\d+)|map\[.*\]|.*)$/.exec(text);
  if (m && !text.includes('*(')) return { kind: 'const', dst: Number(m[1]), value: m[2] };
  m = /^[rw](\d+) (s?[-+*/%&|^]|<<|s?>>|s[/%])= (?:[rw](\d+)|\S+)$/.exec(text);
  if (m) return { kind: 'alu', dst: Number(m[1]), op: m[2], ...(m[3] !== undefined ? { src: Number(m[3]) } : {}) };
  m = /^call pc([+-]\d+)$/.exec(text);
  if (m) return { kind: 'subcall', target: idx + Number(m[1]) + 1 };
  m = /^call (.+?)(?:#-?\d+)?$/.exec(text);
  if (m) return { kind: 'call', name: m[1] };
  m = /^if ([rw]\d+) \S+ ([rw]\d+|\S+) goto pc([+-]\d+)$/.exec(text);
  if (m)
    return {
      kind: 'jump',
      cond: true,
      off: Number(m[3]),
      regs: [m[1], m[2]].filter((r) => /^[rw]\d+$/.test(r)).map((r) => Number(r.slice(1))),
    };
  m = /^(?:goto|gotol|may_goto) pc([+-]\d+)$/.exec(text);
  if (m) return { kind: 'jump', cond: text.startsWith('may_goto'), off: Number(m[1]), regs: [] };
  if (text === 'exit') return { kind: 'exit' };
  return { kind: 'other' };
}

/** One step of the data flow back from the rejection. */
export interface FlowStep {
  readonly entry: InsnEntry;
  readonly why: string;
  /** origin: where the value came from; flow: a copy or arithmetic on the way. */
  readonly role: 'origin' | 'flow';
}

type Track = { reg: number; frame: number } | { stack: number; frame: number };

function regState(e: InsnEntry, reg: number): string {
  const v = e.after?.regs[`R${reg}`];
  return v ? ` (${v.text})` : '';
}

/**
 * Walks back from path[at] for register `reg`: copies, spills and fills are followed;
 * with `offset` set, pointer arithmetic `rN += rM` follows rM (the variable offset).
 * Returns the steps, origin last.
 */
export function traceBack(path: readonly InsnEntry[], at: number, reg: number, offset = false): FlowStep[] {
  const steps: FlowStep[] = [];
  let t: Track = { reg, frame: path[at]?.frame ?? 0 };
  for (let i = at - 1; i >= 0 && steps.length < 32; i--) {
    const e = path[i];
    const fx = insnEffect(e.text, e.idx);
    if (e.frame !== t.frame) {
      // leaving a callee upwards: its r1-r5 were the caller's arguments
      if (fx.kind === 'subcall' && e.frame === t.frame - 1 && 'reg' in t && t.reg >= 1 && t.reg <= 5) {
        steps.push({ entry: e, why: `R${t.reg} is an argument passed by this call`, role: 'flow' });
        t = { reg: t.reg, frame: e.frame };
      }
      continue;
    }
    if ('stack' in t) {
      if (fx.kind === 'store' && fx.base === 10 && t.stack >= fx.off && t.stack < fx.off + fx.size) {
        if (fx.src === undefined)
          return [...steps, { entry: e, why: `the stack slot fp${t.stack} is set to a constant here`, role: 'origin' }];
        steps.push({ entry: e, why: `R${fx.src} is spilled to the stack at fp${fx.off}`, role: 'flow' });
        t = { reg: fx.src, frame: t.frame };
      }
      continue;
    }
    const r: number = t.reg;
    if (fx.kind === 'call' && r === 0)
      return [...steps, { entry: e, why: `R0 is the result of ${fx.name}()${regState(e, 0)}`, role: 'origin' }];
    if (fx.kind === 'call' && r >= 1 && r <= 5)
      return [...steps, { entry: e, why: `R${r} is scratched by this call to ${fx.name}() (calls clobber R0-R5)`, role: 'origin' }];
    if (fx.kind === 'subcall' && r === 0)
      return [...steps, { entry: e, why: `R0 is the result of the function at instruction ${fx.target}`, role: 'origin' }];
    if (!('dst' in fx) || fx.dst !== r) continue;
    if (fx.kind === 'mov') {
      steps.push({ entry: e, why: `R${r} is copied from R${fx.src}`, role: 'flow' });
      t = { reg: fx.src, frame: t.frame };
    } else if (fx.kind === 'load' && fx.base === 10) {
      steps.push({ entry: e, why: `R${r} is filled from the stack at fp${fx.off}`, role: 'flow' });
      t = { stack: fx.off, frame: t.frame };
    } else if (fx.kind === 'load') {
      return [
        ...steps,
        { entry: e, why: `R${r} is loaded from memory at R${fx.base}${fx.off >= 0 ? '+' : ''}${fx.off}${regState(e, r)}`, role: 'origin' },
      ];
    } else if (fx.kind === 'const') {
      return [...steps, { entry: e, why: `R${r} is set to ${fx.value}${regState(e, r)}`, role: 'origin' }];
    } else if (fx.kind === 'alu' && offset && fx.src !== undefined && fx.src !== r && (fx.op === '+' || fx.op === '-')) {
      steps.push({ entry: e, why: `R${r} is moved by R${fx.src}, a variable offset${regState(e, fx.src)}`, role: 'flow' });
      t = { reg: fx.src, frame: t.frame };
      offset = false;
    }
  }
  return steps;
}

/** Where the path last wrote any byte of the stack range [off, off+size) in the failing frame. */
export function lastStackWrite(path: readonly InsnEntry[], at: number, off: number, size: number): InsnEntry | undefined {
  const frame = path[at]?.frame ?? 0;
  for (let i = at - 1; i >= 0; i--) {
    const fx = insnEffect(path[i].text, path[i].idx);
    if (path[i].frame === frame && fx.kind === 'store' && fx.base === 10 && fx.off < off + size && fx.off + fx.size > off) return path[i];
  }
  return undefined;
}
